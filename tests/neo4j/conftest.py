"""Shared fixtures for tests that need the real local Neo4j server.

``neo4j_server`` (session): installs the jars if needed, starts the server if it is not
running, and yields its :class:`ServerStatus`. A server that was already running
before this test run is never stopped. One that this run started is stopped by the
last session (pytest-xdist worker) to finish with it, unless
``SYBIL_NEO4J_KEEP_RUNNING`` is set. Workers of one run register in
``<home>/run/pytest-users/`` under a file lock, so one worker never stops the server
under another.

``neo4j_driver`` (session): a ``neo4j`` Python driver connected to that server.

If the server cannot be installed or started, the fixtures FAIL. The only reason to
skip is a missing ``java``, and only outside CI (``CI`` set means fail).
"""

from __future__ import annotations

import contextlib
import fcntl
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

IN_CI = bool(os.environ.get("CI"))
_OWNER = "started-by-pytest"  # file in <home>/run naming the test run that started it


@contextlib.contextmanager
def _pytest_lock(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "pytest.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _test_run_id(config: pytest.Config) -> str:
    """Shared by all xdist workers of one run; unique per run otherwise."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("testrunuid"):
        return str(workerinput["testrunuid"])
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def neo4j_server(request: pytest.FixtureRequest) -> Iterator[srv.ServerStatus]:
    """The running local Neo4j server (installed and started if needed)."""
    if srv.find_java() is None:
        reason = (
            "java not found: the local Neo4j server needs Java 17+ "
            "(apt-get install openjdk-17-jre-headless)"
        )
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)

    home = srv.default_home()
    run_dir = home / "run"
    run_id = _test_run_id(request.config)
    me = run_dir / "pytest-users" / f"{run_id}.{os.getpid()}"
    with _pytest_lock(run_dir):
        was_running = srv.status(home).running
        try:
            st = srv.start(home)
        except srv.Neo4jServerError as exc:
            pytest.fail(f"could not start the local Neo4j server: {exc}", pytrace=False)
        if not st.running:
            pytest.fail(f"local Neo4j server not running after start: {st.message}", pytrace=False)
        if not was_running:
            (run_dir / _OWNER).write_text(run_id)
        me.parent.mkdir(parents=True, exist_ok=True)
        me.touch()

    yield st

    with _pytest_lock(run_dir):
        me.unlink(missing_ok=True)
        others = list(me.parent.glob(f"{run_id}.*"))
        try:
            owner = (run_dir / _OWNER).read_text().strip()
        except OSError:
            owner = None
        if owner == run_id and not others and not os.environ.get("SYBIL_NEO4J_KEEP_RUNNING"):
            srv.stop(home)
            (run_dir / _OWNER).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: srv.ServerStatus) -> Iterator[Any]:
    """A ``neo4j`` driver for the local server (user neo4j, the configured password)."""
    if IN_CI:
        import neo4j
    else:
        neo4j = pytest.importorskip("neo4j", reason="the neo4j Python driver is not installed")
    password = os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD
    driver = neo4j.GraphDatabase.driver(neo4j_server.bolt_uri, auth=(srv.USER, password))
    try:
        driver.verify_connectivity()
    except Exception as exc:
        driver.close()
        pytest.fail(f"neo4j driver cannot connect to {neo4j_server.bolt_uri}: {exc}", pytrace=False)
    yield driver
    driver.close()


# --- fixtures for the store, cookbook and Browser tests (added; the ones above are
# unchanged). Tests that write to the database carry pytest.mark.xdist_group("neo4j")
# so they run one module after another in one worker.

#: nodes test_server.py creates and cleans up itself; the clear below leaves them alone
_SERVER_TEST_LABEL = "SybilServerTest"
WORLD_ACCOUNTS = 1500
WORLD_SEED = 11


def clear_database(driver: Any, batch: int = 10_000) -> None:
    """Delete every relationship, then every node (except test_server.py's markers), in
    batches small enough for the server's transaction memory limit."""
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

    password = os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD
    store = Neo4jStore(Neo4jConfig(uri=neo4j_server.bolt_uri, password=password))
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
