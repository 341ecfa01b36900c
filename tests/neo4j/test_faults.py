"""Faults of a real Neo4j server: its java process is killed with SIGKILL in the middle
of a load and in the middle of a run write, then started again.

- a load or a write that loses the server waits for it and starts over; the store ends
  exactly as after an uninterrupted load and write (same nodes and relationships, the
  same input read back, the same published run);
- a write that cannot wait any longer fails with one line naming the server; the
  published run stays; the half-written run is deleted by the next write once its
  writer's lease has run out;
- readers (``latest_run``) see the old run or the new one, whole, never a part;
- the API keeps answering from its last good run while the server is down, and
  ``/readyz`` says so (without the driver's error text).

All of it on a DEDICATED server (its own home in a temporary folder, its own free
ports, the jars of the test instance), never the suite's shared instance or the user's.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from graph_store.base import RunTables
from graph_store.embedded import EmbeddedStore
from graph_store.neo4j import server as srv
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore, Neo4jStoreError
from linker.ingest.dataset import load_dataset
from linker.model import LinkInput
from linker.pipeline import build_link_input, link
from linker.settings import LinkSettings
from tests.neo4j import instance
from tests.neo4j.fixtures import instance_password, server_home

pytestmark = [pytest.mark.neo4j, pytest.mark.slow, pytest.mark.xdist_group("neo4j")]

MEMBERSHIPS = "PAID_WITH|USED_IP|USED_DEVICE|SENT_TEMPLATE|HAS_IDENTIFIER"


# --- the dedicated server -------------------------------------------------------------


@dataclass
class FaultServer:
    """A Neo4j server of the tests' own, which they may kill and start again."""

    home: Path
    bolt_port: int
    http_port: int
    kills: list[float] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"bolt://{srv.HOST}:{self.bolt_port}"

    def start(self) -> srv.ServerStatus:
        status = srv.start(
            self.home,
            bolt_port=self.bolt_port,
            http_port=self.http_port,
            heap="512m",
            pagecache="128m",
            timeout=instance.START_TIMEOUT,
            extra_config=instance.EXTRA_CONFIG,
        )
        assert status.running, status.message
        return status

    def kill(self) -> None:
        """SIGKILL the server's java process and wait until it is gone."""
        pid = srv.status(self.home).pid
        assert pid is not None, "the fault server is not running"
        os.kill(pid, signal.SIGKILL)
        self.kills.append(time.monotonic())
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def store(self, **config: Any) -> Neo4jStore:
        return Neo4jStore(Neo4jConfig(uri=self.uri, password=instance_password(), **config))


@pytest.fixture(scope="module")
def fault_server(
    neo4j_server: srv.ServerStatus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultServer]:
    """A server in a temporary home on free ports (not the suite's, not the user's)."""
    home = tmp_path_factory.mktemp("fault-neo4j") / "home"
    home.mkdir()
    (home / "lib").symlink_to((neo4j_server.home / "lib").resolve(), target_is_directory=True)
    shared = {int(u.rpartition(":")[2]) for u in (neo4j_server.bolt_uri, neo4j_server.http_url)}
    avoid = set(instance.USER_PORTS) | shared
    bolt = instance.free_port(avoid)
    server = FaultServer(home, bolt, instance.free_port(avoid | {bolt}))
    server.start()
    try:
        yield server
    finally:
        srv.stop(home)


@pytest.fixture(scope="module")
def probe(fault_server: FaultServer) -> Iterator[Any]:
    """A driver on the fault server for the tests' own queries (retries briefly)."""
    import neo4j

    driver = neo4j.GraphDatabase.driver(fault_server.uri, auth=(srv.USER, instance_password()))
    yield driver
    driver.close()


def _count(driver: Any, query: str, **params: Any) -> int:
    records, _, _ = driver.execute_query(query, **params)
    return int(records[0][0])


def _clear(driver: Any, home: Path) -> None:
    """Empty the fault server's database (and only that server's)."""
    assert server_home(driver) == home.resolve(), "not the fault server"
    for query in (
        "MATCH ()-[r]->() WITH r LIMIT 10000 DELETE r RETURN count(*)",
        "MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*)",
    ):
        while _count(driver, query):
            pass


# --- the data, and the store's state as one comparable value --------------------------


@pytest.fixture(scope="module")
def link_input(small_world: Path) -> LinkInput:
    return build_link_input(load_dataset(small_world), LinkSettings(), {}, None)


def _named(run: RunTables, run_id: str, scale: float) -> RunTables:
    """``run`` under ``run_id``, its risks scaled: two runs tell apart by every row."""
    accounts = run.accounts.assign(risk=run.accounts["risk"] * scale)
    clusters = run.clusters.assign(risk=run.clusters["risk"] * scale)
    meta = {**run.meta, "run_id": run_id}
    return replace(run, run_id=run_id, accounts=accounts, clusters=clusters, meta=meta)


@pytest.fixture(scope="module")
def runs(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunTables]:
    """Two runs of the small world: R1 and R2 (R2's risks halved)."""
    run = link(small_world, EmbeddedStore(tmp_path_factory.mktemp("fault-embedded"))).run
    return {"R1": _named(run, "R1", 1.0), "R2": _named(run, "R2", 0.5)}


def _table(frame: pd.DataFrame, key: list[str]) -> str:
    return frame.sort_values(key, ignore_index=True)[sorted(frame.columns)].to_json(
        date_format="iso"
    )


def run_digest(run: RunTables) -> str:
    """The run's tables as one string (its id left out)."""
    return "|".join(
        [
            _table(run.accounts, ["account_id"]),
            _table(run.clusters.drop(columns=["reasons"], errors="ignore"), ["cluster_id"]),
            _table(run.edges[["a", "b", "weight", "n_shared", "evidence"]], ["a", "b"]),
        ]
    )


def state(store: Neo4jStore, driver: Any) -> dict[str, Any]:
    """What the store holds, run ids left out: node and relationship counts, the input
    graph read back, the runs' statuses and the published run's tables."""
    back = store.read_input()
    latest = store.latest_run()
    statuses, _, _ = driver.execute_query("MATCH (r:Run) RETURN r.status AS s ORDER BY s")
    return {
        "counts": store.counts(),
        "accounts": _table(back.accounts, ["account_id"]),
        "memberships": _table(back.memberships, ["account_id", "kind", "value"]),
        "ip_windows": _table(back.ip_windows, ["account_id", "value", "window"]),
        "runs": [r["s"] for r in statuses],
        "published": run_digest(latest) if latest is not None else None,
    }


@pytest.fixture(scope="module")
def uninterrupted(
    fault_server: FaultServer, probe: Any, link_input: LinkInput, runs: dict[str, RunTables]
) -> dict[str, dict[str, Any]]:
    """The store's state after an uninterrupted load + R1 ("R1"), then + R2 ("R2"), and
    the number of memberships a whole load makes ("memberships")."""
    _clear(probe, fault_server.home)
    store = fault_server.store()
    try:
        store.load_input(link_input)
        store.write_run(runs["R1"])
        after_r1 = state(store, probe)
        store.write_run(runs["R2"])
        after_r2 = state(store, probe)
    finally:
        store.close()
    members = _count(probe, f"MATCH ()-[r:{MEMBERSHIPS}]->() RETURN count(r)")
    return {"R1": after_r1, "R2": after_r2, "memberships": {"n": members}}


# --- a job in a thread, killed when it is part-way ----------------------------------


class Job(threading.Thread):
    """Runs ``fn`` and keeps its error."""

    def __init__(self, fn: Callable[[], object]):
        super().__init__(daemon=True)
        self.fn = fn
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as err:
            self.error = err


def kill_part_way(server: FaultServer, job: Job, done: Callable[[], float]) -> float:
    """Start ``job`` and kill the server once ``done()`` (the share of the job's writes
    in the store) passes 0.3; returns that share."""
    job.start()
    deadline = time.monotonic() + 300
    share = 0.0
    while job.is_alive() and time.monotonic() < deadline:
        share = done()
        if share >= 0.3:
            break
        time.sleep(0.02)
    assert job.is_alive(), f"the job ended before it was 30% done ({share:.0%}); make it slower"
    server.kill()
    return share


class Reader(threading.Thread):
    """Reads ``latest_run()`` over and over; keeps the digest of each run read and the
    number of failed reads (the server is down)."""

    def __init__(self, store: Neo4jStore):
        super().__init__(daemon=True)
        self.store = store
        self.seen: list[tuple[str, str]] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                run = self.store.latest_run()
            except Exception:
                self.failures += 1
                time.sleep(0.2)
                continue
            if run is not None:
                self.seen.append((run.run_id, run_digest(run)))


# --- the tests ------------------------------------------------------------------------


def test_a_load_killed_part_way_starts_over_and_ends_as_an_uninterrupted_one(
    fault_server: FaultServer,
    probe: Any,
    link_input: LinkInput,
    runs: dict[str, RunTables],
    uninterrupted: dict[str, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _clear(probe, fault_server.home)
    caplog.set_level(logging.WARNING, logger="sybil_linker.neo4j")
    # small batches, one writer: many transactions, so the kill lands part-way
    store = fault_server.store(batch_size=100, writers=1, retry_seconds=3)
    total = uninterrupted["memberships"]["n"]

    def loaded() -> float:
        return _count(probe, f"MATCH ()-[r:{MEMBERSHIPS}]->() RETURN count(r)") / total

    try:
        job = Job(lambda: store.load_input(link_input))
        share = kill_part_way(fault_server, job, loaded)
        fault_server.start()
        job.join(timeout=600)
        assert not job.is_alive() and job.error is None, job.error
        assert share < 1.0
        assert any("lost the Neo4j server" in r.getMessage() for r in caplog.records)
        store.write_run(runs["R1"])  # the rest of the job
        assert state(store, probe) == uninterrupted["R1"]
    finally:
        store.close()


def test_a_write_killed_part_way_starts_over_and_readers_never_see_part_of_a_run(
    fault_server: FaultServer,
    probe: Any,
    link_input: LinkInput,
    runs: dict[str, RunTables],
    uninterrupted: dict[str, dict[str, Any]],
) -> None:
    _clear(probe, fault_server.home)
    store = fault_server.store()
    store.load_input(link_input)
    store.write_run(runs["R1"])
    writer = fault_server.store(batch_size=50, retry_seconds=3)
    reader = Reader(fault_server.store(retry_seconds=1))
    # the runs as the store gives them back (it keeps the documented columns only)
    expected = {name: uninterrupted[name]["published"] for name in ("R1", "R2")}
    n_accounts = len(runs["R2"].accounts)

    def written() -> float:
        query = "MATCH (:Run {run_id: 'R2'})<-[s:SCORED]-() RETURN count(s)"
        return _count(probe, query) / n_accounts

    try:
        reader.start()
        job = Job(lambda: writer.write_run(runs["R2"]))
        kill_part_way(fault_server, job, written)
        fault_server.start()
        job.join(timeout=600)
        assert not job.is_alive() and job.error is None, job.error
        time.sleep(1.0)  # the reader reads the new run a few times
    finally:
        reader.stop.set()
        reader.join(timeout=120)
        writer.close()
        reader.store.close()
    assert reader.seen and reader.failures > 0  # it read before, during and after
    assert all(expected.get(run_id) == digest for run_id, digest in reader.seen), (
        "a reader saw part of a run"
    )
    ids = [run_id for run_id, _ in reader.seen]
    assert ids[0] == "R1" and ids[-1] == "R2" and ids == sorted(ids)
    try:
        assert state(store, probe) == uninterrupted["R2"]
    finally:
        store.close()


def test_a_write_that_cannot_wait_fails_in_one_line_and_a_rerun_completes(
    fault_server: FaultServer,
    probe: Any,
    link_input: LinkInput,
    runs: dict[str, RunTables],
    uninterrupted: dict[str, dict[str, Any]],
) -> None:
    _clear(probe, fault_server.home)
    store = fault_server.store()
    store.load_input(link_input)
    store.write_run(runs["R1"])
    store.close()
    impatient = fault_server.store(
        batch_size=50, retry_seconds=1, reconnect_seconds=2, attempts=2, lease_seconds=4
    )
    n_accounts = len(runs["R2"].accounts)

    def written() -> float:
        query = "MATCH (:Run {run_id: 'R2'})<-[s:SCORED]-() RETURN count(s)"
        return _count(probe, query) / n_accounts

    job = Job(lambda: impatient.write_run(runs["R2"]))
    kill_part_way(fault_server, job, written)
    job.join(timeout=120)  # the server stays down
    impatient.close()
    assert isinstance(job.error, Neo4jStoreError), job.error
    message = str(job.error)
    assert "\n" not in message and fault_server.uri in message
    assert message.startswith("writing run R2: the Neo4j server at")
    assert "nothing was published" in message

    fault_server.start()
    store = fault_server.store(lease_seconds=4)
    try:
        assert store.latest_run_id() == "R1"  # readers still see the old run, whole
        assert run_digest(store.latest_run()) == uninterrupted["R1"]["published"]  # type: ignore[arg-type]
        left = _count(probe, "MATCH (r:Run {run_id: 'R2', status: 'writing'}) RETURN count(r)")
        assert left == 1  # the dead write's run, until its lease runs out
        time.sleep(max(0.0, 4.5 - (time.monotonic() - fault_server.kills[-1])))
        store.write_run(_named(runs["R2"], "R2-again", 1.0))  # a re-run: a new run id
        assert state(store, probe) == uninterrupted["R2"]
    finally:
        store.close()


def test_the_api_answers_from_its_last_good_run_while_the_server_is_down(
    fault_server: FaultServer,
    probe: Any,
    runs: dict[str, RunTables],
    tmp_path: Path,
) -> None:
    _clear(probe, fault_server.home)
    store = fault_server.store(retry_seconds=1, poll_retry_seconds=0.5)
    store.write_run(runs["R1"])
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "reader", ["risk:read"])[1]
    settings = ApiSettings(results_dir=tmp_path / "results", keys_file=keys_file, refresh_seconds=0)
    account = str(runs["R1"].accounts["account_id"].iloc[0])
    headers = {"X-API-Key": key}
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        assert client.get("/readyz").json()["run_id"] == "R1"
        before = client.get(f"/v1/accounts/{account}/risk", headers=headers).json()
        fault_server.kill()
        try:
            for _ in range(3):
                answer = client.get(f"/v1/accounts/{account}/risk", headers=headers)
                assert answer.status_code == 200 and answer.json() == before
            ready = client.get("/readyz")
            assert ready.status_code == 503
            error = ready.json()["error"]
            assert error["code"] == "not_ready"
            assert "store unreachable" in error["message"]
            assert "serving the last good run R1" in error["message"]
            for leak in ("bolt://", "127.0.0.1", "ServiceUnavailable", "Couldn't connect"):
                assert leak not in ready.text
        finally:
            fault_server.start()
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the API did not become ready again"
            time.sleep(0.5)
        assert client.get("/readyz").json()["run_id"] == "R1"
    store.close()
