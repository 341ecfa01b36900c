"""Stable cluster ids: a cluster keeps the id of the previous run's cluster whose members
it holds, or takes an id from its members' content."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def content_id(member_ids: list[str]) -> str:
    """A deterministic id for a cluster from its sorted member ids."""
    digest = hashlib.sha1("\n".join(sorted(member_ids)).encode()).hexdigest()
    return f"c_{digest[:12]}"


def assign_cluster_ids(
    account_ids: pd.Index,
    labels: np.ndarray,
    previous: pd.DataFrame | None = None,
    overlap: float = 0.5,
) -> pd.Series:
    """Stable cluster ids for community labels.

    A new cluster takes the id of the previous run's cluster that shares the most
    members with it, when those shared members are more than ``overlap`` of both the
    old and the new cluster (so each old id passes to at most one new cluster);
    otherwise its id is a hash of its members, the same on the same input.
    ``previous`` is a frame (account_id, cluster_id) of the last run.
    Returns a Series of cluster ids (None for accounts in no cluster), indexed like
    ``account_ids``.
    """
    frame = pd.DataFrame({"account_id": np.asarray(account_ids), "label": labels})
    frame = frame[frame["label"] >= 0]
    ids: dict[int, str] = {}
    prev = previous.dropna(subset=["cluster_id"]) if previous is not None else None
    joined = frame.merge(prev, on="account_id", how="inner") if prev is not None else None
    # a previous run that shares no account (another export in the same folder) passes
    # no id on
    if prev is not None and joined is not None and not joined.empty:
        shared = joined.groupby(["label", "cluster_id"]).size().rename("shared").reset_index()
        shared["new_size"] = shared["label"].map(frame["label"].value_counts())
        shared["old_size"] = shared["cluster_id"].map(prev["cluster_id"].value_counts())
        ok = (shared["shared"] > overlap * shared["new_size"]) & (
            shared["shared"] > overlap * shared["old_size"]
        )
        for row in shared[ok].itertuples(index=False):
            ids[int(row.label)] = str(row.cluster_id)  # type: ignore[arg-type]
    for label, members in frame.groupby("label")["account_id"]:
        ids.setdefault(int(label), content_id(members.tolist()))  # type: ignore[arg-type]
    lookup = np.full(int(labels.max(initial=-1)) + 2, None, dtype=object)
    for label, cluster_id in ids.items():
        lookup[label] = cluster_id
    # label -1 reads lookup[-1], which no cluster uses: None
    return pd.Series(lookup[labels], dtype=object)
