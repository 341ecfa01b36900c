"""Analyst verdicts recorded in Neo4j (the Browser guide's queries) are read by the next
link like the API's labels.jsonl, the latest per target winning; the embedded store
records none. On the test run's own Neo4j instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph_store.base import VERDICT_COLUMNS, VerdictStore
from graph_store.embedded import EmbeddedStore
from graph_store.neo4j import queries as q
from graph_store.neo4j.store import Neo4jStore
from linker.learn.labels import gather_labels
from linker.pipeline import link

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]


class _Recorded:
    """A VerdictStore holding fixed verdicts (rows of VERDICT_COLUMNS), nothing else."""

    def __init__(self, rows: list[tuple[str, ...]]):
        self.rows = rows

    def read_verdicts(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=list(VERDICT_COLUMNS))
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame


def _api_label(out: Path, created_at: str | None, **fields: str) -> None:
    record = {"author": "api", "reason": "r", **fields}
    if created_at is not None:
        record["created_at"] = created_at
    with (out / "labels.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def test_the_embedded_store_records_no_verdicts(tmp_path: Path) -> None:
    assert not isinstance(EmbeddedStore(tmp_path), VerdictStore)
    assert isinstance(Neo4jStore.__new__(Neo4jStore), VerdictStore)


def test_the_latest_verdict_per_target_wins(tmp_path: Path) -> None:
    _api_label(
        tmp_path, "2026-01-01T10:00:00Z", target_type="cluster", target_id="c1", label="sybil"
    )
    _api_label(
        tmp_path, "2026-01-03T10:00:00Z", target_type="account", target_id="a1", label="sybil"
    )
    _api_label(tmp_path, None, target_type="account", target_id="a2", label="benign")
    graph = _Recorded(
        [
            ("cluster", "c1", "benign", "ana", "office", "2026-01-02T10:00:00Z"),
            ("account", "a1", "benign", "ana", "mistake", "2026-01-02T10:00:00Z"),
            ("account", "a2", "sybil", "ana", "card", "2026-01-01T00:00:00Z"),
        ]
    )
    got = gather_labels(tmp_path, graph)  # type: ignore[arg-type]
    latest = {
        (r["target_type"], r["target_id"]): (r["label"], r["source"])
        for r in got.to_dict("records")
    }
    assert latest == {
        ("cluster", "c1"): ("benign", "graph"),  # newer than the API's
        ("account", "a1"): ("sybil", "labels.jsonl"),  # newer than the graph's
        ("account", "a2"): ("sybil", "graph"),  # a label without a time loses
    }


def test_no_verdicts_anywhere(tmp_path: Path) -> None:
    got = gather_labels(tmp_path, EmbeddedStore(tmp_path))
    assert got.empty and {"target_type", "target_id", "label", "source"} <= set(got.columns)


def test_read_verdicts_of_an_empty_graph(neo4j_store: Neo4jStore) -> None:
    verdicts = neo4j_store.read_verdicts()
    assert list(verdicts.columns) == list(VERDICT_COLUMNS) and verdicts.empty


def test_recorded_verdicts_are_read_back_and_used_by_the_next_link(
    small_world: Path, neo4j_store: Neo4jStore, neo4j_driver: Any, tmp_path: Path
) -> None:
    first = link(small_world, neo4j_store).run
    flagged = first.clusters[first.clusters["flagged"]].sort_values("risk", ascending=False)
    cluster = str(flagged["cluster_id"].iloc[0])
    calm = first.accounts[~first.accounts["flagged"]]
    account = str(calm["account_id"].iloc[0])
    verdict = {"label": "benign", "author": " ana ", "reason": "an office"}
    records, _, _ = neo4j_driver.execute_query(
        q.RECORD_CLUSTER_VERDICT, cluster_id=cluster, verdict=verdict
    )
    assert records[0]["result"] == "recorded"
    sybil = {"label": "sybil", "author": "ana", "reason": "own card"}
    neo4j_driver.execute_query(q.RECORD_ACCOUNT_VERDICT, account_id=account, verdict=sybil)
    # the API said otherwise about the account, earlier
    out = tmp_path / "out"
    out.mkdir()
    _api_label(
        out, "2020-01-01T00:00:00Z", target_type="account", target_id=account, label="benign"
    )

    read = neo4j_store.read_verdicts()
    assert list(read[["target_type", "target_id", "label", "author"]].itertuples(index=False)) == [
        ("cluster", cluster, "benign", "ana"),
        ("account", account, "sybil", "ana"),
    ]
    assert str(read["created_at"].dt.tz) == "UTC"
    assert (read["created_at"] > pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=10)).all()

    run = link(small_world, neo4j_store, out_dir=out).run
    assert run.meta["analyst_verdicts_applied"] == 2
    assert run.meta["analyst_verdicts"] == {"read": {"graph": 2}, "used": {"graph": 2}}
    clusters = run.clusters.set_index("cluster_id")
    assert not clusters.loc[cluster, "flagged"]
    assert clusters.loc[cluster, "reasons"][0] == "analyst verdict: benign (ana: an office)"
    assert run.accounts.set_index("account_id").loc[account, "flagged"]
    # the verdicts stay for the run after that (Verdict nodes are not part of a run)
    assert len(neo4j_store.read_verdicts()) == 2
