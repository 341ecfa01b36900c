"""Community detection and stable cluster ids."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from linker.clustering.attach import attach_by_family
from linker.clustering.ids import assign_cluster_ids, content_id
from linker.errors import LinkerError
from linker.graph import detect
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


@pytest.mark.parametrize("seed", [0, 1])
def test_more_leiden_passes_never_lower_modularity(seed: int) -> None:
    # a sparse random partition graph: one pass leaves modularity on the table
    graph = nx.gaussian_random_partition_graph(400, 20, 5, 0.3, 0.02, seed=seed)
    edges = pd.DataFrame(
        [(min(e), max(e), 1.0) for e in graph.edges()], columns=["a", "b", "weight"]
    )

    def modularity(iterations: int) -> float:
        settings = CommunitySettings(iterations=iterations, min_cluster_size=1)
        labels = detect(400, edges, settings)
        return float(
            nx.community.modularity(graph, [set(np.flatnonzero(labels == c)) for c in set(labels)])
        )

    one, two, converged = modularity(1), modularity(2), modularity(-1)
    assert one < two <= converged + 1e-12


@pytest.mark.parametrize("iterations", [0, -2])
def test_leiden_passes_out_of_range_are_refused(iterations: int) -> None:
    with pytest.raises(LinkerError, match="iterations must be"):
        CommunitySettings(iterations=iterations)


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


def _template_uses(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account", "value", "n_obs"]).assign(kind="prompt_template")


def test_account_in_no_cluster_joins_the_cluster_holding_its_family() -> None:
    # accounts 0-5 are a community that sends family F; 6 sends F twice, 7 sends nothing
    labels = np.array([0] * 6 + [-1] * 94)
    uses = _template_uses([(a, "F", 10) for a in range(6)] + [(6, "F", 2)])
    out, attached = attach_by_family(labels, uses, held_share=0.5, population=100)
    assert out[:8].tolist() == [0] * 7 + [-1]
    assert np.flatnonzero(attached).tolist() == [6]
    assert labels[6] == -1  # the input is not changed


def test_family_sent_across_the_population_attaches_nobody() -> None:
    # a viral prompt: 4 members of the community send it, and 10 strangers
    labels = np.array([0] * 6 + [-1] * 94)
    uses = _template_uses([(a, "V", 1) for a in range(4)] + [(a, "V", 1) for a in range(6, 16)])
    out, attached = attach_by_family(labels, uses, held_share=0.5, population=100)
    assert not attached.any() and np.array_equal(out, labels)
    # with the bar lowered below the community's share (4 of 14) they would join
    _, attached = attach_by_family(labels, uses, held_share=0.25, population=100)
    assert attached.sum() == 10


def test_another_population_sharing_the_family_does_not_join() -> None:
    # community 0-9 sends F; 8 unlinked developers send F too, but mostly their own
    # family D (30 developers send it, no member does); a straggler sends F and the
    # community's cover family G
    labels = np.array([0] * 10 + [-1] * 190)
    uses = [(a, "F", 10) for a in range(10)] + [(a, "G", 2) for a in range(10)]
    devs = list(range(10, 18))
    uses += [(a, "F", 2) for a in devs] + [(a, "D", 5) for a in range(10, 40)]
    uses += [(50, "F", 1), (50, "G", 3)]
    out, attached = attach_by_family(labels, _template_uses(uses), 0.5, population=200)
    assert np.flatnonzero(attached).tolist() == [50]
    assert (out[devs] == -1).all()


def test_rare_cover_prompt_of_a_large_community_attaches_nobody() -> None:
    # 3 of 200 members sent a cover prompt two strangers sent too: held (60%) but not
    # common in the community (fewer than 5% of its members), so not its fingerprint
    labels = np.array([0] * 200 + [-1] * 800)
    uses = _template_uses([(a, "C", 1) for a in range(3)] + [(200, "C", 1), (201, "C", 1)])
    _, attached = attach_by_family(labels, uses, held_share=0.5, population=1000)
    assert not attached.any()
    # the same family in a community of 20 is common there (3 of 20)
    small = np.array([0] * 20 + [-1] * 980)
    moved = uses.assign(account=uses["account"].replace({200: 20, 201: 21}))
    _, attached = attach_by_family(small, moved, held_share=0.5, population=1000)
    assert np.flatnonzero(attached).tolist() == [20, 21]


def test_account_joins_the_community_of_the_family_it_sends_most() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1] + [-1] * 94)
    uses = _template_uses(
        [(a, "A", 5) for a in range(3)]
        + [(a, "B", 5) for a in range(3, 6)]
        + [(6, "A", 1), (6, "B", 4)]
    )
    out, _ = attach_by_family(labels, uses, held_share=0.5, population=100)
    assert out[6] == 1


def test_attachment_off_and_without_prompts() -> None:
    labels = np.array([0, 0, 0] + [-1] * 97)
    uses = _template_uses([(a, "F", 3) for a in range(4)])
    out, attached = attach_by_family(labels, uses, held_share=0.0, population=100)
    assert not attached.any() and np.array_equal(out, labels)
    _, attached = attach_by_family(labels, uses, held_share=0.5, population=100)
    assert attached[3]
    _, attached = attach_by_family(labels, uses.assign(kind="device"), 0.5, population=100)
    assert not attached.any()


def test_member_likeness_weighs_over_sent_neutral_and_foreign_families() -> None:
    # community 0-9 (label 5: labels need not start at 0) sends F; half of it also sends
    # G, which 10 strangers send too (not held: 5 of 16, but over-sent: lift 6); 2
    # members and 18 strangers send N (about the population's rate: neutral); only
    # strangers send D (foreign)
    labels = np.array([5] * 10 + [-1] * 190)
    base = [(a, "F", 10) for a in range(10)] + [(a, "G", 2) for a in range(5)]
    base += [(a, "G", 1) for a in range(100, 110)]
    base += [(a, "N", 1) for a in (0, 1, *range(120, 138))]
    base += [(a, "D", 1) for a in range(140, 170)]

    def joins(f: int, **other: int) -> bool:
        rows = [(60, "F", f)] + [(60, name, n) for name, n in other.items()]
        uses = _template_uses([*base, *rows])
        out, attached = attach_by_family(labels, uses, held_share=0.5, population=200)
        assert out[60] == (5 if attached[60] else -1)
        return bool(attached[60])

    assert joins(1, D=1) is False  # a tie stays out
    assert joins(1, G=1, D=1) is True  # the over-sent G counts with F
    assert joins(2, N=5, D=1) is True  # N is not foreign ...
    assert joins(1, N=5, D=2) is False  # ... nor the community's
    assert joins(1, G=1, D=3) is False  # weighed by prompts, not by families


def test_an_account_in_a_community_is_never_moved() -> None:
    labels = np.array([0] * 6 + [1, 1, 1] + [-1] * 91)
    uses = _template_uses([(a, "F", 5) for a in range(6)] + [(7, "F", 5), (50, "F", 1)])
    out, attached = attach_by_family(labels, uses, held_share=0.5, population=100)
    assert out[7] == 1 and not attached[7]
    assert out[50] == 0 and attached[50]


def test_a_previous_run_sharing_no_account_passes_no_id() -> None:
    """Another export linked into the same folder: nothing in common, fresh ids."""
    labels = np.array([0, 0, 1, 1, -1])
    accounts = pd.Index(["a", "b", "c", "d", "e"])
    previous = pd.DataFrame({"account_id": ["x", "y"], "cluster_id": ["c_old", "c_old"]})
    got = assign_cluster_ids(accounts, labels, previous)
    fresh = assign_cluster_ids(accounts, labels, None)
    assert got.tolist() == fresh.tolist()
    assert "c_old" not in set(got.dropna())
