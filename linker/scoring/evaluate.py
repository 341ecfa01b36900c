"""Scores of a run against known labels: precision and recall of ``flagged``,
per campaign tier and per benign confounder group when the labels carry them."""

from __future__ import annotations

from typing import Any

import pandas as pd


def evaluate(accounts: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Precision, recall and F1 of ``accounts.flagged`` against ``labels.label == 'sybil'``.

    Returns a dict with the overall figures and, when ``labels`` has ``tier`` /
    ``group`` columns, recall per tier and flagged share per benign group.
    """
    joined = accounts.merge(labels, on="account_id", how="inner")
    truth = joined["label"] == "sybil"
    flagged = joined["flagged"].astype(bool)
    tp = int((truth & flagged).sum())
    fp = int((~truth & flagged).sum())
    fn = int((truth & ~flagged).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out: dict[str, Any] = {
        "labelled_accounts": len(joined),
        "sybil": int(truth.sum()),
        "flagged": int(flagged.sum()),
        "true_positives": tp,
        "false_positives": fp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }
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
