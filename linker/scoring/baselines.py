"""Baselines the linker is measured against, on the same input.

- **Connected components** (the recipe of graph-database fraud tutorials): accounts
  linked by any identifier that at most ``max_shared`` accounts use; every component of
  at least ``min_size`` accounts is flagged.
- **Louvain on the unweighted projection**: the same links, one edge per linked pair,
  Louvain communities (igraph), communities of at least ``min_size`` flagged.

Both rank accounts by the size of their group (a bigger ring is more suspicious), which
gives the average precision of a recipe that has no risk score of its own.
"""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix, triu
from scipy.sparse.csgraph import connected_components

#: the tutorials' cut: identifiers used by more accounts are shared infrastructure
MAX_SHARED = 10
MIN_SIZE = 3


def _links(accounts: pd.Index, signals: pd.DataFrame, max_shared: int) -> tuple[csr_matrix, int]:
    """Upper-triangular account-account matrix of pairs sharing an identifier used by
    2..``max_shared`` accounts."""
    pairs = signals[["account_id", "kind", "value"]].drop_duplicates()
    acc = accounts.get_indexer(pd.Index(pairs["account_id"]))
    pairs, acc = pairs[acc >= 0], acc[acc >= 0]
    ident = pd.MultiIndex.from_frame(pairs[["kind", "value"]]).factorize()[0]
    degree = np.bincount(ident)
    keep = (degree[ident] >= 2) & (degree[ident] <= max_shared)
    n = len(accounts)
    incidence = csr_matrix(
        (np.ones(int(keep.sum())), (acc[keep], ident[keep])), shape=(n, len(degree))
    )
    return triu(incidence @ incidence.T, k=1).tocsr(), n


def _result(accounts: pd.Index, labels: np.ndarray, min_size: int, method: str) -> pd.DataFrame:
    sizes = np.bincount(labels)
    size = sizes[labels]
    grouped = size >= min_size
    return pd.DataFrame(
        {
            "account_id": np.asarray(accounts),
            "cluster_id": np.where(grouped, [f"{method}-{g}" for g in labels], None),  # type: ignore[call-overload]
            "flagged": grouped,
            # rank by group size: 0 alone, towards 1 for the largest groups
            "risk": np.where(grouped, np.log1p(size) / np.log1p(max(sizes.max(), 1)), 0.0),
        }
    )


def connected_components_recipe(
    accounts: pd.Index,
    signals: pd.DataFrame,
    max_shared: int = MAX_SHARED,
    min_size: int = MIN_SIZE,
) -> pd.DataFrame:
    """account_id, cluster_id, flagged, risk of the connected-components recipe."""
    links, _ = _links(accounts, signals, max_shared)
    _, labels = connected_components(links, directed=False)
    return _result(accounts, labels, min_size, "cc")


def louvain_unweighted(
    accounts: pd.Index,
    signals: pd.DataFrame,
    max_shared: int = MAX_SHARED,
    min_size: int = MIN_SIZE,
    seed: int = 7,
) -> pd.DataFrame:
    """account_id, cluster_id, flagged, risk of Louvain on the unweighted projection."""
    links, n = _links(accounts, signals, max_shared)
    edges = coo_matrix(links)
    graph = ig.Graph(n=n, edges=np.column_stack([edges.row, edges.col]).tolist())
    ig.set_random_number_generator(random.Random(seed))
    labels = np.asarray(graph.community_multilevel().membership)
    ig.set_random_number_generator(random)
    return _result(accounts, labels, min_size, "louvain")


BASELINES = {
    "connected_components": connected_components_recipe,
    "louvain_unweighted": louvain_unweighted,
}
