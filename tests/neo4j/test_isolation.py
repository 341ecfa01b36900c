"""Proof that the test suite never touches the user's Neo4j server.

A "user's" server is started the way ``sybil-linker neo4j start`` does it, in the
default home of a temporary ``$HOME`` (``~/.cache/sybil-linker/neo4j/<version>``),
on free ports. It gets a marker node and an account whose id is also in the test
world. Then the operations the suite runs go through the suite's own fixtures and
helpers: clearing the database, ``link`` (``load_input`` and ``write_run``), a second
publish, and a load through a ``neo4j://`` (routing) URI. Afterwards the user's server
holds exactly what it held before: the same nodes and relationships, the marker, the
account untouched, and byte-identical transaction logs (nothing was committed to it).
Clearing through a driver connected to it is refused.

Costs one extra server start (and stop).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from graph_store.neo4j import server as srv
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
from linker.pipeline import link
from tests.helpers import T0, write_input
from tests.neo4j import instance
from tests.neo4j.fixtures import clear_database, instance_password

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

SHARED_ACCOUNT = "ring0"  # in the user's database and in the test world


def _ports(st: srv.ServerStatus) -> set[int]:
    return {int(st.bolt_uri.rpartition(":")[2]), int(st.http_url.rpartition(":")[2])}


@pytest.fixture
def user_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, neo4j_server: srv.ServerStatus
) -> Iterator[srv.ServerStatus]:
    """A server in the user-default home of a temporary $HOME, on free ports."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(srv.ENV_HOME, raising=False)  # the session points it at the test instance
    home = srv.default_home()
    user_default = tmp_path / "home" / ".cache" / "sybil-linker" / "neo4j" / srv.NEO4J_VERSION
    assert home == user_default.resolve()
    home.mkdir(parents=True)
    (home / "lib").symlink_to((neo4j_server.home / "lib").resolve(), target_is_directory=True)
    avoid = set(instance.USER_PORTS) | _ports(neo4j_server)
    bolt = instance.free_port(avoid)
    http = instance.free_port(avoid | {bolt})
    st = srv.start(
        bolt_port=bolt,
        http_port=http,
        heap="512m",
        pagecache="64m",
        timeout=instance.START_TIMEOUT,
        extra_config=instance.EXTRA_CONFIG,
    )
    try:
        yield st
    finally:
        srv.stop(home)


@pytest.fixture
def user_driver(user_server: srv.ServerStatus) -> Iterator[Any]:
    import neo4j

    driver = neo4j.GraphDatabase.driver(user_server.bolt_uri, auth=(srv.USER, instance_password()))
    yield driver
    driver.close()


def _world(root: Path) -> Path:
    """A ring of 8 accounts sharing a card and two devices, and 4 loners."""
    ring = [f"ring{i}" for i in range(8)]
    alone = [f"solo{i}" for i in range(4)]
    at = T0.isoformat()
    signals: list[tuple[str, str, str, str | None]]
    signals = [(a, "payment", "4111111111111111", at) for a in ring]
    signals += [(a, "device", f"dev-R{i % 2}", at) for i, a in enumerate(ring)]
    signals += [(a, "device", f"d-{a}", at) for a in alone]
    return write_input(root, ring + alone, signals)


def _snapshot(driver: Any, home: Path) -> dict[str, Any]:
    """Everything the user's database holds, and a hash of its transaction logs."""
    nodes, _, _ = driver.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, "
        "elementId(a) AS a, elementId(b) AS b"
    )
    logs = sorted((home / "data" / "transactions" / "neo4j").glob("neostore.transaction.db*"))
    digest = hashlib.sha256()
    for path in logs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        "nodes": sorted(json.dumps(r.data(), sort_keys=True, default=str) for r in nodes),
        "relationships": sorted(json.dumps(r.data(), sort_keys=True, default=str) for r in rels),
        "tx_logs": [p.name for p in logs],
        "tx_log_sha256": digest.hexdigest(),
    }


def test_the_suite_leaves_the_users_server_alone(
    user_server: srv.ServerStatus,
    user_driver: Any,
    neo4j_server: srv.ServerStatus,
    neo4j_driver: Any,
    neo4j_store: Neo4jStore,
    tmp_path: Path,
) -> None:
    assert user_server.home != neo4j_server.home
    assert not _ports(user_server) & _ports(neo4j_server)
    marker = uuid.uuid4().hex
    user_driver.execute_query(
        "CREATE (:UserMarker {marker: $m})-[:OWNS]->(:Account {account_id: $a, owner: 'user'})",
        m=marker,
        a=SHARED_ACCOUNT,
    )
    before = _snapshot(user_driver, user_server.home)
    assert len(before["nodes"]) == 2 and len(before["relationships"]) == 1
    assert before["tx_logs"]

    # what the suite does to a database, through its own fixtures and helpers
    clear_database(neo4j_driver)  # neo4j_empty, and tests/api's empty_store
    result = link(_world(tmp_path / "world"), neo4j_store)  # load_input + write_run
    neo4j_store.write_run(replace(result.run, run_id=result.run.run_id + "-second"))
    routed = Neo4jStore(
        Neo4jConfig(
            uri=neo4j_server.bolt_uri.replace("bolt://", "neo4j://"), password=instance_password()
        )
    )
    try:
        routed.load_input(neo4j_store.read_input())
        assert routed.counts()["Account"] == 12
    finally:
        routed.close()
    with pytest.raises(RuntimeError, match="refusing to clear"):
        clear_database(user_driver)

    # ... went to the test instance
    latest = neo4j_store.latest_run()
    assert latest is not None and latest.run_id == result.run.run_id + "-second"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Account {account_id: $a}) RETURN a.owner AS owner", a=SHARED_ACCOUNT
    )
    assert [r["owner"] for r in records] == [None]

    # ... and not to the user's server
    after = _snapshot(user_driver, user_server.home)
    assert after == before
    records, _, _ = user_driver.execute_query(
        "MATCH (m:UserMarker {marker: $m})-[:OWNS]->(a:Account) RETURN properties(a) AS p",
        m=marker,
    )
    assert [r["p"] for r in records] == [{"account_id": SHARED_ACCOUNT, "owner": "user"}]
    assert srv.status().pid == user_server.pid  # still the same process, never restarted
