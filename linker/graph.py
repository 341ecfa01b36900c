"""Community detection on the weighted account projection: Leiden (igraph), Louvain or
connected components.

It sits below the stages because two of them use it: the evidence stage's
corroboration pass (a first, plain Leiden partition) and the clustering stage."""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import pandas as pd

from linker.errors import LinkerError
from linker.settings import CommunitySettings

METHODS = ("leiden", "louvain", "components")


def detect(n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings) -> np.ndarray:
    """Community label per account (-1 for accounts in no cluster).

    Leiden (modularity, seeded, ``settings.iterations`` passes) by default; Louvain or
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
                n_iterations=settings.iterations,
            ).membership
        )
    ig.set_random_number_generator(random)
    sizes = np.bincount(membership)
    membership = np.where(sizes[membership] >= settings.min_cluster_size, membership, -1)
    return membership


def to_igraph(n_accounts: int, edges: pd.DataFrame) -> ig.Graph:
    """An undirected weighted igraph over all accounts (isolated ones included)."""
    graph = ig.Graph(
        n=n_accounts, edges=np.column_stack([edges["a"], edges["b"]]).tolist(), directed=False
    )
    graph.es["weight"] = edges["weight"].to_numpy(float).tolist()
    return graph


def leiden_labels(n_accounts: int, edges: pd.DataFrame, seed: int) -> np.ndarray:
    """Plain Leiden labels (modularity, resolution 1) for internal use by the linkage's
    first pass; -1 for accounts in communities of one."""
    return detect(n_accounts, edges, CommunitySettings(seed=seed))
