"""Tests of graph_store.neo4j.server against a REAL Neo4j server: the test run's own
instance (fixture ``neo4j_server``, see tests/neo4j/instance.py), never the user's.

The instance is never stopped here. Tests that need a second, throw-away home share
the installed jars through a symlink and never start a JVM.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from graph_store.neo4j import server as srv
from graph_store.neo4j.server.config import render_conf
from tests.neo4j import instance

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.neo4j


def _ports(st: srv.ServerStatus) -> dict[str, int]:
    return {
        "bolt_port": int(st.bolt_uri.rpartition(":")[2]),
        "http_port": int(st.http_url.rpartition(":")[2]),
    }


def test_the_suite_runs_on_its_own_instance(neo4j_server: srv.ServerStatus) -> None:
    """Not the user's home, not the user's ports; SYBIL_NEO4J_HOME points at it."""
    assert neo4j_server.home.is_relative_to(instance.test_root())
    assert neo4j_server.home.name.startswith(("run-", "kept"))
    assert not set(_ports(neo4j_server).values()) & instance.USER_PORTS
    assert srv.default_home() == neo4j_server.home  # for the session only
    assert (neo4j_server.home / "lib").is_symlink()  # jars shared, the rest its own
    for own in ("conf", "data", "logs", "run"):
        assert not (neo4j_server.home / own).is_symlink()


def test_status_reports_running(neo4j_server: srv.ServerStatus) -> None:
    st = srv.status(neo4j_server.home)
    assert st.running, st.message
    assert st.pid == neo4j_server.pid and st.pid is not None
    assert st.bolt_uri == neo4j_server.bolt_uri
    assert st.http_url == neo4j_server.http_url
    assert st.home == neo4j_server.home
    assert st.message.startswith("running")
    assert int((st.home / "run" / "neo4j.pid").read_text()) == st.pid


def test_bolt_answers_raw_handshake(neo4j_server: srv.ServerStatus) -> None:
    port = int(neo4j_server.bolt_uri.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x60\x60\xb0\x17" + bytes([0, 8, 8, 5]) + bytes(12))
        reply = sock.recv(4)
    assert len(reply) == 4 and reply[:2] == b"\x00\x00" and reply[3] == 5, reply
    assert (srv.bolt_handshake(port) or "").startswith("5.")


def test_return_1_through_driver(neo4j_driver: Any) -> None:
    records, _, _ = neo4j_driver.execute_query("RETURN 1 AS one")
    assert [r["one"] for r in records] == [1]


def test_write_and_read_back(neo4j_driver: Any) -> None:
    marker = f"server-test-{os.getpid()}"
    try:
        neo4j_driver.execute_query("CREATE (:SybilServerTest {marker: $m})", m=marker)
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (n:SybilServerTest {marker: $m}) RETURN count(n) AS c", m=marker
        )
        assert records[0]["c"] == 1
    finally:
        neo4j_driver.execute_query("MATCH (n:SybilServerTest {marker: $m}) DELETE n", m=marker)


def test_second_start_says_already_running(neo4j_server: srv.ServerStatus) -> None:
    ports = _ports(neo4j_server)
    again = srv.start(neo4j_server.home, bolt_port=ports["bolt_port"], http_port=ports["http_port"])
    assert again.running
    assert again.pid == neo4j_server.pid
    assert "already running" in again.message


def test_start_with_wrong_password_is_refused(neo4j_server: srv.ServerStatus) -> None:
    with pytest.raises(srv.Neo4jServerError, match="rejects user 'neo4j'"):
        srv.start(neo4j_server.home, password="definitely-not-the-password")
    assert srv.status(neo4j_server.home).pid == neo4j_server.pid  # and it is untouched


def test_browser_is_served(neo4j_server: srv.ServerStatus) -> None:
    with urllib.request.urlopen(f"{neo4j_server.http_url}/browser/", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers.get_content_type() == "text/html"
        body = resp.read().decode("utf-8", "replace")
    assert "<title>Neo4j Browser</title>" in body


def test_bolt_accepts_websocket_upgrade_for_the_browser(neo4j_server: srv.ServerStatus) -> None:
    """The Browser UI talks Bolt over a WebSocket on the Bolt port."""
    port = int(neo4j_server.bolt_uri.rpartition(":")[2])
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {neo4j_server.http_url}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(1024).decode("latin-1").splitlines()[0]
    assert status_line.startswith("HTTP/1.1 101"), status_line


def test_http_discovery_is_community_of_pinned_version(neo4j_server: srv.ServerStatus) -> None:
    request = urllib.request.Request(
        neo4j_server.http_url + "/", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        info = json.loads(resp.read())
    assert info["neo4j_edition"] == "community"
    assert info["neo4j_version"] == srv.NEO4J_VERSION
    assert info["bolt_direct"] == neo4j_server.bolt_uri
    assert info["bolt_routing"] == neo4j_server.bolt_uri.replace("bolt://", "neo4j://")


def test_routing_table_names_the_servers_own_port(
    neo4j_server: srv.ServerStatus, neo4j_driver: Any
) -> None:
    """A neo4j:// driver goes where the routing table says: the advertised address,
    which Neo4j sets to port 7687 unless told otherwise (the user's server)."""
    records, _, _ = neo4j_driver.execute_query(
        "CALL dbms.routing.getRoutingTable({}, 'neo4j') YIELD servers RETURN servers"
    )
    addresses = {a for server in records[0]["servers"] for a in server["addresses"]}
    assert addresses == {neo4j_server.bolt_uri.removeprefix("bolt://")}


def test_config_is_loopback_and_silent(neo4j_driver: Any) -> None:
    records, _, _ = neo4j_driver.execute_query(
        "CALL dbms.listConfig() YIELD name, value WHERE name IN $names RETURN name, value",
        names=[
            "server.bolt.listen_address",
            "server.http.listen_address",
            "server.https.enabled",
            "dbms.usage_report.enabled",
            "client.allow_telemetry",
        ],
    )
    cfg = {r["name"]: r["value"] for r in records}
    assert cfg["server.bolt.listen_address"].startswith("127.0.0.1:")
    assert cfg["server.http.listen_address"].startswith("127.0.0.1:")
    assert cfg["server.https.enabled"] == "false"
    assert cfg["dbms.usage_report.enabled"] == "false"
    assert cfg["client.allow_telemetry"] == "false"


def test_cli_status_exit_code(neo4j_server: srv.ServerStatus) -> None:
    env = dict(os.environ, SYBIL_NEO4J_HOME=str(neo4j_server.home))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "graph_store.neo4j.server", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neo4j running"), proc.stdout


# ---- throw-away homes (no JVM started) -------------------------------------------


@pytest.fixture()
def spare_home(tmp_path: Path, neo4j_server: srv.ServerStatus) -> Path:
    """An empty home whose lib/ is a symlink to the installed jars."""
    home = tmp_path / "neo4j-home"
    home.mkdir()
    (home / "lib").symlink_to(neo4j_server.home / "lib", target_is_directory=True)
    assert srv.is_installed(home)
    return home


def test_status_and_stop_of_a_home_that_never_ran(spare_home: Path) -> None:
    st = srv.status(spare_home)
    assert not st.running and st.pid is None
    assert st.message.startswith("not running")
    assert srv.stop(spare_home) is False


def test_stale_pid_file_is_not_running(spare_home: Path) -> None:
    (spare_home / "run").mkdir()
    (spare_home / "run" / "neo4j.pid").write_text(f"{os.getpid()}\n")  # alive, but not Neo4j
    st = srv.status(spare_home)
    assert not st.running and st.pid is None
    assert "stale pid file" in st.message
    assert srv.stop(spare_home) is False
    assert not (spare_home / "run" / "neo4j.pid").exists()


def test_start_on_a_taken_port_fails_clearly(spare_home: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        with socket.socket() as free_sock:
            free_sock.bind(("127.0.0.1", 0))
            free = free_sock.getsockname()[1]
        with pytest.raises(srv.Neo4jServerError, match=f"port 127.0.0.1:{taken} is already in use"):
            srv.start(spare_home, bolt_port=taken, http_port=free, timeout=30)
    assert not (spare_home / "run" / "neo4j.pid").exists()


def test_bad_arguments_are_rejected_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(srv.Neo4jServerError, match="at least 8"):
        srv.start(tmp_path, password="short")
    with pytest.raises(srv.Neo4jServerError, match="heap"):
        srv.start(tmp_path, heap="lots")
    with pytest.raises(srv.Neo4jServerError, match="both"):
        srv.start(tmp_path, bolt_port=7000, http_port=7000)
    assert list(tmp_path.iterdir()) == []


def test_rendered_config_pins_loopback_memory_and_no_telemetry() -> None:
    conf = render_conf(7687, 7474, "2g", "1g", {"db.logs.query.enabled": "OFF"})
    settings = dict(
        line.split("=", 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert settings["server.default_listen_address"] == "127.0.0.1"
    assert settings["server.bolt.listen_address"] == "127.0.0.1:7687"
    assert settings["server.http.listen_address"] == "127.0.0.1:7474"
    assert settings["server.bolt.advertised_address"] == "127.0.0.1:7687"
    assert settings["server.http.advertised_address"] == "127.0.0.1:7474"
    assert settings["server.memory.pagecache.size"] == "1g"
    assert settings["dbms.usage_report.enabled"] == "false"
    assert settings["client.allow_telemetry"] == "false"
    assert settings["db.logs.query.enabled"] == "OFF"


def test_rendered_config_advertises_the_listen_ports() -> None:
    conf = render_conf(17687, 17474, "1g", "512m")
    settings = dict(
        line.split("=", 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert settings["server.bolt.advertised_address"] == "127.0.0.1:17687"
    assert settings["server.http.advertised_address"] == "127.0.0.1:17474"
