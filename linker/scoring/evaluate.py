"""Scores of a run against known labels.

- ``flagged``: precision, recall and F1;
- ``risk`` as a ranking: average precision, ROC AUC, recall at fixed precision;
- clusters against the true campaigns: adjusted Rand index over the sybil accounts;
- recall per campaign tier and flagged share per benign group, when the labels carry
  ``tier`` / ``group`` columns.

Labels: ``account_id``, ``label`` (``sybil`` | ``benign``), optional ``campaign_id``,
``tier``, ``group``. Accounts without a label are left out of every figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, average_precision_score, roc_auc_score

#: precisions at which the recall of the ranking is reported
PRECISION_TARGETS = (0.95, 0.99)


def recall_at_precision(truth: np.ndarray, score: np.ndarray, precision: float) -> float:
    """The largest recall of ``score >= t`` over thresholds ``t`` whose precision is at
    least ``precision`` (0 when none is). Ties are cut together, as a threshold would."""
    if not truth.any():
        return 0.0
    order = np.argsort(-score, kind="stable")
    s, t = score[order], truth[order].astype(float)
    tp, n = np.cumsum(t), np.arange(1, len(t) + 1)
    # only the last position of a run of equal scores is a reachable threshold
    last = np.r_[s[1:] != s[:-1], True]
    prec, rec = tp[last] / n[last], tp[last] / t.sum()
    ok = prec >= precision
    return float(rec[ok].max()) if ok.any() else 0.0


def ranking_metrics(truth: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Average precision, ROC AUC and recall at :data:`PRECISION_TARGETS` of ``score``."""
    if truth.all() or not truth.any():
        return {"average_precision": float("nan"), "roc_auc": float("nan")}
    out = {
        "average_precision": round(float(average_precision_score(truth, score)), 4),
        "roc_auc": round(float(roc_auc_score(truth, score)), 4),
    }
    for p in PRECISION_TARGETS:
        out[f"recall_at_precision_{p}"] = round(recall_at_precision(truth, score, p), 4)
    return out


def flag_metrics(truth: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """Counts, precision, recall and F1 of a flag."""
    tp = int((truth & flagged).sum())
    fp = int((~truth & flagged).sum())
    fn = int((truth & ~flagged).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "labelled_accounts": len(truth),
        "sybil": int(truth.sum()),
        "flagged": int(flagged.sum()),
        "true_positives": tp,
        "false_positives": fp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def campaign_ari(joined: pd.DataFrame, truth: np.ndarray) -> float | None:
    """Adjusted Rand index of the run's clusters against the true campaigns, over the
    sybil accounts (an unclustered account is a cluster of its own); None without
    ``campaign_id``."""
    if "campaign_id" not in joined or not truth.any():
        return None
    sy = joined[truth]
    if sy["campaign_id"].isna().all():  # the optional column absent or empty
        return None
    alone = "solo:" + sy["account_id"].astype(str)
    found = sy["cluster_id"].astype(object).where(sy["cluster_id"].notna(), alone)
    # a sybil account without a campaign is a campaign of its own
    truth_ids = sy["campaign_id"].astype(object).where(sy["campaign_id"].notna(), alone)
    return round(
        float(adjusted_rand_score(truth_ids.astype(str).to_numpy(), found.astype(str).to_numpy())),
        4,
    )


def evaluate(accounts: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Every figure of the module docstring for ``accounts`` (account_id, flagged, and
    ``risk`` / ``cluster_id`` when present) against ``labels``. Returns a plain dict."""
    joined = accounts.merge(labels, on="account_id", how="inner")
    truth = (joined["label"] == "sybil").to_numpy()
    flagged = joined["flagged"].astype(bool).to_numpy()
    out: dict[str, Any] = flag_metrics(truth, flagged)
    if "risk" in joined:
        out.update(ranking_metrics(truth, joined["risk"].to_numpy(float)))
    if "cluster_id" in joined:
        ari = campaign_ari(joined, truth)
        if ari is not None:
            out["campaign_ari"] = ari
    if "tier" in joined.columns:
        sy = joined[truth]
        out["recall_by_tier"] = {
            str(k): {"accounts": len(v), "recall": round(float(v["flagged"].mean()), 4)}
            for k, v in sy.groupby("tier")
        }
    if "group" in joined.columns:
        be = joined[~truth]
        out["flagged_by_group"] = {
            str(k): {"accounts": len(v), "flagged_share": round(float(v["flagged"].mean()), 4)}
            for k, v in be.groupby("group")
        }
    return out
