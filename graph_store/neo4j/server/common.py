"""What every part of the server package shares: versions and other constants, the
error and status types, the layout of a home folder, ``java`` and log tails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Neo4j Community version (5.26 is the LTS line; runs on Java 17 and 21).
NEO4J_VERSION = "5.26.30"
#: Neo4j Browser UI, served by the server from its classpath at /browser/.
BROWSER_VERSION = "5.24.0"
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
#: Ports of a home whose neo4j.conf does not say otherwise (and start()'s defaults).
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474

MIN_JAVA = 17
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length default
LOG_TAIL_LINES = 40


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


def resolve_home(home: Path | str | None, version: str = NEO4J_VERSION) -> Path:
    """``home`` made absolute, or :func:`default_home` when it is None."""
    return default_home(version) if home is None else Path(home).expanduser().resolve()


def pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def conf_file(home: Path) -> Path:
    return home / "conf" / "neo4j.conf"


def out_file(home: Path) -> Path:
    return home / "logs" / "neo4j.out"


def resolve_password(password: str | None) -> str:
    """``password``, else ``$SYBIL_NEO4J_PASSWORD``, else :data:`DEFAULT_PASSWORD`."""
    return password if password is not None else os.environ.get(ENV_PASSWORD) or DEFAULT_PASSWORD


# --------------------------------------------------------------------------- java


def find_java() -> str | None:
    """Path of the ``java`` executable (``$JAVA_HOME/bin/java`` first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def require_java() -> str:
    """:func:`find_java`, checked to be Java :data:`MIN_JAVA` or newer."""
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


# --------------------------------------------------------------------------- logs


def _tail(path: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def log_sizes(home: Path) -> dict[Path, int]:
    """Current sizes of the log files, so that a failure shows only what is new."""
    sizes = {}
    for path in (out_file(home), home / "logs" / "neo4j.log"):
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            sizes[path] = 0
    return sizes


def log_tail(home: Path, since: Mapping[Path, int] | None = None) -> str:
    """The last lines of the JVM output and of neo4j.log (only what follows ``since``)."""
    parts = []
    for path in (out_file(home), home / "logs" / "neo4j.log"):
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
