"""Shared fixtures for tests that need a real Neo4j server (a pytest plugin, registered
once in tests/conftest.py; import helpers from here, never the fixtures).

``neo4j_server`` (session): the test run's OWN Neo4j instance (see
``tests/neo4j/instance.py``): its own home under ``~/.cache/sybil-linker/neo4j-test``
(or ``$SYBIL_NEO4J_TEST_ROOT``), its own free loopback ports, the jars shared with the
user's install. The pytest-xdist workers of one run share it; it is stopped and
removed when the run is over. The user's server (``sybil-linker neo4j start``, the
default home, Bolt 7687) is never started, stopped, read or written. While the
session runs, ``SYBIL_NEO4J_HOME`` points at the test instance, so code that falls
back to the default home lands there too.

``neo4j_driver`` (session): a ``neo4j`` Python driver connected to that instance.

If the instance cannot be installed or started, the fixtures FAIL. The only reason to
skip is a missing ``java``, and only outside CI (``CI`` set means fail).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from graph_store.neo4j import server as srv
except ImportError:  # repo root not on sys.path (plain `pytest` without config)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from graph_store.neo4j import server as srv

from tests.neo4j import instance

IN_CI = bool(os.environ.get("CI"))


def _test_run_id(config: pytest.Config) -> str:
    """Shared by all xdist workers of one run; unique per run otherwise."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("testrunuid"):
        return str(workerinput["testrunuid"])
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{uuid.uuid4().hex}"


def instance_password() -> str:
    """The test instance's password (set on its first start)."""
    return os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD


@pytest.fixture(scope="session")
def neo4j_server(request: pytest.FixtureRequest) -> Iterator[srv.ServerStatus]:
    """The test run's own Neo4j instance, running (started if needed)."""
    if srv.find_java() is None:
        reason = (
            "java not found: the local Neo4j server needs Java 17+ "
            "(apt-get install openjdk-17-jre-headless)"
        )
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)

    keep = bool(os.environ.get(instance.ENV_KEEP))
    try:
        st = instance.acquire(
            _test_run_id(request.config), instance.controller_pid(request.config), keep
        )
    except (srv.Neo4jServerError, RuntimeError) as exc:
        pytest.fail(f"could not start the test Neo4j instance: {exc}", pytrace=False)
    if not st.running:
        pytest.fail(f"test Neo4j instance not running after start: {st.message}", pytrace=False)
    saved_home = os.environ.get(srv.ENV_HOME)
    os.environ[srv.ENV_HOME] = str(st.home)
    try:
        yield st
    finally:
        if saved_home is None:
            os.environ.pop(srv.ENV_HOME, None)
        else:
            os.environ[srv.ENV_HOME] = saved_home
        instance.release(request.config, keep)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: srv.ServerStatus) -> Iterator[Any]:
    """A ``neo4j`` driver for the test instance (user neo4j, the configured password)."""
    if IN_CI:
        import neo4j
    else:
        neo4j = pytest.importorskip("neo4j", reason="the neo4j Python driver is not installed")
    driver = neo4j.GraphDatabase.driver(neo4j_server.bolt_uri, auth=(srv.USER, instance_password()))
    try:
        driver.verify_connectivity()
    except Exception as exc:
        driver.close()
        pytest.fail(f"neo4j driver cannot connect to {neo4j_server.bolt_uri}: {exc}", pytrace=False)
    yield driver
    driver.close()


# --- fixtures for the store, cookbook and Browser tests. Tests that write to the
# database carry pytest.mark.xdist_group("neo4j") so they run one module after another
# in one worker.

#: nodes test_server.py creates and cleans up itself; the clear below leaves them alone
_SERVER_TEST_LABEL = "SybilServerTest"
WORLD_ACCOUNTS = 1500
WORLD_SEED = 11


def server_home(driver: Any) -> Path | None:
    """The home folder of the server ``driver`` talks to, as the server reports it."""
    records, _, _ = driver.execute_query(
        "CALL dbms.listConfig() YIELD name, value "
        "WHERE name = 'server.directories.neo4j_home' RETURN value"
    )
    return Path(records[0]["value"]).resolve() if records else None


def clear_database(driver: Any, batch: int = 10_000) -> None:
    """Delete every relationship, then every node (except test_server.py's markers), in
    batches small enough for the server's transaction memory limit.

    Only on this run's test instance: a driver connected to any other server (the
    user's, above all) raises RuntimeError before anything is deleted."""
    home = server_home(driver)
    if instance.current_home is None or home != instance.current_home:
        raise RuntimeError(
            f"refusing to clear the database of the Neo4j server in {home}: it is not this "
            f"test run's instance ({instance.current_home})"
        )
    while True:
        records, _, _ = driver.execute_query(
            "MATCH ()-[r]->() WITH r LIMIT $batch DELETE r RETURN count(*) AS n", batch=batch
        )
        if not records[0]["n"]:
            break
    while True:
        records, _, _ = driver.execute_query(
            "MATCH (n) WHERE NOT $keep IN labels(n) WITH n LIMIT $batch DETACH DELETE n "
            "RETURN count(*) AS n",
            keep=_SERVER_TEST_LABEL,
            batch=batch,
        )
        if not records[0]["n"]:
            break


@pytest.fixture(scope="module")
def neo4j_empty(neo4j_driver: Any) -> Any:
    """The driver, after the database was cleared (once per test module)."""
    clear_database(neo4j_driver)
    return neo4j_driver


@pytest.fixture(scope="module")
def neo4j_store(neo4j_server: srv.ServerStatus, neo4j_empty: Any) -> Iterator[Any]:
    """A Neo4jStore on the cleared test database (one per test module)."""
    from graph_store.neo4j.store import Neo4jConfig, Neo4jStore

    store = Neo4jStore(Neo4jConfig(uri=neo4j_server.bolt_uri, password=instance_password()))
    yield store
    store.close()


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of WORLD_ACCOUNTS accounts (seed WORLD_SEED), written as
    parquet; the directory ``link`` reads."""
    from synth import generate_world
    from synth.world import write_world

    root = tmp_path_factory.mktemp(f"world-{WORLD_ACCOUNTS}-seed{WORLD_SEED}")
    write_world(generate_world(WORLD_ACCOUNTS, WORLD_SEED), root)
    return root
