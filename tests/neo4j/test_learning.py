"""A run that learned from verdicts, in the REAL Neo4j server of the test run: the learned
account columns are stored on SCORED, read back by ``latest_run`` and copied onto the
Account nodes; verdicts are ``analyst_label`` properties of Account and Cluster nodes;
the analyst guide's "close to confirmed fraud" and "by verdict" queries answer what the
run's own tables say. A later run without labels removes them.

The run: the small world linked once, its riskiest flagged cluster cleared by a
verdict recorded in the graph (the guide's query), then linked again with half of the
world's labels given as ``--labels FILE``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph_store.base import ACCOUNT_COLUMNS, LEARNED_ACCOUNT_COLUMNS, RunTables
from graph_store.neo4j import queries as q
from graph_store.neo4j.store import Neo4jStore
from linker.pipeline import link
from tests.neo4j.test_cookbook import cookbook

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

MIN_PROXIMITY = 0.3
TEXTS = ["proximity_path", "learned_reasons", "analyst_label", "label_influence"]
NUMBERS = ["unsupervised_risk", "proximity_sybil", "proximity_benign"]


@dataclass(frozen=True)
class Learned:
    """The learned run as ``link`` made it, as the store gives it back, and the cluster
    an analyst cleared in the Browser before it."""

    run: RunTables
    stored: RunTables
    cleared: str
    truth: pd.DataFrame  # the world's labels (account_id, label)


@pytest.fixture(scope="module")
def learned(
    small_world: Path, neo4j_store: Neo4jStore, neo4j_driver: Any, tmp_path_factory: Any
) -> Learned:
    first = link(small_world, neo4j_store).run
    flagged = first.clusters[first.clusters["flagged"]].sort_values("risk", ascending=False)
    cleared = str(flagged["cluster_id"].iloc[0])
    verdict = {"label": "benign", "author": "ana", "reason": "an office"}
    records, _, _ = neo4j_driver.execute_query(
        q.RECORD_CLUSTER_VERDICT, cluster_id=cleared, verdict=verdict
    )
    assert records[0]["result"] == "recorded"
    truth = pd.read_parquet(small_world / "labels.parquet")[["account_id", "label"]]
    given = np.random.default_rng(0).random(len(truth)) < 0.5
    labels = tmp_path_factory.mktemp("labels") / "given.csv"
    truth[given].to_csv(labels, index=False)
    time.sleep(1.1)  # run ids carry the time to the second
    run = link(small_world, neo4j_store, labels_file=labels).run
    assert run.meta["learning"]["model"] is not None
    stored = neo4j_store.latest_run()
    assert stored is not None and stored.run_id == run.run_id
    return Learned(run, stored, cleared, truth)


def _plain(frame: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """``columns`` by ``key`` with every missing value None (NaN, NA or None alike)."""
    out = frame[[key, *columns]].sort_values(key, ignore_index=True).astype(object)
    return out.where(out.notna(), None)


def _query(driver: Any, text: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(text, **params)
    return [r.data() for r in records]


def test_a_learned_run_is_read_back_with_its_learned_columns(learned: Learned) -> None:
    stored, run = learned.stored, learned.run
    assert list(stored.accounts.columns) == [*ACCOUNT_COLUMNS, *LEARNED_ACCOUNT_COLUMNS]
    got = _plain(stored.accounts, "account_id", TEXTS)
    pd.testing.assert_frame_equal(got, _plain(run.accounts, "account_id", TEXTS))
    assert got["analyst_label"].notna().sum() > 100  # half the world's labels and more
    ordered = stored.accounts.sort_values("account_id", ignore_index=True)
    want = run.accounts.sort_values("account_id", ignore_index=True)
    for column in [*NUMBERS, "risk"]:
        np.testing.assert_allclose(ordered[column].astype(float), want[column].astype(float))
    clusters = ["unsupervised_risk", "analyst_label"]
    pd.testing.assert_frame_equal(
        _plain(stored.clusters, "cluster_id", clusters),
        _plain(run.clusters, "cluster_id", clusters),
    )
    assert stored.clusters.set_index("cluster_id").loc[learned.cleared, "analyst_label"] == "benign"


def test_learned_columns_and_verdicts_are_node_properties(
    learned: Learned, neo4j_driver: Any
) -> None:
    returned = ", ".join(f"a.{c} AS {c}" for c in LEARNED_ACCOUNT_COLUMNS)
    rows = _query(neo4j_driver, f"MATCH (a:Account) RETURN a.account_id AS account_id, {returned}")
    nodes = pd.DataFrame(rows)
    pd.testing.assert_frame_equal(
        _plain(nodes, "account_id", TEXTS), _plain(learned.run.accounts, "account_id", TEXTS)
    )
    by_id = nodes.set_index("account_id").sort_index()
    want = learned.run.accounts.set_index("account_id").sort_index()
    np.testing.assert_allclose(by_id["proximity_sybil"], want["proximity_sybil"])
    cluster = _query(
        neo4j_driver,
        "MATCH (p:RunPointer {name: 'latest'}) "
        "MATCH (c:Cluster {run_id: p.run_id, cluster_id: $c}) RETURN c.analyst_label AS label",
        c=learned.cleared,
    )
    assert cluster == [{"label": "benign"}]
    # an analyst filters on the copies, through the index
    sybil = _query(
        neo4j_driver, "MATCH (a:Account {analyst_label: 'sybil'}) RETURN a.account_id AS a"
    )
    assert {r["a"] for r in sybil} == set(want.index[want["analyst_label"] == "sybil"])


def test_close_to_confirmed_fraud(learned: Learned, neo4j_driver: Any) -> None:
    rows = _query(neo4j_driver, cookbook()["close-to-fraud"], min_proximity=MIN_PROXIMITY)
    acc = learned.run.accounts
    near = acc[(acc["proximity_sybil"] >= MIN_PROXIMITY) & acc["analyst_label"].isna()]
    want = near.sort_values(
        ["proximity_sybil", "risk", "account_id"], ascending=[False, False, True]
    ).head(50)
    assert 10 <= len(rows) == len(want)
    assert [r["account"] for r in rows] == list(want["account_id"])
    assert [r["path"] for r in rows] == list(want["proximity_path"])
    assert all(r["path"].startswith("shares ") for r in rows)
    proximity = [r["proximity"] for r in rows]
    assert proximity == sorted(proximity, reverse=True) and proximity[-1] >= MIN_PROXIMITY
    # nobody returned is labelled, and closeness finds the hidden campaign members: the
    # sybil share among them is several times that of all unlabelled accounts
    truth = learned.truth.set_index("account_id")["label"]
    unlabelled = acc.loc[acc["analyst_label"].isna(), "account_id"]
    assert not {r["account"] for r in rows} - set(unlabelled)
    share = (truth[[r["account"] for r in rows]] == "sybil").mean()
    assert share > 3 * (truth[unlabelled] == "sybil").mean()


@pytest.mark.parametrize("label", ["sybil", "benign"])
def test_accounts_and_clusters_by_verdict(learned: Learned, neo4j_driver: Any, label: str) -> None:
    rows = _query(neo4j_driver, cookbook()["labelled-accounts"], analyst_label=label)
    acc = learned.run.accounts
    want = acc[acc["analyst_label"] == label].sort_values(
        ["risk", "account_id"], ascending=[False, True]
    )
    assert len(want) >= 20
    assert [r["account"] for r in rows] == list(want["account_id"].head(100))
    assert [r["influence"] for r in rows] == list(want["label_influence"].head(100))
    clusters = _query(neo4j_driver, cookbook()["labelled-clusters"], analyst_label=label)
    table = learned.run.clusters
    assert {r["cluster"] for r in clusters} == set(
        table.loc[table["analyst_label"] == label, "cluster_id"]
    )
    if label == "benign":
        assert [r["cluster"] for r in clusters] == [learned.cleared]
        assert clusters[0]["main_reason"] == "analyst verdict: benign (ana: an office)"


def test_a_run_without_labels_removes_them(
    learned: Learned, neo4j_store: Neo4jStore, neo4j_driver: Any
) -> None:
    """Last in the module: it publishes other runs."""
    plain = replace(
        learned.run,
        run_id=learned.run.run_id + "-plain",
        accounts=learned.run.accounts.drop(columns=list(LEARNED_ACCOUNT_COLUMNS)),
        clusters=learned.run.clusters.drop(columns=["unsupervised_risk", "analyst_label"]),
    )
    neo4j_store.write_run(plain)
    stored = neo4j_store.latest_run()
    assert stored is not None and list(stored.accounts.columns) == ACCOUNT_COLUMNS
    assert not {"unsupervised_risk", "analyst_label"} & set(stored.clusters.columns)
    keys = _query(neo4j_driver, "MATCH (a:Account) UNWIND keys(a) AS k RETURN DISTINCT k")
    assert not {r["k"] for r in keys} & set(LEARNED_ACCOUNT_COLUMNS)
    assert not _query(neo4j_driver, cookbook()["close-to-fraud"], min_proximity=0.0)
    # a learned column that is null everywhere is still read back (Neo4j stores no null)
    unnamed = replace(
        plain,
        run_id=learned.run.run_id + "-unnamed",
        accounts=plain.accounts.assign(analyst_label=None),
        clusters=plain.clusters.assign(analyst_label=None),
    )
    neo4j_store.write_run(unnamed)
    stored = neo4j_store.latest_run()
    assert stored is not None
    assert list(stored.accounts.columns) == [*ACCOUNT_COLUMNS, "analyst_label"]
    assert stored.accounts["analyst_label"].isna().all()
    assert stored.clusters["analyst_label"].isna().all()
