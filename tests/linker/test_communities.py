"""Community detection and stable cluster ids."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from linker.communities import assign_cluster_ids, content_id, detect
from linker.errors import LinkerError
from linker.settings import CommunitySettings


def _planted(seed: int, n_groups: int = 6, size: int = 15) -> tuple[int, pd.DataFrame, np.ndarray]:
    """Dense groups joined by a few weak bridges."""
    rng = np.random.default_rng(seed)
    n = n_groups * size
    truth = np.repeat(np.arange(n_groups), size)
    rows = []
    for g in range(n_groups):
        nodes = np.arange(g * size, (g + 1) * size)
        for i in range(size):
            for j in range(i + 1, size):
                if rng.random() < 0.6:
                    rows.append((nodes[i], nodes[j], 0.5 + 0.5 * rng.random()))
    for _ in range(n_groups):
        a, b = rng.choice(n, 2, replace=False)
        if truth[a] != truth[b]:
            rows.append((min(a, b), max(a, b), 0.05))
    return n, pd.DataFrame(rows, columns=["a", "b", "weight"]), truth


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == c).tolist()) for c in set(labels) if c >= 0}


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_leiden_matches_networkx_louvain_on_planted_groups(seed: int) -> None:
    n, edges, truth = _planted(seed)
    ours = _partition(detect(n, edges, CommunitySettings(seed=seed)))
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(edges.itertuples(index=False, name=None))
    reference = {frozenset(c) for c in nx.community.louvain_communities(graph, seed=seed)}
    assert ours == reference == _partition(truth)


@pytest.mark.parametrize("seed", [21, 22])
def test_components_match_networkx(seed: int) -> None:
    n, edges, _ = _planted(seed)
    edges = edges.sample(frac=0.3, random_state=seed)
    ours = _partition(detect(n, edges, CommunitySettings(method="components", min_cluster_size=1)))
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges[["a", "b"]].itertuples(index=False, name=None))
    assert ours == {frozenset(c) for c in nx.connected_components(graph)}


def test_leiden_is_deterministic_for_a_seed() -> None:
    n, edges, _ = _planted(5, n_groups=10)
    first = detect(n, edges, CommunitySettings(seed=3))
    assert np.array_equal(first, detect(n, edges, CommunitySettings(seed=3)))


def test_singletons_are_not_clusters() -> None:
    edges = pd.DataFrame({"a": [0], "b": [1], "weight": [0.9]})
    labels = detect(4, edges, CommunitySettings())
    assert labels[0] == labels[1] >= 0
    assert labels[2] == labels[3] == -1


def test_unknown_method_is_refused() -> None:
    with pytest.raises(LinkerError, match="unknown community method"):
        detect(2, pd.DataFrame({"a": [], "b": [], "weight": []}), CommunitySettings(method="x"))


def test_ids_are_the_same_on_the_same_input() -> None:
    ids = pd.Index(["a", "b", "c", "d", "e"])
    labels = np.array([0, 0, 1, 1, -1])
    first = assign_cluster_ids(ids, labels)
    assert first.tolist() == assign_cluster_ids(ids, np.array([5, 5, 2, 2, -1])).tolist()
    assert first[0] == content_id(["a", "b"]) and first[4] is None


def test_cluster_keeps_its_id_when_most_members_are_unchanged() -> None:
    old_ids = pd.Index([f"m{i}" for i in range(10)] + ["x1", "x2"])
    old = assign_cluster_ids(old_ids, np.array([0] * 10 + [1, 1]))
    previous = pd.DataFrame({"account_id": np.asarray(old_ids), "cluster_id": old.to_numpy()})
    # new data: two members leave, three accounts join, the small cluster changes entirely
    new_ids = pd.Index([f"m{i}" for i in range(8)] + ["n1", "n2", "n3", "x1", "y1", "y2"])
    new = assign_cluster_ids(new_ids, np.array([0] * 11 + [1, 1, 1]), previous)
    assert new[0] == old[0]
    assert new[11] != old[10]  # x1 is 1 of 3 new members: not a majority, new id
    assert new[11] == content_id(["x1", "y1", "y2"])
