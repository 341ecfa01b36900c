"""The Neo4j store against the REAL local server: schema, idempotent loads, round trip
of the input, the same clusters as the embedded store, re-runs, atomic publish, failed
writes and parameters-only Cypher.

The database is cleared once at the start of this module (fixture ``neo4j_store``);
the tests then run in file order on one growing graph.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph_store.base import RunTables
from graph_store.embedded import EmbeddedStore
from graph_store.neo4j import queries as q
from graph_store.neo4j import schema
from graph_store.neo4j.store import Neo4jStore, Neo4jStoreError
from linker.ingest.dataset import load_dataset
from linker.model import LinkInput
from linker.pipeline import RunResult, build_link_input, link
from linker.settings import LinkSettings

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

INPUT_LABELS = ["Account", "PaymentInstrument", "IP", "Device", "PromptTemplate", "Identifier"]
MEMBERSHIP_TYPES = ["PAID_WITH", "USED_IP", "USED_DEVICE", "SENT_TEMPLATE", "HAS_IDENTIFIER"]


def _value(driver: Any, query: str, **params: Any) -> Any:
    records, _, _ = driver.execute_query(query, **params)
    return records[0][0] if records else None


def _input_counts(store: Neo4jStore) -> dict[str, int]:
    counts = store.counts()
    return {k: counts.get(k, 0) for k in [*INPUT_LABELS, "IPRange", *MEMBERSHIP_TYPES]}


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows in ``by`` order, columns by name, text columns with missing as None (ingest
    and the store may hold a missing text as None or NaN: both mean missing)."""
    out = frame.sort_values(by, ignore_index=True)[sorted(frame.columns)]
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_datetime64_any_dtype(
            out[col]
        ):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


@pytest.fixture(scope="module")
def link_input(small_world: Path) -> LinkInput:
    """The projection's input for the small world (prompts included)."""
    return build_link_input(load_dataset(small_world), LinkSettings(), {}, None)


@pytest.fixture(scope="module")
def embedded_result(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return link(small_world, EmbeddedStore(tmp_path_factory.mktemp("embedded")))


# --- schema and loads -----------------------------------------------------------------


def test_schema_is_created_idempotently(neo4j_store: Neo4jStore, neo4j_empty: Any) -> None:
    def names(kind: str) -> set[str]:
        records, _, _ = neo4j_empty.execute_query(f"SHOW {kind} YIELD name RETURN name")
        return {r["name"] for r in records}

    neo4j_store.ensure_schema()
    first = (names("CONSTRAINTS"), names("INDEXES"))
    neo4j_store.ensure_schema()
    assert (names("CONSTRAINTS"), names("INDEXES")) == first
    assert set(schema.CONSTRAINTS) <= first[0]
    assert set(schema.INDEXES) <= first[1]
    records, _, _ = neo4j_empty.execute_query(
        "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties, type "
        "WHERE name = 'identifier_key' RETURN labelsOrTypes, properties, type"
    )
    assert records[0].data() == {
        "labelsOrTypes": ["Identifier"],
        "properties": ["kind", "value"],
        "type": "UNIQUENESS",
    }


def test_load_input_is_idempotent(neo4j_store: Neo4jStore, link_input: LinkInput) -> None:
    # half the memberships first, so the full load mixes new nodes (CREATEd
    # memberships) and known ones (MERGEd memberships)
    half = replace(link_input, memberships=link_input.memberships.iloc[::2])
    # an IP range listed twice: the first load CREATEs IPRange nodes, the last row wins
    assert link_input.ip_info is not None
    ranges = link_input.ip_info
    twice = pd.concat([ranges.iloc[:1].assign(asn=-1), ranges], ignore_index=True)
    half = replace(half, ip_info=twice)
    small_batches = Neo4jStore(replace(neo4j_store.config, batch_size=300, writers=3))
    small_batches.load_input(half)  # many concurrent batches
    small_batches.close()
    cidr, asn = ranges["ip"].iloc[0], int(ranges["asn"].iloc[0])
    stored = _value(neo4j_store.driver, "MATCH (r:IPRange {cidr: $c}) RETURN r.asn", c=cidr)
    assert (_input_counts(neo4j_store)["IPRange"], stored) == (len(ranges), asn)
    neo4j_store.load_input(link_input)
    once = _input_counts(neo4j_store)
    neo4j_store.load_input(link_input)
    assert _input_counts(neo4j_store) == once

    mem = link_input.memberships
    assert once["Account"] == len(link_input.accounts)
    assert sum(once[t] for t in MEMBERSHIP_TYPES) == len(mem)
    assert once["USED_IP"] == int((mem["kind"] == "ip").sum())
    assert once["IP"] == mem.loc[mem["kind"] == "ip", "value"].nunique()
    assert once["IPRange"] == len(link_input.ip_info)


def test_read_input_round_trips(neo4j_store: Neo4jStore, link_input: LinkInput) -> None:
    back = neo4j_store.read_input()
    pd.testing.assert_frame_equal(
        _sorted(back.accounts, ["account_id"]),
        _sorted(link_input.accounts, ["account_id"]),
        check_dtype=False,
    )
    key = ["account_id", "kind", "value"]
    pd.testing.assert_frame_equal(
        _sorted(back.memberships, key), _sorted(link_input.memberships, key), check_dtype=False
    )
    win = ["account_id", "value", "window"]
    pd.testing.assert_frame_equal(
        _sorted(back.ip_windows, win), _sorted(link_input.ip_windows, win), check_dtype=False
    )
    assert back.ip_info is not None and link_input.ip_info is not None
    pd.testing.assert_frame_equal(
        _sorted(back.ip_info, ["ip"]), _sorted(link_input.ip_info, ["ip"]), check_dtype=False
    )
    assert back.prompt_features is not None and link_input.prompt_features is not None
    pd.testing.assert_frame_equal(
        back.prompt_features.sort_index(),
        link_input.prompt_features.sort_index(),
        check_dtype=False,
        check_names=False,
    )
    used = set(link_input.memberships.loc[lambda m: m["kind"] == "prompt_template", "value"])
    assert back.template_examples == {
        k: v for k, v in link_input.template_examples.items() if k in used
    }


# --- runs through the pipeline ------------------------------------------------------


class NoReadBackStore(Neo4jStore):
    """A real Neo4j store whose ``read_input`` fails: ``link`` must not read the graph
    back after loading it (it holds the same rows in memory)."""

    def read_input(self) -> Any:
        raise AssertionError("link read the input graph back out of Neo4j")


@pytest.fixture(scope="module")
def neo4j_result(small_world: Path, neo4j_store: Neo4jStore) -> RunResult:
    store = NoReadBackStore(neo4j_store.config)
    try:
        return link(small_world, store)
    finally:
        store.close()


def test_link_loads_and_checks_without_reading_back(neo4j_result: RunResult) -> None:
    timings = neo4j_result.timings
    assert "store_load" in timings and "store_read" not in timings


def _assignment(accounts: pd.DataFrame) -> pd.DataFrame:
    cols = ["account_id", "cluster_id", "risk", "flagged", "attached"]
    out = accounts.reindex(columns=cols).sort_values("account_id", ignore_index=True)
    out["attached"] = out["attached"].fillna(False)
    return out.astype({"cluster_id": object, "flagged": bool, "risk": float, "attached": bool})


def _cluster_table(clusters: pd.DataFrame) -> pd.DataFrame:
    out = clusters[["cluster_id", "size", "risk", "flagged"]]
    return out.sort_values("cluster_id", ignore_index=True).astype(
        {"size": np.int64, "risk": float, "flagged": bool}
    )


def test_link_matches_embedded_store(
    neo4j_store: Neo4jStore, neo4j_result: RunResult, embedded_result: RunResult
) -> None:
    stored = neo4j_store.latest_run()
    assert stored is not None and stored.run_id == neo4j_result.run.run_id
    want = _assignment(embedded_result.run.accounts)
    pd.testing.assert_frame_equal(_assignment(neo4j_result.run.accounts), want)
    pd.testing.assert_frame_equal(_assignment(stored.accounts), want)
    want_clusters = _cluster_table(embedded_result.run.clusters)
    assert len(want_clusters) >= 10
    pd.testing.assert_frame_equal(_cluster_table(stored.clusters), want_clusters)
    assert len(stored.edges) == len(embedded_result.run.edges)
    assert stored.meta["n_clusters"] == len(want_clusters)


def test_published_run_is_copied_onto_accounts(
    neo4j_store: Neo4jStore, neo4j_result: RunResult, neo4j_driver: Any
) -> None:
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Account) RETURN a.account_id AS account_id, a.cluster_id AS cluster_id, "
        "a.risk AS risk, a.flagged AS flagged"
    )
    props = pd.DataFrame([r.data() for r in records])
    pd.testing.assert_frame_equal(_assignment(props), _assignment(neo4j_result.run.accounts))


def test_rerun_is_idempotent_and_keeps_cluster_ids(
    small_world: Path, neo4j_store: Neo4jStore, neo4j_result: RunResult, neo4j_driver: Any
) -> None:
    before = _input_counts(neo4j_store)
    time.sleep(1.1)  # run ids carry the time to the second
    again = link(small_world, neo4j_store).run
    first = neo4j_result.run
    assert again.run_id != first.run_id
    assert _input_counts(neo4j_store) == before
    pd.testing.assert_frame_equal(_assignment(again.accounts), _assignment(first.accounts))
    stored = neo4j_store.latest_run()
    assert stored is not None and stored.run_id == again.run_id
    pd.testing.assert_frame_equal(_cluster_table(stored.clusters), _cluster_table(first.clusters))
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (p:RunPointer {name: 'latest'}) RETURN p.run_id AS run_id, p.previous AS previous"
    )
    assert records[0].data() == {"run_id": again.run_id, "previous": first.run_id}
    counts = neo4j_store.counts()
    assert counts["Run"] == 2
    assert counts["Cluster"] == 2 * len(first.clusters)
    assert counts["SCORED"] == 2 * len(first.accounts)


def test_only_latest_and_previous_runs_are_kept(neo4j_store: Neo4jStore, neo4j_driver: Any) -> None:
    latest = neo4j_store.latest_run()
    assert latest is not None
    oldest = _value(neo4j_driver, "MATCH (p:RunPointer) RETURN p.previous")
    neo4j_store.write_run(replace(latest, run_id="kept-3"))
    assert _value(neo4j_driver, "MATCH (r:Run) RETURN collect(r.run_id)") in (
        [latest.run_id, "kept-3"],
        ["kept-3", latest.run_id],
    )
    for query in (
        "MATCH (c:Cluster {run_id: $id}) RETURN count(c)",
        "MATCH ()-[s:SCORED]->(:Run {run_id: $id}) RETURN count(s)",
        "MATCH ()-[l:LINKED {run_id: $id}]->() RETURN count(l)",
    ):
        assert _value(neo4j_driver, query, id=oldest) == 0
    counts = neo4j_store.counts()
    assert counts["LINKED"] == 2 * len(latest.edges)
    assert counts["MEMBER_OF"] == 2 * int(latest.accounts["cluster_id"].notna().sum())


# --- publishing ------------------------------------------------------------------------


def _variant(run: RunTables, run_id: str, prefix: str) -> RunTables:
    """``run`` under another id, with renamed clusters and halved risks, so that every
    table tells which of the two runs it came from."""
    clusters = run.clusters.assign(
        cluster_id=prefix + run.clusters["cluster_id"], risk=run.clusters["risk"] / 2
    )
    accounts = run.accounts.assign(
        cluster_id=run.accounts["cluster_id"].map(lambda c: None if pd.isna(c) else prefix + c),
        risk=run.accounts["risk"] / 2,
    )
    meta = {**run.meta, "run_id": run_id}
    return replace(run, run_id=run_id, clusters=clusters, accounts=accounts, meta=meta)


@pytest.fixture(scope="module")
def run_a(neo4j_store: Neo4jStore, neo4j_result: RunResult) -> RunTables:
    """The published run A (the pipeline's run under a fixed id)."""
    run = _variant(neo4j_result.run, "run-A", "a_")
    neo4j_store.write_run(run)
    return run


def _membership(run: RunTables) -> dict[str, str]:
    acc = run.accounts.dropna(subset=["cluster_id"])
    return dict(zip(acc["account_id"], acc["cluster_id"], strict=True))


def test_readers_see_one_whole_run_while_another_is_published(
    neo4j_store: Neo4jStore,
    neo4j_driver: Any,
    run_a: RunTables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_b = _variant(run_a, "run-B", "b_")
    expected = {
        run.run_id: (set(run.clusters["cluster_id"]), _membership(run)) for run in (run_a, run_b)
    }
    # many small transactions with pauses in between, so the reader gets to read
    # between any two of them
    slow = Neo4jStore(replace(neo4j_store.config, batch_size=100))
    write_now = slow._write

    def write_slowly(query: str, **params: Any) -> list[dict[str, Any]]:
        time.sleep(0.02)
        return write_now(query, **params)

    monkeypatch.setattr(slow, "_write", write_slowly)
    seen: list[str] = []
    reads = {"latest_run": 0}
    problems: list[str] = []
    done = threading.Event()

    def read_forever() -> None:
        try:
            while not done.is_set():
                # the whole run now and then, the pointer query in between (it is fast)
                if len(seen) % 8 == 0:
                    read_latest_run()
                read_by_pointer()
        except Exception as exc:  # reported by the main thread
            problems.append(repr(exc))

    def read_latest_run() -> None:
        run = neo4j_store.latest_run()
        if run is None:
            problems.append("no published run")
            return
        clusters, members = expected[run.run_id]
        if set(run.clusters["cluster_id"]) != clusters or _membership(run) != members:
            problems.append(f"latest_run() mixed runs under {run.run_id}")
        reads["latest_run"] += 1

    def read_by_pointer() -> None:
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (p:RunPointer {name: 'latest'}) "
            "MATCH (c:Cluster {run_id: p.run_id}) "
            "OPTIONAL MATCH (a:Account)-[:MEMBER_OF]->(c) "
            "RETURN p.run_id AS run_id, collect(DISTINCT c.cluster_id) AS clusters, "
            "count(a) AS members"
        )
        if not records:
            problems.append("the pointer names a run without clusters")
            return
        rec = records[0]
        clusters, members = expected[rec["run_id"]]
        if set(rec["clusters"]) != clusters or rec["members"] != len(members):
            problems.append(f"pointer query mixed runs under {rec['run_id']}")
        seen.append(rec["run_id"])

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not seen and not problems and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.perf_counter()
        slow.write_run(run_b)
        took = time.perf_counter() - started
        time.sleep(0.3)
    finally:
        done.set()
        reader.join(timeout=60)
        slow.close()
    assert not problems, problems[:5]
    # the reader ran during the write (and read whole runs, too)
    assert seen.count("run-A") >= 10, (seen.count("run-A"), took)
    assert reads["latest_run"] >= 2, reads
    assert seen[-1] == "run-B"
    assert seen == sorted(seen), "a reader went back from run B to run A"


def test_failed_write_leaves_the_published_run(
    neo4j_store: Neo4jStore, neo4j_driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = neo4j_store.latest_run()
    assert published is not None
    pointer = _value(neo4j_driver, "MATCH (p:RunPointer) RETURN properties(p)")
    run_c = _variant(published, "run-C", "c_")
    writer = Neo4jStore(replace(neo4j_store.config, batch_size=200))
    real_write = writer._write
    link_batches = 0

    def failing_write(query: str, **params: Any) -> list[dict[str, Any]]:
        nonlocal link_batches
        if query == q.CREATE_LINKS:
            link_batches += 1
            if link_batches == 3:
                raise ConnectionError("injected failure in the third batch of links")
        return real_write(query, **params)

    monkeypatch.setattr(writer, "_write", failing_write)
    with pytest.raises(ConnectionError, match="injected failure"):
        writer.write_run(run_c)

    after = neo4j_store.latest_run()
    assert after is not None and after.run_id == published.run_id
    pd.testing.assert_frame_equal(after.accounts, published.accounts)
    pd.testing.assert_frame_equal(after.clusters, published.clusters)
    assert _value(neo4j_driver, "MATCH (p:RunPointer) RETURN properties(p)") == pointer
    for query in (
        "MATCH (r:Run {run_id: $id}) RETURN count(r)",
        "MATCH (c:Cluster {run_id: $id}) RETURN count(c)",
        "MATCH ()-[l:LINKED {run_id: $id}]->() RETURN count(l)",
    ):
        assert _value(neo4j_driver, query, id="run-C") == 0
    flagged_props = _value(
        neo4j_driver, "MATCH (a:Account) WHERE a.cluster_id STARTS WITH 'c_' RETURN count(a)"
    )
    assert flagged_props == 0

    monkeypatch.undo()
    writer.write_run(run_c)  # the same run, written again, now goes through
    latest = neo4j_store.latest_run()
    assert latest is not None and latest.run_id == "run-C"
    assert _membership(latest) == _membership(run_c)
    writer.close()


def test_run_referring_to_missing_cluster_is_refused(
    neo4j_store: Neo4jStore, neo4j_driver: Any
) -> None:
    published = neo4j_store.latest_run()
    assert published is not None
    broken = _variant(published, "run-broken", "x_")
    broken.clusters = broken.clusters.iloc[1:]
    with pytest.raises(Neo4jStoreError, match="not in the clusters table"):
        neo4j_store.write_run(broken)
    assert neo4j_store.latest_run_id() == published.run_id
    assert _value(neo4j_driver, "MATCH (r:Run {run_id: 'run-broken'}) RETURN count(r)") == 0


def test_published_run_id_cannot_be_rewritten(neo4j_store: Neo4jStore) -> None:
    published = neo4j_store.latest_run()
    assert published is not None
    with pytest.raises(Neo4jStoreError, match="is the published run"):
        neo4j_store.write_run(published)
    assert neo4j_store.latest_run_id() == published.run_id


# --- values are parameters ------------------------------------------------------------

EVIL = [
    "x'}) DETACH DELETE n //",
    'q"uote`back`tick\\',
    "$rows }) MATCH (m) DETACH DELETE m RETURN 1 //",
    "`}]->(n) DETACH DELETE n WITH 1 AS x MATCH (y",
    "new\nline ☃ {brace}",
]


def _evil_input() -> LinkInput:
    t0 = pd.Timestamp("2026-03-01T12:00:00Z")
    accounts = pd.DataFrame(
        {
            "account_id": [f"evil-{i}-{v}" for i, v in enumerate(EVIL)],
            "created_at": [t0] * len(EVIL),
            "email_domain": EVIL,
            "country": ["DE"] * len(EVIL),
            "org_id": [None] * len(EVIL),
        }
    )
    rows = []
    for account, value in zip(accounts["account_id"], EVIL, strict=True):
        for kind in ("device", "payment", "prompt_template", "e`vil')-kind"):
            rows.append((account, kind, f"{kind}:{value}", 2, t0, t0, 1.0))
    memberships = pd.DataFrame(
        rows, columns=["account_id", "kind", "value", "n_obs", "first_ts", "last_ts", "strength"]
    )
    examples = {f"prompt_template:{v}": f"example {v}" for v in EVIL}
    return LinkInput(
        accounts=accounts,
        memberships=memberships,
        ip_windows=pd.DataFrame(columns=["account_id", "value", "window"]),
        template_examples=examples,
    )


def test_values_are_never_part_of_the_cypher(neo4j_store: Neo4jStore) -> None:
    before = neo4j_store.counts()
    evil = _evil_input()
    neo4j_store.load_input(evil)
    neo4j_store.load_input(evil)
    after = neo4j_store.counts()
    n = len(EVIL)
    assert after["Account"] == before["Account"] + n
    assert after["Device"] == before["Device"] + n
    assert after["PromptTemplate"] == before.get("PromptTemplate", 0) + n
    assert after["Identifier"] == before.get("Identifier", 0) + n
    unchanged = ["IP", "IPRange", "Run", "Cluster", "RunPointer", "USED_IP", "LINKED", "SCORED"]
    assert {k: after.get(k) for k in unchanged} == {k: before.get(k) for k in unchanged}

    back = neo4j_store.read_input()
    ids = set(evil.accounts["account_id"])
    got = back.memberships[back.memberships["account_id"].isin(ids)]
    key = ["account_id", "kind", "value"]
    pd.testing.assert_frame_equal(
        _sorted(got, key), _sorted(evil.memberships, key), check_dtype=False
    )
    accounts = back.accounts[back.accounts["account_id"].isin(ids)]
    assert sorted(accounts["email_domain"]) == sorted(EVIL)
    assert {k: back.template_examples[k] for k in evil.template_examples} == evil.template_examples


def test_kind_names_never_become_labels() -> None:
    query = q.membership_query("x`]->(n) DETACH DELETE n //", fresh=False)
    assert "DETACH" not in query and ":Identifier)" in query and "HAS_IDENTIFIER" in query
    assert "DETACH" not in q.merge_identifiers("x`) DETACH DELETE n //")


def _written_properties(query: str) -> set[str]:
    """The properties a node query writes: its CREATE map's keys, or its MERGE
    pattern's keys and every property it SETs."""
    create = re.search(r"CREATE \(\w*:\w+ \{(.*)\}\)", query)
    if create:
        return {part.split(":")[0].strip() for part in create.group(1).split(", ")}
    merge = re.search(r"MERGE \(\w+:\w+ \{(.*?)\}\)", query)
    assert merge is not None, query
    keys = {part.split(":")[0].strip() for part in merge.group(1).split(", ")}
    return keys | set(re.findall(r"\b[nr]\.(\w+) =", query))


@pytest.mark.parametrize(
    "kind", ["account", "ip_range", "ip", "payment", "device", "prompt_template", "email"]
)
def test_create_writes_what_merge_writes(kind: str) -> None:
    # a first load CREATEs each node with all its properties in one map, a later load
    # MERGEs it and SETs them: the two must leave the same node
    def query(create: bool) -> str:
        if kind == "account":
            return q.account_query(create=create)
        if kind == "ip_range":
            return q.ip_range_query(create=create)
        return q.merge_identifiers(kind, create=create)

    created, merged = query(True), query(False)
    assert "SET" not in created and "MERGE" not in created
    assert _written_properties(created) == _written_properties(merged)
    assert len(_written_properties(created)) >= 3


def test_attached_flags_round_trip_and_do_not_carry_ids(neo4j_store: Neo4jStore) -> None:
    latest = neo4j_store.latest_run()
    assert latest is not None
    accounts = latest.accounts.copy()
    clustered = np.flatnonzero(accounts["cluster_id"].notna().to_numpy())
    joined = clustered[::3]  # every third member: joined by a template family alone
    accounts["attached"] = False
    accounts.loc[joined, "attached"] = True
    neo4j_store.write_run(replace(latest, run_id="attached-1", accounts=accounts))
    stored = neo4j_store.latest_run()
    assert stored is not None and stored.run_id == "attached-1"
    pd.testing.assert_frame_equal(_assignment(stored.accounts), _assignment(accounts))
    previous = neo4j_store.previous_assignment()
    assert previous is not None
    assert set(previous["account_id"]) == set(accounts["account_id"]) - set(
        accounts.loc[joined, "account_id"]
    )
