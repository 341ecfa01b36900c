"""Pictures of a run: the cluster risk distribution and cluster size vs risk."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from graph_store.base import RunTables


def plot_run(run: RunTables, labels: pd.DataFrame | None, path: Path) -> Path:
    """Save a two-panel PNG: risk histogram of clusters (by majority label when
    labels exist) and cluster size against risk. Returns the path."""
    clusters = run.clusters
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    colour = None
    if labels is not None:
        acc = run.accounts.dropna(subset=["cluster_id"]).merge(labels, on="account_id")
        sybil_share = (acc["label"] == "sybil").groupby(acc["cluster_id"]).mean()
        colour = clusters["cluster_id"].map(sybil_share).fillna(0).to_numpy()
        is_sybil = colour >= 0.5
        left.hist(
            [clusters["risk"][~is_sybil], clusters["risk"][is_sybil]],
            bins=25,
            stacked=True,
            label=["mostly benign", "mostly sybil"],
            color=["tab:blue", "tab:red"],
        )
        left.legend()
    else:
        left.hist(clusters["risk"], bins=25, color="tab:blue")
    threshold = run.meta.get("settings", {}).get("risk", {}).get("threshold", 0.5)
    for ax in (left, right):
        ax.axvline(threshold, color="k", ls="--", lw=1)
    left.set_xlabel("cluster risk")
    left.set_ylabel("clusters")
    left.set_yscale("log")
    left.set_title("Cluster risk distribution")
    right.scatter(clusters["risk"], clusters["size"], c=colour, cmap="coolwarm", s=12, alpha=0.7)
    right.set_yscale("log")
    right.set_xlabel("cluster risk")
    right.set_ylabel("cluster size (accounts)")
    right.set_title("Size vs risk (red = planted campaign)")
    fig.suptitle(f"run {run.run_id}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
