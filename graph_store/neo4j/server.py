"""A local Neo4j Community server that the project installs and runs itself.

No Docker and no tarball: the server's jars come from Maven Central (resolved by
``mvn``) into a cache folder, and the server runs as a plain detached ``java``
process started with :data:`ENTRY_POINT`. Everything lives under one *home* folder::

    <home>/lib/            jars (+ .sybil-install.json marker)   -- install()
    <home>/install/pom.xml the generated pom used to resolve them
    <home>/conf/neo4j.conf rewritten on every start()
    <home>/data/           databases, transaction logs, auth (data/dbms)
    <home>/logs/           neo4j.log, debug.log, ... and neo4j.out (JVM stdout/stderr)
    <home>/run/neo4j.pid   pid of the running server; run/server.lock serialises start/stop

The default home is ``~/.cache/sybil-linker/neo4j/<version>``; the environment variable
``SYBIL_NEO4J_HOME`` overrides it.

The server is for local development and tests only: it listens on 127.0.0.1 only, and
its default password (:data:`DEFAULT_PASSWORD`, overridable with ``SYBIL_NEO4J_PASSWORD``)
is public. Usage-data reporting and Browser telemetry are switched off.

Command line (one line of output each; non-zero exit code on failure)::

    python -m graph_store.neo4j.server install|start|stop|status [options]

This module uses the standard library only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

try:  # POSIX only; without it start/stop are not serialised between processes.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BROWSER_VERSION",
    "DEFAULT_PASSWORD",
    "NEO4J_VERSION",
    "Neo4jServerError",
    "ServerStatus",
    "bolt_handshake",
    "default_home",
    "find_java",
    "install",
    "is_installed",
    "start",
    "status",
    "stop",
]

#: Neo4j Community version (5.26 is the LTS line; runs on Java 17 and 21).
NEO4J_VERSION = "5.26.30"
#: Neo4j Browser UI, served by the server from its classpath at /browser/.
BROWSER_VERSION = "5.24.0"
#: Maven plugin used to copy the resolved jars (pinned: Maven's default is ancient).
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
#: Main class of the Community server (what the ``neo4j`` launcher script runs).
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
#: Main class of ``neo4j-admin``.
ADMIN_TOOL = "org.neo4j.cli.AdminTool"

#: Public, dev-only default password. The server listens on loopback only.
DEFAULT_PASSWORD = "sybil-linker-dev"
USER = "neo4j"
HOST = "127.0.0.1"
ENV_HOME = "SYBIL_NEO4J_HOME"
ENV_PASSWORD = "SYBIL_NEO4J_PASSWORD"

MIN_JAVA = 17
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length default

#: The Maven artifacts that make up the server: Bolt + Cypher + kernel, the HTTP
#: server with CommunityEntryPoint, and the Browser UI.
ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    ("org.neo4j", "neo4j", "{version}"),
    ("org.neo4j.app", "neo4j-server", "{version}"),
    ("org.neo4j.client", "neo4j-browser", BROWSER_VERSION),
)

#: JVM flags of the official distribution's default neo4j.conf (server.jvm.additional),
#: minus -XX:+AlwaysPreTouch (it makes start slower and commits the whole heap at once).
#: The --add-opens flags matter: without them the page cache and the transaction-log
#: native accessors fall back to slower paths and log warnings.
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)

_MARKER = ".sybil-install.json"
_SIZE_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_LOG_TAIL_LINES = 40

# Processes started by this Python process: polled so that a server that died (or
# was stopped) is reaped instead of lingering as a zombie that still "exists".
_children: dict[int, subprocess.Popen[bytes]] = {}


class Neo4jServerError(RuntimeError):
    """The local Neo4j server could not be installed, started, stopped or reached."""


@dataclass(frozen=True)
class ServerStatus:
    """What is known about the local server in one home folder.

    ``running`` is true only when the pid file names a live server process of this
    home *and* both its Bolt port and its HTTP port answer.
    """

    running: bool
    pid: int | None
    bolt_uri: str
    http_url: str
    home: Path
    message: str


# --------------------------------------------------------------------------- paths


def default_home(version: str = NEO4J_VERSION) -> Path:
    """The home folder used when none is given: ``$SYBIL_NEO4J_HOME`` if set, else
    ``~/.cache/sybil-linker/neo4j/<version>``."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".cache" / "sybil-linker" / "neo4j" / version).resolve()


def _home(home: Path | str | None, version: str = NEO4J_VERSION) -> Path:
    return default_home(version) if home is None else Path(home).expanduser().resolve()


def _pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def _conf_file(home: Path) -> Path:
    return home / "conf" / "neo4j.conf"


def _out_file(home: Path) -> Path:
    return home / "logs" / "neo4j.out"


def _marker(home: Path) -> Path:
    return home / "lib" / _MARKER


def _password(password: str | None) -> str:
    return password if password is not None else os.environ.get(ENV_PASSWORD) or DEFAULT_PASSWORD


# --------------------------------------------------------------------------- tools


def find_java() -> str | None:
    """Path of the ``java`` executable (``$JAVA_HOME/bin/java`` first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def _require_java() -> str:
    java = find_java()
    if java is None:
        raise Neo4jServerError(
            f"java not found (neither $JAVA_HOME/bin/java nor java on PATH); Neo4j "
            f"{NEO4J_VERSION} needs Java {MIN_JAVA} or 21, "
            "e.g. `apt-get install openjdk-17-jre-headless`"
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Neo4jServerError(f"could not run {java} -version: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_x" style
            major = int(match.group(2))
        if major < MIN_JAVA:
            raise Neo4jServerError(
                f"{java} is Java {major}; Neo4j {NEO4J_VERSION} needs Java {MIN_JAVA} or newer"
            )
    return java


def _require_mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jServerError(
            "mvn (Apache Maven) not found on PATH; it is needed once to fetch the Neo4j jars "
            "from Maven Central, e.g. `apt-get install maven`"
        )
    return mvn


# --------------------------------------------------------------------------- install


def is_installed(home: Path | None = None, version: str = NEO4J_VERSION) -> bool:
    """True if ``home/lib`` holds a complete install of ``version``."""
    home = _home(home, version)
    try:
        info = json.loads(_marker(home).read_text())
    except (OSError, ValueError):
        return False
    if info.get("version") != version or info.get("browser") != BROWSER_VERSION:
        return False
    lib = home / "lib"
    return all((lib / name).is_file() for name in info.get("jars", [])) and bool(info.get("jars"))


def _pom(version: str) -> str:
    deps = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v.format(version=version)}</version></dependency>"
        for g, a, v in ARTIFACTS
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by graph_store/neo4j/server.py: the jars of a Neo4j Community server. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sybil-linker</groupId>
  <artifactId>neo4j-server-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def install(home: Path | None = None, version: str = NEO4J_VERSION) -> Path:
    """Put the Neo4j Community ``version`` jars (server, Bolt, Cypher, Browser UI) in
    ``home/lib`` and return ``home``.

    Idempotent: returns at once when the jars are already there. Otherwise writes
    ``home/install/pom.xml`` and runs ``mvn -q -B dependency:copy-dependencies`` (the
    only network access: Maven Central, through ``~/.m2``). The jars land in a
    temporary folder that is renamed into place, so an interrupted install never
    looks complete.

    Raises:
        Neo4jServerError: mvn is missing or fails (the message has the tail of its output),
            or the installed jars lack the server's entry point.
    """
    home = _home(home, version)
    if is_installed(home, version):
        return home
    mvn = _require_mvn()
    install_dir = home / "install"
    install_dir.mkdir(parents=True, exist_ok=True)
    pom = install_dir / "pom.xml"
    pom.write_text(_pom(version))
    staging = home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-ntp",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired as exc:
        raise Neo4jServerError(f"mvn did not finish within 30 minutes: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-_LOG_TAIL_LINES:])
        raise Neo4jServerError(
            f"mvn failed (exit {proc.returncode}) resolving Neo4j {version} jars from Maven "
            f"Central: {' '.join(cmd)}\n{tail}"
        )
    jars = sorted(p.name for p in staging.glob("*.jar"))
    if f"neo4j-{version}.jar" not in jars or f"neo4j-server-{version}.jar" not in jars:
        raise Neo4jServerError(
            f"mvn finished but {staging} lacks neo4j/neo4j-server {version} jars"
        )
    (staging / _MARKER).write_text(
        json.dumps({"version": version, "browser": BROWSER_VERSION, "jars": jars}, indent=1)
    )
    lib = home / "lib"
    if lib.exists() or lib.is_symlink():
        if status(home).pid is not None:
            shutil.rmtree(staging, ignore_errors=True)
            raise Neo4jServerError(f"refusing to replace {lib} while the server in {home} runs")
        if lib.is_symlink() or lib.is_file():
            lib.unlink()
        else:
            shutil.rmtree(lib)
    staging.rename(lib)
    return home


# --------------------------------------------------------------------------- probes


def _port_open(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
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


def _http_discovery(port: int, timeout: float = 2.0) -> dict[str, object] | None:
    """Neo4j's HTTP discovery document (``GET /``) if a Neo4j server answers there."""
    data = _http_get_json(f"http://{HOST}:{port}/", timeout=timeout)
    return data if data and "neo4j_version" in data else None


def _check_auth(http_port: int, password: str, timeout: float = 10.0) -> bool | None:
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


# --------------------------------------------------------------------------- process


def _read_pid(home: Path) -> int | None:
    try:
        return int(_pid_file(home).read_text().strip())
    except (OSError, ValueError):
        return None


def _process_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:  # reaps it
            _children.pop(pid, None)
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still "exists" for kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _is_our_server(pid: int, home: Path) -> bool:
    """Whether ``pid`` is a live Neo4j server process of ``home`` (guards pid reuse)."""
    if not _process_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return ENTRY_POINT.encode() in args and f"--home-dir={home}".encode() in args


def _configured_ports(home: Path) -> tuple[int, int]:
    """(bolt, http) ports from ``home/conf/neo4j.conf``, else the defaults."""
    bolt, http = 7687, 7474
    try:
        lines = _conf_file(home).read_text().splitlines()
    except OSError:
        return bolt, http
    for line in lines:
        key, _, value = line.partition("=")
        port = value.strip().rpartition(":")[2]
        if not port.isdigit():
            continue
        if key.strip() == "server.bolt.listen_address":
            bolt = int(port)
        elif key.strip() == "server.http.listen_address":
            http = int(port)
    return bolt, http


def _tail(path: Path, lines: int = _LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _log_sizes(home: Path) -> dict[Path, int]:
    """Current sizes of the log files, so that a failure shows only what is new."""
    sizes = {}
    for path in (_out_file(home), home / "logs" / "neo4j.log"):
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            sizes[path] = 0
    return sizes


def _log_tail(home: Path, since: Mapping[Path, int] | None = None) -> str:
    """The last lines of the JVM output and of neo4j.log (only what follows ``since``)."""
    parts = []
    for path in (_out_file(home), home / "logs" / "neo4j.log"):
        offset = (since or {}).get(path, 0)
        try:
            if path.stat().st_size < offset:  # rotated
                offset = 0
        except OSError:
            continue
        tail = _tail(path, offset=offset)
        if tail.strip():
            parts.append(f"--- tail of {path} ---\n{tail}")
    return "\n".join(parts) if parts else f"(no new log output in {home / 'logs'})"


@contextlib.contextmanager
def _locked(home: Path, timeout: float) -> Iterator[None]:
    """Serialise start/stop on one home between processes (e.g. pytest-xdist workers)."""
    run = home / "run"
    run.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(run / "server.lock", "a+") as handle:
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise Neo4jServerError(
                        f"timed out waiting for {run / 'server.lock'} (another start/stop of "
                        f"the server in {home} is in progress)"
                    ) from exc
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- status


def status(home: Path | None = None) -> ServerStatus:
    """Report truthfully whether the server in ``home`` runs.

    Reads the pid file, checks that the process is alive and is this home's Neo4j,
    and probes the Bolt port (real Bolt handshake) and the HTTP port (Neo4j's
    discovery document). Never starts, stops or changes anything.
    """
    home = _home(home)
    bolt_port, http_port = _configured_ports(home)
    bolt_uri, http_url = f"bolt://{HOST}:{bolt_port}", f"http://{HOST}:{http_port}"

    def result(running: bool, pid: int | None, message: str) -> ServerStatus:
        return ServerStatus(running, pid, bolt_uri, http_url, home, message)

    pid = _read_pid(home)
    if pid is None or not _is_our_server(pid, home):
        others = [p for p in (bolt_port, http_port) if _port_open(p)]
        stale = " (stale pid file)" if pid is not None else ""
        busy = (
            f"; port(s) {', '.join(map(str, others))} in use by another process" if others else ""
        )
        return result(False, None, f"not running{stale}{busy} [home {home}]")
    bolt = bolt_handshake(bolt_port)
    discovery = _http_discovery(http_port)
    if bolt and discovery:
        version = discovery.get("neo4j_version", "?")
        return result(
            True,
            pid,
            f"running: Neo4j {version} pid {pid}, Bolt {bolt} at {bolt_uri}, "
            f"Browser at {http_url}/browser/",
        )
    missing = [name for name, ok in (("Bolt", bolt), ("HTTP", discovery)) if not ok]
    return result(
        False,
        pid,
        f"process {pid} alive but {' and '.join(missing)} not answering "
        f"(starting up, shutting down or hung; see {home / 'logs'})",
    )


# --------------------------------------------------------------------------- start


def _render_conf(
    bolt_port: int,
    http_port: int,
    heap: str,
    pagecache: str,
    extra_config: Mapping[str, str] | None = None,
) -> str:
    lines = [
        "# Generated by graph_store/neo4j/server.py on every start: edits here are lost",
        "# (pass extra_config= to start() instead). Local development server only:",
        "# it listens on loopback and its default password is public.",
        "",
        "# Network: loopback only, plain Bolt + HTTP, no HTTPS.",
        f"server.default_listen_address={HOST}",
        f"server.default_advertised_address={HOST}",
        "server.bolt.enabled=true",
        f"server.bolt.listen_address={HOST}:{bolt_port}",
        "server.bolt.tls_level=DISABLED",
        "server.http.enabled=true",
        f"server.http.listen_address={HOST}:{http_port}",
        "server.https.enabled=false",
        "",
        "# Memory, sized for a 2-core / 24 GB machine shared with the rest of the pipeline.",
        "# The JVM gets the heap as -Xms/-Xmx (these two settings are only read by the",
        "# neo4j launcher script, which we do not use; kept here for reference).",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={pagecache}",
        "# Keep transaction logs from growing without bound on a dev disk.",
        "db.tx_log.rotation.retention_policy=1G size",
        "",
        "# No outbound network calls: no usage-data reporting, no Browser telemetry,",
        "# Browser guides only from localhost.",
        "dbms.usage_report.enabled=false",
        "internal.dbms.usage_report.udc_network_enabled=false",
        "client.allow_telemetry=false",
        "browser.remote_content_hostname_whitelist=localhost",
        "server.bolt.telemetry.enabled=false",
        "",
        "# Stop in ~2 s instead of ~12 s (Bolt waits 5 s twice for idle connections).",
        "internal.server.bolt.connection_shutdown_wait_time=1s",
        "internal.server.bolt.thread_pool_shutdown_wait_time=1s",
    ]
    if extra_config:
        lines += ["", "# extra_config passed to start()"]
        lines += [f"{key}={value}" for key, value in extra_config.items()]
    return "\n".join(lines) + "\n"


def _java_cmd(java: str, home: Path, heap: str) -> list[str]:
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *JVM_FLAGS,
        "-cp",
        str(home / "lib" / "*"),
        ENTRY_POINT,
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]


def _set_initial_password(java: str, home: Path, password: str) -> None:
    env = dict(os.environ, NEO4J_HOME=str(home), NEO4J_CONF=str(home / "conf"))
    cmd = [
        java,
        "-Xmx256m",
        "-cp",
        str(home / "lib" / "*"),
        ADMIN_TOOL,
        "dbms",
        "set-initial-password",
        password,
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise Neo4jServerError("neo4j-admin dbms set-initial-password timed out") from exc
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).replace(password, "***").strip()
        raise Neo4jServerError(f"neo4j-admin dbms set-initial-password failed:\n{out}")


def _wait_ready(
    home: Path, pid: int, bolt_port: int, http_port: int, deadline: float
) -> ServerStatus | None:
    """Wait until the server answers on both ports; None if the process died."""
    while True:
        if not _process_alive(pid):
            return None
        current = status(home)
        if current.running:
            return current
        if time.monotonic() > deadline:
            return current
        time.sleep(0.25)


def _validate(password: str, bolt_port: int, http_port: int, heap: str, pagecache: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Neo4jServerError(
            f"the Neo4j password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    for name, port in (("bolt_port", bolt_port), ("http_port", http_port)):
        if not 0 < int(port) < 65536:
            raise Neo4jServerError(f"{name}={port} is not a TCP port")
    if bolt_port == http_port:
        raise Neo4jServerError(f"bolt_port and http_port are both {bolt_port}")
    for name, size in (("heap", heap), ("pagecache", pagecache)):
        if not _SIZE_RE.match(size):
            raise Neo4jServerError(f"{name}={size!r} is not a size such as '512m' or '2g'")


def start(
    home: Path | None = None,
    password: str | None = None,
    bolt_port: int = 7687,
    http_port: int = 7474,
    heap: str = "2g",
    pagecache: str = "2g",
    timeout: float = 120,
    extra_config: Mapping[str, str] | None = None,
) -> ServerStatus:
    """Start the local Neo4j server in ``home`` (installing it first if needed).

    Writes ``conf/neo4j.conf`` (loopback only, ``heap`` as -Xms/-Xmx, ``pagecache``
    page cache, no usage reporting), sets the initial password before the very
    first start, launches a detached ``java`` process (own session, pid in
    ``run/neo4j.pid``, output in ``logs/neo4j.out``) and waits up to ``timeout``
    seconds until its Bolt port completes a Bolt handshake and its HTTP port serves
    Neo4j's discovery document.

    ``password`` defaults to ``$SYBIL_NEO4J_PASSWORD``, else :data:`DEFAULT_PASSWORD`.
    It only takes effect on the first start of a home (Neo4j stores it in
    ``data/dbms``); later starts check that it is accepted.

    If the server already runs, nothing is started: the returned status says
    "already running". ``extra_config`` adds neo4j.conf settings (unknown names make
    Neo4j refuse to start).

    Raises:
        Neo4jServerError: java or mvn missing, a port taken by another process, the
            server died or did not answer in time (with the tail of its logs), or the
            password is not the one the server was initialised with.
    """
    home = _home(home)
    password = _password(password)
    _validate(password, bolt_port, http_port, heap, pagecache)
    java = _require_java()
    begun = time.monotonic()
    deadline = begun + timeout
    with _locked(home, timeout):
        current = status(home)
        if current.pid is not None and not current.running:
            # Someone else's start is still in progress (or the server is shutting down).
            ready = _wait_ready(home, current.pid, *_configured_ports(home), deadline)
            current = ready if ready is not None else status(home)
        if current.running:
            _ensure_password(home, current, password)
            wanted = (f"bolt://{HOST}:{bolt_port}", f"http://{HOST}:{http_port}")
            note = ""
            if wanted != (current.bolt_uri, current.http_url):
                note = " (on its configured ports, not the requested ones: stop it to change them)"
            return ServerStatus(
                True,
                current.pid,
                current.bolt_uri,
                current.http_url,
                home,
                f"already running{note}: {current.message.removeprefix('running: ')}",
            )
        if current.pid is not None:
            raise Neo4jServerError(
                f"the server process {current.pid} in {home} is alive but does not answer "
                f"after {timeout:.0f}s; stop it first.\n{_log_tail(home)}"
            )
        _pid_file(home).unlink(missing_ok=True)

        install(home)
        for name, port in (("Bolt", bolt_port), ("HTTP", http_port)):
            if _port_open(port):
                raise Neo4jServerError(
                    f"{name} port {HOST}:{port} is already in use by another process (not the "
                    f"Neo4j server of {home}); stop it or pass another {name.lower()}_port "
                    f"(`ss -ltnp 'sport = :{port}'` shows who holds it)"
                )

        conf = _conf_file(home)
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(_render_conf(bolt_port, http_port, heap, pagecache, extra_config))
        for sub in ("data", "logs", "run", "plugins", "import"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        first_start = not (home / "data" / "databases" / "system").exists()
        if first_start:
            _set_initial_password(java, home, password)

        out_path = _out_file(home)
        sizes = _log_sizes(home)
        with open(out_path, "ab") as out:
            out.write(f"\n=== start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    _java_cmd(java, home, heap),
                    cwd=home,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # detached: survives this Python process
                    close_fds=True,
                )
            except OSError as exc:
                raise Neo4jServerError(f"could not launch {java}: {exc}") from exc
        _children[proc.pid] = proc
        _pid_file(home).write_text(f"{proc.pid}\n")

        # The readiness timeout starts at launch, so a cold install does not eat into it.
        ready = _wait_ready(home, proc.pid, bolt_port, http_port, time.monotonic() + timeout)
        if ready is None:
            code = proc.poll()
            _pid_file(home).unlink(missing_ok=True)
            raise Neo4jServerError(
                f"the Neo4j server died during start (exit code {code}); see "
                f"{out_path} and {home / 'logs'}\n{_log_tail(home, sizes)}"
            )
        if not ready.running:
            tail = _log_tail(home, sizes)
            _stop_locked(home, 30)
            raise Neo4jServerError(
                f"the Neo4j server did not answer on Bolt {bolt_port} and HTTP {http_port} "
                f"within {timeout:.0f}s and was stopped\n{tail}"
            )
        _ensure_password(home, ready, password)
        elapsed = time.monotonic() - begun
        return ServerStatus(
            True,
            ready.pid,
            ready.bolt_uri,
            ready.http_url,
            home,
            f"started in {elapsed:.1f}s: {ready.message.removeprefix('running: ')}",
        )


def _ensure_password(home: Path, current: ServerStatus, password: str) -> None:
    http_port = int(current.http_url.rpartition(":")[2])
    if _check_auth(http_port, password) is False:
        raise Neo4jServerError(
            f"the server at {current.bolt_uri} is running but rejects user '{USER}' with the "
            f"given password: the password is fixed on the first start of {home} (from "
            f"${ENV_PASSWORD} or the dev default). Use that password, or stop the server and "
            f"delete {home / 'data'} to re-initialise (this deletes the databases)."
        )


# --------------------------------------------------------------------------- stop


def stop(home: Path | None = None, timeout: float = 60) -> bool:
    """Stop the server in ``home``: SIGTERM (Neo4j checkpoints and shuts down
    cleanly), wait up to ``timeout`` seconds, then SIGKILL.

    Returns True if a running server was stopped, False if none was running (a stale
    pid file is removed).

    Raises:
        Neo4jServerError: the process survived SIGKILL.
    """
    home = _home(home)
    with _locked(home, timeout + 30):
        return _stop_locked(home, timeout)


def _stop_locked(home: Path, timeout: float) -> bool:
    pid = _read_pid(home)
    if pid is None or not _is_our_server(pid, home):
        _pid_file(home).unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 15.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while _process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _process_alive(pid):
            break
    if _process_alive(pid):
        raise Neo4jServerError(f"the Neo4j server process {pid} survived SIGTERM and SIGKILL")
    _children.pop(pid, None)
    _pid_file(home).unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``python -m graph_store.neo4j.server install|start|stop|status``.

    Prints one line. Exit codes: 0 success (for ``status``: running), 1 error,
    3 ``status`` says not running. The password comes from ``$SYBIL_NEO4J_PASSWORD``
    (not a flag, so it does not show in ``ps``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m graph_store.neo4j.server",
        description="Install and run a local Neo4j Community server (dev/test only).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=None,
        help=f"server home (default ${ENV_HOME} or ~/.cache/sybil-linker/neo4j/<version>)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser(
        "install", parents=[common], help="fetch the jars from Maven Central (once)"
    )
    p_install.add_argument("--version", default=NEO4J_VERSION, help="Neo4j version")
    p_start = sub.add_parser("start", parents=[common], help="start the server (no-op if running)")
    p_start.add_argument("--bolt-port", type=int, default=7687)
    p_start.add_argument("--http-port", type=int, default=7474)
    p_start.add_argument("--heap", default="2g")
    p_start.add_argument("--pagecache", default="2g")
    p_start.add_argument("--timeout", type=float, default=120)
    p_stop = sub.add_parser("stop", parents=[common], help="stop the server")
    p_stop.add_argument("--timeout", type=float, default=60)
    sub.add_parser("status", parents=[common], help="say whether the server runs (exit 3 if not)")
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            began = time.monotonic()
            home = args.home if args.home is not None else default_home(args.version)
            already = is_installed(home, args.version)
            home = install(home, args.version)
            how = (
                "already installed" if already else f"installed in {time.monotonic() - began:.1f}s"
            )
            print(f"neo4j {args.version}: {how} at {home / 'lib'}")
            return 0
        if args.command == "start":
            st = start(
                args.home,
                bolt_port=args.bolt_port,
                http_port=args.http_port,
                heap=args.heap,
                pagecache=args.pagecache,
                timeout=args.timeout,
            )
            print(f"neo4j {st.message}")
            return 0
        if args.command == "stop":
            stopped = stop(args.home, timeout=args.timeout)
            print(f"neo4j: {'stopped' if stopped else 'was not running'} [home {_home(args.home)}]")
            return 0
        st = status(args.home)
        print(f"neo4j {st.message}")
        return 0 if st.running else 3
    except Neo4jServerError as exc:
        lines = str(exc).splitlines()
        print(f"neo4j {args.command} failed: {lines[0]}", file=sys.stdout)
        if len(lines) > 1:
            print("\n".join(lines[1:]), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
