"""Learning from verdicts: labels from every source (``labels``), proximity to
confirmed accounts (``propagate``), a calibrated supervised risk (``model``) and cluster
verdicts that hold over runs (``sticky``). :func:`learn` runs them on a scored run.

With no label the run's tables are left exactly as the unsupervised path made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from linker.evidence.projection import Projection
from linker.learn import model as supervised
from linker.learn.propagate import build_walk, out_of_fold, seed_paths
from linker.learn.sticky import account_labels, apply_verdicts, cluster_verdicts
from linker.settings.learn import LearnSettings


@dataclass
class Learned:
    """What learning did to a run."""

    #: run.json's ``learning`` section
    report: dict[str, Any] = field(default_factory=dict)
    #: run.json's ``verdict_baselines`` (carried to the next run)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: how many verdicts named an account or a cluster of this run
    n_applied: int = 0
    model: supervised.FittedModel | None = None


def account_features(
    accounts: pd.DataFrame,
    clusters: pd.DataFrame,
    labels: pd.Series,
    proximity: tuple[np.ndarray, np.ndarray],
    settings: LearnSettings,
) -> pd.DataFrame:
    """The model's features per account (``supervised.FEATURES``). A labelled
    account's cluster label share leaves its own label out."""
    by_id = clusters.set_index("cluster_id")
    cid = accounts["cluster_id"]
    in_cluster = cid.notna().to_numpy()
    sybil = (labels == "sybil").to_numpy(float)
    known = labels.notna().to_numpy(float)
    rate = sybil.sum() / max(known.sum(), 1.0)
    key = cid.fillna("").to_numpy()
    n_sybil = pd.Series(sybil).groupby(key).transform("sum").to_numpy()
    n_known = pd.Series(known).groupby(key).transform("sum").to_numpy()
    prior = settings.cluster_share_prior
    share = (n_sybil - sybil + prior * rate) / (n_known - known + prior)
    return pd.DataFrame(
        {
            "unsupervised_risk": accounts["risk"].to_numpy(float),
            "cluster_risk": np.where(in_cluster, cid.map(by_id["risk"]).to_numpy(float), 0.0),
            "cluster_size": np.log1p(
                np.where(in_cluster, cid.map(by_id["size"]).fillna(0).to_numpy(float), 0.0)
            ),
            "attached": accounts["attached"].to_numpy(float),
            "proximity_sybil": proximity[0],
            "proximity_benign": proximity[1],
            "cluster_sybil_share": np.where(in_cluster, share, rate),
        },
        index=accounts.index,
    )


def _flags(
    risk: np.ndarray, before: pd.Series, threshold: float, settings: LearnSettings
) -> np.ndarray:
    """Flagged at the model's ``threshold``, or flagged ``before`` (the unsupervised
    flag) with a calibrated risk still at least ``settings.keep_flag_risk``."""
    kept = before.to_numpy(bool) & (risk >= settings.keep_flag_risk)
    out: np.ndarray = (risk >= threshold) | kept
    return out


def _learn_scores(
    projection: Projection,
    accounts: pd.DataFrame,
    clusters: pd.DataFrame,
    labels: pd.Series,
    settings: LearnSettings,
    out: Learned,
) -> None:
    """Proximity, the fitted model and the calibrated risk, into the tables in place."""
    sybil = (labels == "sybil").to_numpy()
    benign = (labels == "benign").to_numpy()
    walk = build_walk(projection, settings)
    folds = np.random.default_rng(settings.seed).integers(0, settings.folds, len(accounts))
    proximity = (
        out_of_fold(walk, sybil, folds, settings),
        out_of_fold(walk, benign, folds, settings),
    )
    paths = seed_paths(projection, walk, sybil)
    feats = account_features(accounts, clusters, labels, proximity, settings)
    accounts["unsupervised_risk"] = accounts["risk"]
    accounts["proximity_sybil"] = proximity[0].round(4)
    accounts["proximity_benign"] = proximity[1].round(4)
    accounts["proximity_path"] = paths
    clusters["unsupervised_risk"] = clusters["risk"]
    out.report.update(
        n_sybil_labels=int(sybil.sum()),
        n_benign_labels=int(benign.sum()),
        n_near_sybil=int((proximity[0] >= 0.5).sum()),
    )
    if min(sybil.sum(), benign.sum()) < settings.min_labels_per_class:
        out.report["model"] = None
        out.report["fallback"] = (
            f"fewer than {settings.min_labels_per_class} labelled accounts in a class: "
            "the unsupervised risk stands"
        )
        accounts["learned_reasons"] = ""
        return
    known = sybil | benign
    fitted = supervised.fit(feats[known], sybil[known].astype(int), settings)
    risk = fitted.predict(feats)
    why = np.full(len(accounts), "", dtype=object)
    worth = risk >= 0.05
    why[worth] = supervised.reasons(
        fitted,
        feats[worth],
        [paths[i] for i in np.flatnonzero(worth)],
        settings.reasons_per_account,
    )
    accounts["risk"] = risk.round(6)  # the tie-break sits in the 4th decimal
    if fitted.flag_threshold is not None:
        accounts["flagged"] = _flags(risk, accounts["flagged"], fitted.flag_threshold, settings)
    # else no calibrated risk reached flag_precision out of fold: the unsupervised flags
    # stand (run.json: learning.model.flag_threshold null)
    accounts["learned_reasons"] = why
    mean = pd.Series(risk, index=accounts.index).groupby(accounts["cluster_id"]).mean()
    clusters["risk"] = clusters["cluster_id"].map(mean).fillna(0.0).to_numpy().round(4)
    if fitted.flag_threshold is not None:
        clusters["flagged"] = _flags(
            clusters["risk"].to_numpy(float), clusters["flagged"], fitted.flag_threshold, settings
        )
    clusters["reasons"] = [
        [f"calibrated on {fitted.validation['n_labels']} labels: members' mean risk {r:.2f}", *rs]
        for r, rs in zip(clusters["risk"], clusters["reasons"], strict=True)
    ]
    out.model = fitted
    out.report["model"] = fitted.summary()


def learn(
    projection: Projection,
    accounts: pd.DataFrame,
    clusters: pd.DataFrame,
    verdicts: pd.DataFrame,
    previous: dict[str, dict[str, Any]],
    settings: LearnSettings,
) -> Learned:
    """Learn from ``verdicts`` (:func:`linker.learn.labels.gather_labels`) on a scored
    run, changing ``accounts`` and ``clusters`` in place; ``previous``: the last run's
    verdict baselines. No verdict: nothing changes."""
    out = Learned()
    if verdicts.empty:
        return out
    state, out.baselines = cluster_verdicts(verdicts, accounts, previous, settings)
    labels, origin = account_labels(verdicts, accounts, state)
    out.report = {"n_labelled_accounts": int(labels.notna().sum())}
    if labels.notna().any():
        _learn_scores(projection, accounts, clusters, labels, settings, out)
    out.n_applied = apply_verdicts(accounts, clusters, verdicts, state)
    influence = accounts["label_influence"].to_numpy(object).copy()
    if "proximity_path" in accounts:
        near = (accounts["proximity_sybil"].to_numpy() >= 0.5) & (influence == "")
        influence[near] = accounts["proximity_path"].to_numpy(object)[near]
    own = origin.notna().to_numpy()
    influence[own] = [
        f"{o}; {i}" if i else str(o) for o, i in zip(origin[own], influence[own], strict=True)
    ]
    accounts["label_influence"] = influence
    out.report["verdicts"] = (
        state.drop(columns="baseline")
        .assign(created_at=state["created_at"].astype(str))
        .to_dict("records")
    )
    return out
