"""Every Cypher query of docs/analyst-guide.md, run against a linked world in the REAL
local server and checked against the same answer computed with pandas from the
store's own tables.

The guide marks each query with ``<!-- cookbook: NAME -->`` right before its
```cypher block; this module runs them by NAME. Two runs are published: the
pipeline's run, and a second run (written through the store) in which a few
accounts moved and one cluster's risk changed, so "what changed" has an answer.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph_store.base import InputTables, RunTables
from graph_store.neo4j.store import Neo4jStore
from linker.pipeline import link

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = DOCS / "analyst-guide.md"
DIAGRAM = DOCS / "neo4j" / "graph_model.py"
BLOCK = re.compile(r"<!-- cookbook: ([\w-]+) -->\s*```cypher\n(.*?)```", re.S)
MIN_RISK_CHANGE = 0.1


def cookbook() -> dict[str, str]:
    """NAME -> Cypher of every marked query in the analyst guide."""
    return dict(BLOCK.findall(GUIDE.read_text()))


class Linked:
    """The published runs and the input graph they were computed from."""

    def __init__(self, store: Neo4jStore, first: RunTables, latest: RunTables):
        self.store = store
        self.first = first
        self.latest = latest
        self.input: InputTables = store.read_input()


def _second_run(first: RunTables) -> RunTables:
    """``first`` with 3 accounts moved from the 2nd largest cluster to the largest, the
    top cluster's risk lowered by 0.3, and a new run id."""
    accounts = first.accounts.copy()
    clusters = first.clusters.copy()
    by_size = clusters.sort_values(["size", "cluster_id"], ascending=[False, True])
    big, second = by_size["cluster_id"].iloc[0], by_size["cluster_id"].iloc[1]
    movers = accounts.index[accounts["cluster_id"] == second][:3]
    accounts.loc[movers, "cluster_id"] = big
    top = clusters["cluster_id"].iloc[0]
    clusters.loc[clusters["cluster_id"] == top, "risk"] -= 0.3
    in_top = accounts["cluster_id"] == top
    accounts.loc[in_top, "risk"] = (accounts.loc[in_top, "risk"] - 0.3).clip(lower=0)
    sizes = accounts["cluster_id"].value_counts()
    clusters["size"] = clusters["cluster_id"].map(sizes).fillna(0).astype(int)
    run_id = first.run_id + "-second"
    return replace(
        first,
        run_id=run_id,
        accounts=accounts,
        clusters=clusters,
        meta={**first.meta, "run_id": run_id},
    )


@pytest.fixture(scope="module")
def linked(small_world: Path, neo4j_store: Neo4jStore) -> Linked:
    first = link(small_world, neo4j_store).run
    second = _second_run(first)
    neo4j_store.write_run(second)
    latest = neo4j_store.latest_run()
    assert latest is not None and latest.run_id == second.run_id
    return Linked(neo4j_store, first, latest)


def _run(driver: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cookbook()[name], **params)
    return [r.data() for r in records]


def _members(run: RunTables) -> pd.DataFrame:
    return run.accounts.dropna(subset=["cluster_id"])[["account_id", "cluster_id"]]


def test_guide_has_the_queries() -> None:
    assert set(cookbook()) == {
        "top-clusters",
        "cluster-members",
        "cluster-glue",
        "cluster-graph",
        "account-neighbourhood",
        "account-graph",
        "bridging-identifiers",
        "changed-accounts",
        "changed-clusters",
        "close-to-fraud",
        "labelled-accounts",
        "labelled-clusters",
    }
    for query in cookbook().values():
        assert "{name: 'latest'}" in query  # every query reads the published run


def test_top_clusters(linked: Linked, neo4j_driver: Any) -> None:
    rows = _run(neo4j_driver, "top-clusters")
    want = linked.latest.clusters.sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True]
    ).head(10)
    assert [r["cluster"] for r in rows] == list(want["cluster_id"])
    assert [r["risk"] for r in rows] == pytest.approx(list(want["risk"]))
    assert [r["main_reason"] for r in rows] == [reasons[0] for reasons in want["reasons"]]


def _top_cluster(linked: Linked) -> str:
    return str(linked.latest.clusters["cluster_id"].iloc[0])


def test_cluster_members(linked: Linked, neo4j_driver: Any) -> None:
    cluster = _top_cluster(linked)
    rows = _run(neo4j_driver, "cluster-members", cluster_id=cluster)
    members = _members(linked.latest)
    want = set(members.loc[members["cluster_id"] == cluster, "account_id"])
    assert {r["account"] for r in rows} == want
    created = [r["created_at"].to_native() for r in rows]
    assert created == sorted(created)
    risk = linked.latest.accounts.set_index("account_id")["risk"]
    assert [r["risk"] for r in rows] == pytest.approx([risk[r["account"]] for r in rows])
    attached = linked.latest.accounts.set_index("account_id")["attached"]
    assert [r["attached"] for r in rows] == [bool(attached[r["account"]]) for r in rows]


def _shared(inp: InputTables, accounts: set[str]) -> pd.DataFrame:
    mem = inp.memberships
    inside = mem[mem["account_id"].isin(accounts)]
    shared = inside.groupby(["kind", "value"]).size().rename("shared_by").reset_index()
    used = mem.groupby(["kind", "value"]).size().rename("used_by_all").reset_index()
    out = shared[shared["shared_by"] >= 2].merge(used, on=["kind", "value"])
    return out.sort_values(
        ["shared_by", "kind", "value"], ascending=[False, True, True], ignore_index=True
    )


def test_cluster_glue(linked: Linked, neo4j_driver: Any) -> None:
    cluster = _top_cluster(linked)
    members = _members(linked.latest)
    inside = set(members.loc[members["cluster_id"] == cluster, "account_id"])
    rows = _run(neo4j_driver, "cluster-glue", cluster_id=cluster)
    want = _shared(linked.input, inside).head(25)
    assert len(rows) == len(want) > 0
    got = pd.DataFrame(rows)
    assert list(got["identifier"]) == list(want["value"])
    assert list(got["kind"]) == list(want["kind"])
    assert list(got["shared_by"]) == list(want["shared_by"])
    assert list(got["used_by_all"]) == list(want["used_by_all"])
    assert all(set(r["some_members"]) <= inside for r in rows)


def test_cluster_graph(linked: Linked, neo4j_driver: Any) -> None:
    cluster = _top_cluster(linked)
    records, _, _ = neo4j_driver.execute_query(cookbook()["cluster-graph"], cluster_id=cluster)
    assert records
    assert {r["c"]["cluster_id"] for r in records} == {cluster}
    assert {r["r"].type for r in records} <= {"PAID_WITH", "USED_DEVICE", "SENT_TEMPLATE"}


def test_account_neighbourhood(linked: Linked, neo4j_driver: Any) -> None:
    members = _members(linked.latest)
    account = str(members.loc[members["cluster_id"] == _top_cluster(linked), "account_id"].min())
    rows = _run(neo4j_driver, "account-neighbourhood", account_id=account)
    assert len(rows) == 1
    row = rows[0]
    assert row["cluster"] == _top_cluster(linked)
    mem = linked.input.memberships
    mine = mem[mem["account_id"] == account].sort_values(["kind", "value"])
    degree = mem.groupby(["kind", "value"]).size()
    assert [(i["kind"], i["value"]) for i in row["identifiers"]] == list(
        zip(mine["kind"], mine["value"], strict=True)
    )
    assert [i["other_accounts"] for i in row["identifiers"]] == [
        degree[(k, v)] - 1 for k, v in zip(mine["kind"], mine["value"], strict=True)
    ]
    edges = linked.latest.edges
    mine_edges = edges[(edges["a"] == account) | (edges["b"] == account)]
    others = set(mine_edges["a"]) | set(mine_edges["b"])
    assert {b["account"] for b in row["linked"]} == others - {account}
    weights = [b["weight"] for b in row["linked"]]
    assert weights == sorted(weights, reverse=True)


def test_account_graph(linked: Linked, neo4j_driver: Any) -> None:
    account = str(_members(linked.latest)["account_id"].min())
    records, _, _ = neo4j_driver.execute_query(cookbook()["account-graph"], account_id=account)
    assert len(records) == 1 and records[0]["a"]["account_id"] == account
    assert records[0]["used"] and records[0]["linked"]
    assert all(p.relationships[0]["run_id"] == linked.latest.run_id for p in records[0]["linked"])


def test_bridging_identifiers(linked: Linked, neo4j_driver: Any) -> None:
    rows = _run(neo4j_driver, "bridging-identifiers")
    mem = linked.input.memberships.merge(_members(linked.latest), on="account_id")
    stats = mem.groupby(["kind", "value"]).agg(
        n_clusters=("cluster_id", "nunique"), accounts=("account_id", "nunique")
    )
    want = (
        stats[stats["n_clusters"] >= 2]
        .reset_index()
        .sort_values(
            ["n_clusters", "accounts", "kind", "value"],
            ascending=[False, False, True, True],
            ignore_index=True,
        )
        .head(25)
    )
    assert len(rows) == len(want) > 0
    got = pd.DataFrame(rows)
    assert list(got["identifier"]) == list(want["value"])
    assert list(got["n_clusters"]) == list(want["n_clusters"])
    assert list(got["accounts"]) == list(want["accounts"])


def test_changed_accounts(linked: Linked, neo4j_driver: Any) -> None:
    rows = _run(neo4j_driver, "changed-accounts", min_risk_change=MIN_RISK_CHANGE)
    before = linked.first.accounts.set_index("account_id")
    now = linked.latest.accounts.set_index("account_id")
    moved = before["cluster_id"].fillna("") != now.loc[before.index, "cluster_id"].fillna("")
    jumped = (now.loc[before.index, "risk"] - before["risk"]).abs() >= MIN_RISK_CHANGE
    want = set(before.index[moved | jumped])
    assert len(want) >= 4  # 3 moved accounts and the top cluster's members
    assert {r["account"] for r in rows} == want
    assert not any(r["new_account"] for r in rows)
    for r in rows:
        assert r["cluster_now"] == now.loc[r["account"], "cluster_id"]
        assert r["risk_before"] == pytest.approx(before.loc[r["account"], "risk"])


def test_changed_clusters(linked: Linked, neo4j_driver: Any) -> None:
    rows = _run(neo4j_driver, "changed-clusters", min_risk_change=MIN_RISK_CHANGE)
    by_cluster = {r["cluster"]: r for r in rows}
    before = linked.first.clusters.set_index("cluster_id")
    now = linked.latest.clusters.set_index("cluster_id")
    changed = now.index[
        (now["size"] != before.loc[now.index, "size"])
        | ((now["risk"] - before.loc[now.index, "risk"]).abs() >= MIN_RISK_CHANGE)
    ]
    assert set(by_cluster) == set(changed)
    assert len(changed) >= 2  # the clusters the movers left and joined, the lowered one
    lowered = by_cluster[str(linked.first.clusters["cluster_id"].iloc[0])]
    assert lowered["risk_before"] - lowered["risk_now"] == pytest.approx(0.3)
    assert {r["change"] for r in rows} == {"kept"}


def test_graph_model_picture_matches_the_database(linked: Linked, neo4j_driver: Any) -> None:
    spec = importlib.util.spec_from_file_location("graph_model", DIAGRAM)
    assert spec is not None and spec.loader is not None
    diagram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagram)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a)-[r]->(b) WHERE NOT 'SybilServerTest' IN labels(a) "
        "RETURN DISTINCT labels(a)[0] AS a, type(r) AS r, labels(b)[0] AS b"
    )
    assert {(x["a"], x["r"], x["b"]) for x in records} == set(diagram.EDGES)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n) WHERE NOT 'SybilServerTest' IN labels(n) RETURN DISTINCT labels(n) AS labels"
    )
    assert {tuple(x["labels"]) for x in records} == {(label,) for label in diagram.LAYOUT}
