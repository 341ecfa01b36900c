"""The Neo4j server the test suite runs on: its OWN instance, never the user's.

A test run gets a server home of its own, ``<root>/run-<run id>/``, where ``<root>`` is
``$SYBIL_NEO4J_TEST_ROOT`` or ``~/.cache/sybil-linker/neo4j-test``. Only the jars are
shared (``lib`` is a symlink to the user's installed jars, or to ``<root>/jars`` when
there are none): conf, data, logs and run files are the instance's own. The server
listens on two free loopback ports picked at start, never 7687/7474 and never the
ports the user's home is configured with.

The pytest-xdist workers of one run share the instance: the first one to take
``<root>/run-<run id>.lock`` starts it, the others find it running. The instance is
stopped and its folder removed when the run is over:

- without xdist, by the session fixture's teardown;
- always, by a small detached *reaper* process that waits for the run's controlling
  pytest process (the xdist controller, or the only process) to exit, then stops the
  server and removes its folder. It also does so if pytest is killed.

Folders of runs whose controlling process is gone (a crash, a reboot) are removed at
the start of the next run. With ``SYBIL_NEO4J_KEEP_RUNNING`` set, runs share
``<root>/kept/`` instead, which is never stopped (it is reused by the next run).

Run as a script, this module is the reaper (``instance.py reap --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script (the reaper)
    sys.path.insert(0, str(REPO))

from graph_store.neo4j import server as srv  # noqa: E402
from graph_store.neo4j.server.config import configured_ports  # noqa: E402

ENV_ROOT = "SYBIL_NEO4J_TEST_ROOT"
ENV_KEEP = "SYBIL_NEO4J_KEEP_RUNNING"
#: the ports of a server started with the defaults: the user's, never the suite's
USER_PORTS = frozenset({srv.DEFAULT_BOLT_PORT, srv.DEFAULT_HTTP_PORT})
#: smaller than the user's default (2g + 2g): the test graphs are small
HEAP = "1g"
PAGECACHE = "512m"
#: no 256 MB pre-allocated transaction log per instance
EXTRA_CONFIG = {"db.tx_log.preallocate": "false"}
START_TIMEOUT = 180.0

#: the home of the instance this process uses (set by acquire()): clear_database()
#: refuses to clear any other server
current_home: Path | None = None


def test_root() -> Path:
    """Where test instances live (``$SYBIL_NEO4J_TEST_ROOT`` or the cache folder)."""
    env = os.environ.get(ENV_ROOT)
    base = Path(env) if env else Path.home() / ".cache" / "sybil-linker" / "neo4j-test"
    return base.expanduser().resolve()


def free_port(avoid: set[int]) -> int:
    """A free loopback port that is not in ``avoid``."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((srv.HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise RuntimeError("no free loopback port found")


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), None if it is gone;
    with the pid it names one process even when pids are reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    return started is not None and process_start(pid) == started


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _owner_file(home: Path) -> Path:
    return home.with_name(home.name + ".owner.json")


def _lock_file(home: Path) -> Path:
    return home.with_name(home.name + ".lock")


def remove(home: Path) -> None:
    """Stop the server of a test home (if it runs) and delete the home and its files."""
    if home.exists():
        srv.stop(home)
    shutil.rmtree(home, ignore_errors=True)
    _owner_file(home).unlink(missing_ok=True)
    _lock_file(home).unlink(missing_ok=True)


def sweep(root: Path, keep: Path) -> list[Path]:
    """Remove the instances of runs whose controlling process is gone; the removed."""
    removed = []
    for owner in sorted(root.glob("run-*.owner.json")):
        home = root / owner.name.removesuffix(".owner.json")
        if home == keep:
            continue
        try:
            info = json.loads(owner.read_text())
            alive = _alive(int(info["pid"]), info.get("started"))
        except (OSError, ValueError, KeyError, TypeError):
            alive = False
        if not alive:
            remove(home)
            removed.append(home)
    return removed


def shared_jars(root: Path) -> Path:
    """The installed jars to link: the user's install if complete, else one under
    ``root`` (installed once, from ``~/.m2`` or Maven Central)."""
    user_home = srv.default_home()
    if srv.is_installed(user_home):
        return user_home / "lib"
    return srv.install(root / "jars" / srv.NEO4J_VERSION) / "lib"


def _guard(home: Path, ports: tuple[int, int]) -> None:
    """Refuse to use the user's home or ports for a test instance."""
    user_home = srv.default_home()
    if home == user_home or home.is_relative_to(user_home) or user_home.is_relative_to(home):
        raise RuntimeError(f"test instance {home} overlaps the user's Neo4j home {user_home}")
    taken = set(ports) & (USER_PORTS | set(configured_ports(user_home)))
    if taken:
        raise RuntimeError(f"test instance {home} would use the user's port(s) {sorted(taken)}")


def controller_pid(config: Any) -> int:
    """The pid of the pytest process that controls the run (xdist's controller is
    the parent of its workers)."""
    return os.getppid() if getattr(config, "workerinput", None) else os.getpid()


def acquire(run_id: str, controller: int, keep: bool) -> srv.ServerStatus:
    """Start the run's instance unless a worker of the run already did; its status."""
    global current_home
    root = test_root()
    home = root / ("kept" if keep else f"run-{run_id}")
    with _locked(_lock_file(home)):
        if not keep:
            sweep(root, keep=home)
            owner = _owner_file(home)
            if not owner.exists():
                started = process_start(controller)
                owner.write_text(json.dumps({"pid": controller, "started": started}))
                _spawn_reaper(home, controller, started)
        st = srv.status(home)
        if not st.running:
            home.mkdir(parents=True, exist_ok=True)
            lib = home / "lib"
            if not lib.exists():
                lib.unlink(missing_ok=True)  # a dangling link
                lib.symlink_to(shared_jars(root), target_is_directory=True)
            user_home = srv.default_home()
            avoid = set(USER_PORTS) | set(configured_ports(user_home))
            bolt = free_port(avoid)
            http = free_port(avoid | {bolt})
            _guard(home, (bolt, http))
            st = srv.start(
                home,
                bolt_port=bolt,
                http_port=http,
                heap=HEAP,
                pagecache=PAGECACHE,
                timeout=START_TIMEOUT,
                extra_config=EXTRA_CONFIG,
            )
        _guard(st.home, (_port(st.bolt_uri), _port(st.http_url)))
    current_home = st.home
    return st


def release(config: Any, keep: bool) -> None:
    """End of a session: without xdist the instance is stopped and removed here (with
    xdist the reaper does it once the whole run is over)."""
    global current_home
    home, current_home = current_home, None
    if home is None or keep or getattr(config, "workerinput", None):
        return
    with _locked(_lock_file(home)):
        remove(home)


def _port(url: str) -> int:
    return int(url.rpartition(":")[2])


def _spawn_reaper(home: Path, pid: int, started: str | None) -> None:
    """Launch the reaper of ``home`` detached (in its own session, not our child)."""
    args = [sys.executable, str(Path(__file__).resolve()), "reap", "--detach"]
    args += ["--home", str(home), "--pid", str(pid), "--started", str(started)]
    subprocess.run(args, check=True, timeout=60, stdin=subprocess.DEVNULL)


def reap(home: Path, pid: int, started: str | None, poll: float = 0.5) -> None:
    """Wait until process ``pid`` (started at ``started``) is gone, then remove ``home``."""
    while _alive(pid, started):
        time.sleep(poll)
    with _locked(_lock_file(home)):
        remove(home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reaper of a test run's Neo4j instance.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_reap = sub.add_parser("reap", help="wait for the run's pytest, then remove its instance")
    p_reap.add_argument("--home", type=Path, required=True)
    p_reap.add_argument("--pid", type=int, required=True)
    p_reap.add_argument("--started", default=None)
    p_reap.add_argument("--detach", action="store_true", help="run in the background")
    args = parser.parse_args(argv)
    started = None if args.started in (None, "None") else args.started
    if args.detach:
        cmd = [sys.executable, str(Path(__file__).resolve()), "reap", "--home", str(args.home)]
        cmd += ["--pid", str(args.pid), "--started", str(started)]
        subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        return 0
    reap(args.home, args.pid, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
