"""The Neo4j store's driver asks the server for no notifications, so ``link --store
neo4j`` does not print lines such as ``GqlStatusObject gql_status='01N52' ... property
attributes does not exist`` (the driver logs notifications as warnings, and with no
logging configured Python prints warnings on stderr).

Read-only: the tests only run a query that reads a property no node has.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graph_store.neo4j import server as srv
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
from tests.neo4j.fixtures import instance_password

pytestmark = pytest.mark.neo4j

REPO = Path(__file__).resolve().parents[2]
#: reads a property key that does not exist: the server notifies 01N52
QUERY = "MATCH (n:Account) RETURN n.sybil_no_such_property AS x LIMIT 1"

STORE_SCRIPT = f"""
import os
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
store = Neo4jStore(Neo4jConfig(uri=os.environ["URI"], password=os.environ["PASSWORD"]))
print(store._read({QUERY!r}))
store.close()
"""
DRIVER_SCRIPT = f"""
import os, neo4j
driver = neo4j.GraphDatabase.driver(os.environ["URI"], auth=("neo4j", os.environ["PASSWORD"]))
driver.execute_query({QUERY!r})
driver.close()
"""


def _python(script: str, server: srv.ServerStatus) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter with no logging set up, as in ``link``."""
    env = dict(os.environ, URI=server.bolt_uri, PASSWORD=instance_password())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def _notification_codes(summary: Any) -> set[str]:
    return {s.gql_status for s in summary.gql_status_objects if s.is_notification}


def test_the_query_notifies_through_a_plain_driver(
    neo4j_server: srv.ServerStatus, neo4j_driver: Any
) -> None:
    """The control: without the setting the server notifies, and it is printed."""
    _, summary, _ = neo4j_driver.execute_query(QUERY)
    assert "01N52" in _notification_codes(summary)
    proc = _python(DRIVER_SCRIPT, neo4j_server)
    assert proc.returncode == 0, proc.stderr
    assert "01N52" in proc.stderr and "sybil_no_such_property" in proc.stderr


def test_the_store_prints_no_notifications(neo4j_server: srv.ServerStatus) -> None:
    proc = _python(STORE_SCRIPT, neo4j_server)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in ("[]", "[{'x': None}]")
    assert proc.stderr == ""


def test_the_store_logs_no_notifications(
    neo4j_server: srv.ServerStatus, caplog: pytest.LogCaptureFixture
) -> None:
    store = Neo4jStore(Neo4jConfig(uri=neo4j_server.bolt_uri, password=instance_password()))
    try:
        with caplog.at_level(logging.DEBUG, logger="neo4j.notifications"):
            store._read(QUERY)
            with store._session() as session:
                summary = session.run(QUERY).consume()
    finally:
        store.close()
    assert not _notification_codes(summary)
    assert not [r for r in caplog.records if r.name.startswith("neo4j.notifications")]
