"""The README's commands work as written: the fenced ``bash`` blocks of "Using it", the
Neo4j section and the API section are read from README.md (never copied here) and run
in order, in one bash session with ``set -e``, in a temporary working copy (an empty
folder with ``.venv`` pointing at this repository's virtualenv, which is what `make
setup` leaves).

The only changes to the text are addresses that must not be the user's: the Neo4j URI
``127.0.0.1:7687`` becomes the test run's own instance (``SYBIL_NEO4J_HOME`` points
``sybil-linker neo4j start`` and ``status`` at it, so they find it running) and the API
port 8000 a free one. The API key file goes to a temporary ``XDG_CONFIG_HOME``. The
sections with ``make demo`` / ``make test`` are what CI runs itself, and are not run
here. Output goes to ``test-output/readme.log``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from graph_store.neo4j import server as srv

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: the sections whose bash blocks are run, in this order
RUN = ("Using it", "Neo4j: the graph store and the Browser", "The cluster-risk API")
#: sections whose blocks are not run here: CI runs `make test` itself, and `make demo`
#: is `make setup` + `sybil-linker demo` (a new virtualenv in the working copy)
NOT_RUN = ("The two commands",)
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
TIMEOUT_S = 1500


def bash_blocks() -> dict[str, list[str]]:
    """Section title -> its fenced bash blocks, in README order."""
    sections: dict[str, list[str]] = {}
    for part in re.split(r"^## ", README.read_text(), flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = BLOCK.findall(body)
    return sections


def test_every_bash_block_is_run_or_named() -> None:
    sections = {title: blocks for title, blocks in bash_blocks().items() if blocks}
    assert set(sections) == set(RUN) | set(NOT_RUN)
    assert all(sections[title] for title in RUN)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.xdist_group("neo4j")
def test_readme_commands_run_as_written(
    neo4j_server: srv.ServerStatus, neo4j_empty: object, tmp_path: Path
) -> None:
    blocks = bash_blocks()
    script = "\n".join(block for title in RUN for block in blocks[title])
    bolt = neo4j_server.bolt_uri.removeprefix("bolt://")
    port = _free_port()
    script = script.replace("127.0.0.1:7687", bolt)
    script = script.replace("--port 8000", f"--port {port}")
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert "127.0.0.1:7687" not in script and "127.0.0.1:8000" not in script

    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(REPO / ".venv")
    env = dict(
        os.environ,
        PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        COLUMNS="120",
    )
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        ["bash", "-c", "set -euo pipefail -x\n" + script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    log = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    (REPO / "test-output").mkdir(exist_ok=True)
    (REPO / "test-output" / "readme.log").write_text(log)
    assert proc.returncode == 0, log[-4000:]
    # what the commands said they did
    assert (work / "demo" / "out" / "run.json").is_file()
    assert "neo4j already running" in proc.stdout or "already running" in proc.stdout
    assert '"risk"' in proc.stdout and '"cluster_id"' in proc.stdout  # the API's answer
