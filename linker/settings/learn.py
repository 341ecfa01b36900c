"""Settings of the learning stage (``linker/learn``): which label sources it reads,
how verdicts spread from confirmed accounts, how the supervised model is fitted and
how long an analyst's verdict on a cluster holds. Documented in docs/learning.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from linker.errors import LinkerError


@dataclass(frozen=True)
class LearnSettings:
    """Parameters of learning from labels (analyst verdicts, ``--labels FILE`` and,
    when ``input_labels``, the input's labels table)."""

    #: learn from the input directory's ``labels`` table too. Off by default: the data
    #: contract keeps that table for evaluation (a generated world writes its whole
    #: ground truth there), so a trust team that drops its chargebacks and bans into it
    #: turns this on (``link --learn-from-input-labels``)
    input_labels: bool = False
    #: fewer labelled accounts than this in either class: no supervised model, the
    #: unsupervised risk stands (proximity is still computed and reported)
    min_labels_per_class: int = 20
    #: restart probability of the personalised PageRank from the seeds (the walk goes
    #: back to a seed this often, so proximity fades within a few hops)
    restart: float = 0.3
    #: power iterations of the propagation (SybilRank stops early, after O(log n)
    #: steps, so that trust does not reach the whole graph)
    iterations: int = 12
    #: identifiers shared by more accounts than this carry no proximity at all (a
    #: carrier address, a popular fingerprint); below it an identifier's share is split
    #: among its holders, so wide ones carry little
    max_identifier_degree: int = 200
    #: an account's weight in the degree normalisation counts as at least this quantile
    #: of all accounts' weights (weak links alone do not make an account close)
    weight_floor_quantile: float = 0.5
    #: out-of-fold seeds: a labelled account's proximity comes from the other folds'
    #: seeds (and its cluster's label share leaves its own label out), so the model
    #: trains on what it will see on unlabelled accounts
    folds: int = 5
    #: "boosting": gradient-boosted trees, monotone in each feature's direction
    #: (linker/learn/model.py DIRECTION); "logistic": L2 logistic regression; "auto":
    #: boosting when each class has ``boosting_min_labels`` labels, logistic below (trees
    #: need leaves of 20 labels; a few dozen labels make a constant)
    model: str = "auto"
    boosting_min_labels: int = 100
    #: the trees' L2 leaf regularisation and most boosting rounds (early stopping, with
    #: ``boosting_min_labels`` per class, ends sooner when 10 rounds bring nothing)
    boosting_l2: float = 1.0
    boosting_max_iter: int = 200
    #: the share of the model's own score in the risk, ordering accounts within a step of
    #: the isotonic calibration (no risk moves by more than this)
    tie_break: float = 0.001
    #: leaves per tree tried by cross-validation (boosting)
    leaf_grid: tuple[float, ...] = (7.0, 31.0)
    #: inverse regularisation strengths tried by cross-validation (logistic)
    c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    #: calibration: isotonic with at least this many labels, Platt (sigmoid) below
    isotonic_min_labels: int = 1000
    #: pseudo-labels at the labelled sybil share added to each isotonic step, so a step
    #: of a few labels (three sybil of four: 0.75) does not decide flags on its own
    #: (linker/learn/calibration.py); 0 keeps the plain isotonic steps
    calibration_prior: float = 2.0
    #: prior strength of a cluster's labelled sybil share (pseudo-labels at the
    #: population's labelled sybil rate), so one label does not decide a cluster
    cluster_share_prior: float = 2.0
    #: accounts are flagged at the lowest calibrated risk at which the out-of-fold flags
    #: of the labelled accounts are at least this precise (a trust team acts on flags:
    #: the unsupervised path's own flags are about this precise on generated worlds) ...
    flag_precision: float = 0.98
    #: ... and never below this calibrated risk: three to one that the account is sybil
    #: (at 0.5 an isotonic step where half the labelled accounts are sybil is flagged
    #: whole, and proxy customers share those steps with the hydra accounts that rent
    #: their addresses)
    threshold: float = 0.75
    #: an account the unsupervised path flagged stays flagged while its calibrated risk
    #: is at least this (labels take a flag back only when they make it unlikely)
    keep_flag_risk: float = 0.5
    #: a cluster verdict holds while the cluster's members and the members it had when
    #: the verdict was first applied overlap by at least this Jaccard index; below it
    #: the membership has changed substantially and the cluster is judged afresh
    sticky_jaccard: float = 0.5
    #: reasons per account from the features that moved its calibrated risk most
    reasons_per_account: int = 3
    #: random seed of the folds
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.restart < 1:
            raise LinkerError(f"learn restart must be in (0, 1), not {self.restart}")
        for name in ("threshold", "keep_flag_risk", "flag_precision"):
            if not 0 <= getattr(self, name) <= 1:
                raise LinkerError(f"learn {name} must be in [0, 1], not {getattr(self, name)}")
        if self.calibration_prior < 0:
            raise LinkerError(
                f"learn calibration_prior must be at least 0, not {self.calibration_prior}"
            )
        if self.folds < 2:
            raise LinkerError(f"learn folds must be at least 2, not {self.folds}")
        if not 0 <= self.sticky_jaccard <= 1:
            raise LinkerError(f"learn sticky_jaccard must be in [0, 1], not {self.sticky_jaccard}")
        if not self.c_grid or min(self.c_grid) <= 0:
            raise LinkerError("learn c_grid must hold positive numbers")
        if not self.leaf_grid or min(self.leaf_grid) < 2:
            raise LinkerError("learn leaf_grid must hold numbers of at least 2")
        if self.model not in ("auto", "boosting", "logistic"):
            raise LinkerError(f"learn model must be auto, boosting or logistic, not {self.model!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)
