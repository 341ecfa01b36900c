"""Read-only network probes of a local server: is a port taken, does it speak Bolt,
does Neo4j's HTTP discovery answer, is a password accepted."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request

from graph_store.neo4j.server.common import HOST, USER


def port_open(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def bolt_handshake(port: int, host: str = HOST, timeout: float = 2.0) -> str | None:
    """Do a raw Bolt handshake and return the agreed version (e.g. ``"5.7"``).

    Returns None when nothing answers on the port or what answers is not Bolt.
    Proposes Bolt 5.0-5.8 and 4.4; a Bolt server that supports none of them answers
    ``"0.0"``.
    """
    proposal = (
        b"\x60\x60\xb0\x17"  # Bolt magic preamble
        + bytes([0, 8, 8, 5])  # 5.8 and the 8 minor versions below it
        + bytes([0, 0, 4, 4])  # 4.4
        + bytes(8)
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(proposal)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return None
                reply += chunk
    except OSError:
        return None
    if reply[:2] != b"\x00\x00":
        return None  # not a Bolt server (HTTP, for one, answers with text)
    return f"{reply[3]}.{reply[2]}"


def _http_get_json(url: str, timeout: float = 2.0) -> dict[str, object] | None:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return data if isinstance(data, dict) else None


def http_discovery(port: int, timeout: float = 2.0) -> dict[str, object] | None:
    """Neo4j's HTTP discovery document (``GET /``) if a Neo4j server answers there."""
    data = _http_get_json(f"http://{HOST}:{port}/", timeout=timeout)
    return data if data and "neo4j_version" in data else None


def check_auth(http_port: int, password: str, timeout: float = 10.0) -> bool | None:
    """True/False whether ``neo4j``/``password`` is accepted; None if unknown."""
    body = json.dumps({"statements": [{"statement": "RETURN 1"}]}).encode()
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://{HOST}:{http_port}/db/system/tx/commit",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Basic {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return False if exc.code == 401 else None
    except (OSError, ValueError):
        return None
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        codes = " ".join(str(e.get("code", "")) for e in errors if isinstance(e, dict))
        return False if "Security" in codes else None
    return True
