"""``neo4j-admin database import full``: the bulk importer, run from the installed jars.

The importer ships in the Community jars the installer already fetches from Maven
Central (``org.neo4j:neo4j-import-tool``, a dependency of ``org.neo4j:neo4j``), and
``neo4j-admin`` is :data:`ADMIN_TOOL` on the same classpath; nothing else is needed. It
writes the store files of a database directly, so the server must be stopped while it
runs; it is serialised with start/stop by the home's lock.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from graph_store.neo4j.server.common import (
    ADMIN_TOOL,
    LOG_TAIL_LINES,
    Neo4jServerError,
    require_java,
    resolve_home,
)
from graph_store.neo4j.server.config import JVM_FLAGS
from graph_store.neo4j.server.process import is_our_server, locked, read_pid

#: the importer's own heap; its caches are off-heap (IMPORT_OFF_HEAP)
IMPORT_HEAP = "1g"
#: the importer's off-heap limit (its default, 90% of the machine's memory, is too much
#: on a machine shared with the pipeline)
IMPORT_OFF_HEAP = "2g"
#: separator of array values in a cell (``windows:long[]``)
ARRAY_DELIMITER = ";"


def import_command(
    java: str,
    home: Path,
    nodes: Sequence[tuple[str, Path]],
    relationships: Sequence[tuple[str, Path]],
    report: Path,
    database: str = "neo4j",
    multiline: bool = False,
) -> list[str]:
    """The ``neo4j-admin database import full`` command line: ``nodes`` as (labels,
    CSV with header) and ``relationships`` as (type, CSV with header); always with
    ``--overwrite-destination`` (the caller decides whether the database may go)."""
    cmd = [java, f"-Xmx{IMPORT_HEAP}", *JVM_FLAGS, "-cp", str(home / "lib" / "*"), ADMIN_TOOL]
    # the database first: --nodes and --relationships take every argument after them
    cmd += ["database", "import", "full", database, "--overwrite-destination=true"]
    cmd += [f"--array-delimiter={ARRAY_DELIMITER}", f"--max-off-heap-memory={IMPORT_OFF_HEAP}"]
    cmd += [f"--report-file={report}", f"--multiline-fields={str(multiline).lower()}"]
    cmd += [f"--nodes={label}={path}" for label, path in nodes]
    return cmd + [f"--relationships={rel}={path}" for rel, path in relationships]


def import_database(
    home: Path | None,
    nodes: Sequence[tuple[str, Path]],
    relationships: Sequence[tuple[str, Path]],
    report: Path,
    database: str = "neo4j",
    multiline: bool = False,
    timeout: float = 6 * 3600,
) -> str:
    """Run ``neo4j-admin database import full`` into ``database`` of the stopped server
    in ``home``, replacing what the database held; returns the importer's output.

    Raises:
        Neo4jServerError: the server runs, or the importer fails (the message's first
            line says so; the rest is the tail of its output). The database is then
            incomplete: import again, or load it with ``load_input``.
    """
    home = resolve_home(home)
    java = require_java()
    cmd = import_command(java, home, nodes, relationships, report, database, multiline)
    env = dict(os.environ, NEO4J_HOME=str(home), NEO4J_CONF=str(home / "conf"))
    with locked(home, 60):
        pid = read_pid(home)
        if pid is not None and is_our_server(pid, home):
            raise Neo4jServerError(f"the Neo4j server in {home} runs (pid {pid}); stop it first")
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise Neo4jServerError(
                f"neo4j-admin database import timed out ({timeout:.0f} s)"
            ) from exc
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        lines = output.splitlines()
        said = [ln.strip() for ln in lines if re.search(r"error|exception", ln, re.IGNORECASE)]
        first = said[0] if said else "see below"
        tail = "\n".join(lines[-LOG_TAIL_LINES:])
        raise Neo4jServerError(
            f"neo4j-admin database import failed (exit {proc.returncode}): {first}\n{tail}"
        )
    return output
