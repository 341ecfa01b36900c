"""Fitting the unsupervised risk model's weights (``RiskSettings.weights``) on labelled
clusters, for ``benchmarks/fit_weights.py`` and for a trust team that wants weights
from its own labelled export.

The model is :func:`linker.scoring.model.score`: a logistic in the features as
:func:`~linker.scoring.model.design` reads them. Each cluster is a binomial
observation (its sybil and benign members), so the fitted risk of a cluster is the
share of its members that are sybil, and the flag line 0.5 is "mostly sybil". Each
weight keeps the sign of the hand-set one (a feature that says "benign" cannot turn
into evidence of a campaign because features correlate), weights without a sign are
held, and ``prior`` pulls the weights toward the hand-set ones (an L2 penalty per
weight; 0 is the plain constrained maximum likelihood).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from linker.scoring.model import design
from linker.settings import RiskSettings

#: weights the cluster table cannot inform: an account's own instrument excess is
#: scored outside clusters
HELD = ("instrument_excess",)


def fit_weights(
    rows: pd.DataFrame,
    sybil: np.ndarray,
    members: np.ndarray,
    hand: dict[str, float],
    prior: float,
) -> dict[str, float]:
    """Weights (with ``bias``) maximising the binomial likelihood of ``sybil`` of
    ``members`` per row of ``rows`` (the design values, one column per weight of
    ``hand``), each of the hand-set weight's sign, penalised by ``prior`` times the
    squared distance to ``hand``."""
    names = [n for n in hand if n != "bias"]
    x = rows.reindex(columns=names, fill_value=0.0).to_numpy(float)
    k = np.asarray(sybil, dtype=float)
    n = np.asarray(members, dtype=float)
    total = n.sum()
    start = np.array([hand["bias"], *(hand[name] for name in names)])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + x @ theta[1:]
        nll = (k * np.logaddexp(0, -z) + (n - k) * np.logaddexp(0, z)).sum() / total
        residual = n * expit(z) - k
        moved = theta[1:] - start[1:]
        grad = np.r_[residual.sum() / total, x.T @ residual / total + 2 * prior * moved]
        return float(nll + prior * (moved**2).sum()), grad

    bounds: list[tuple[float | None, float | None]] = [(None, None)]
    for name in names:
        w = hand[name]
        if name in HELD or w == 0:
            bounds.append((w, w))
        else:
            bounds.append((0.0, None) if w > 0 else (None, 0.0))
    found = minimize(loss, start, jac=True, bounds=bounds, method="L-BFGS-B")
    return {
        "bias": float(found.x[0]),
        **{n: float(v) for n, v in zip(names, found.x[1:], strict=True)},
    }


def cluster_rows(
    clusters: pd.DataFrame, accounts: pd.DataFrame, labels: pd.DataFrame, settings: RiskSettings
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The fitting data of one run: per cluster with labelled members, its design values
    (:func:`~linker.scoring.model.design`), its sybil members and its labelled members.
    ``labels``: ``account_id`` and ``label`` (``sybil`` or ``benign``)."""
    joined = accounts[["account_id", "cluster_id"]].merge(
        labels[["account_id", "label"]], on="account_id"
    )
    joined = joined[joined["cluster_id"].notna()]
    counts = joined.groupby("cluster_id")["label"].agg(
        sybil=lambda s: int((s == "sybil").sum()), members="size"
    )
    table = clusters.set_index("cluster_id").join(counts, how="inner")
    values = design(table, settings)
    rows = pd.DataFrame(values, index=table.index)
    return rows, table["sybil"].to_numpy(float), table["members"].to_numpy(float)
