"""Community detection on the account projection, with stable cluster ids."""

from __future__ import annotations

import hashlib
import random

import igraph as ig
import numpy as np
import pandas as pd

from linker.errors import LinkerError
from linker.settings import CommunitySettings

METHODS = ("leiden", "louvain", "components")


def to_igraph(n_accounts: int, edges: pd.DataFrame) -> ig.Graph:
    """An undirected weighted igraph over all accounts (isolated ones included)."""
    graph = ig.Graph(
        n=n_accounts, edges=np.column_stack([edges["a"], edges["b"]]).tolist(), directed=False
    )
    graph.es["weight"] = edges["weight"].to_numpy(float).tolist()
    return graph


def detect(n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings) -> np.ndarray:
    """Community label per account (-1 for accounts in no cluster).

    Leiden (modularity, seeded, iterated to convergence) by default; Louvain or
    connected components on request. Communities smaller than ``min_cluster_size``
    are not clusters. Raises LinkerError on an unknown method.
    """
    if settings.method not in METHODS:
        raise LinkerError(f"unknown community method {settings.method!r}; use one of {METHODS}")
    graph = to_igraph(n_accounts, edges)
    if settings.method == "components":
        membership = np.asarray(graph.connected_components().membership)
    elif settings.method == "louvain":
        ig.set_random_number_generator(random.Random(settings.seed))
        membership = np.asarray(
            graph.community_multilevel(weights="weight", resolution=settings.resolution).membership
        )
    else:
        ig.set_random_number_generator(random.Random(settings.seed))
        membership = np.asarray(
            graph.community_leiden(
                objective_function="modularity",
                weights="weight",
                resolution=settings.resolution,
                n_iterations=-1,
            ).membership
        )
    ig.set_random_number_generator(random)
    sizes = np.bincount(membership)
    membership = np.where(sizes[membership] >= settings.min_cluster_size, membership, -1)
    return membership


def leiden_labels(n_accounts: int, edges: pd.DataFrame, seed: int) -> np.ndarray:
    """Plain Leiden labels (modularity, resolution 1) for internal use by the linkage's
    first pass; -1 for accounts in communities of one."""
    return detect(n_accounts, edges, CommunitySettings(seed=seed))


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
    if previous is not None and not previous.empty:
        prev = previous.dropna(subset=["cluster_id"])
        joined = frame.merge(prev, on="account_id", how="inner")
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
