"""The server process: start, stop and status of the JVM of one home, its pid file
(``run/neo4j.pid``) and the lock that serialises start/stop (``run/server.lock``)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from graph_store.neo4j.server.common import (
    DEFAULT_BOLT_PORT,
    DEFAULT_HTTP_PORT,
    ENTRY_POINT,
    HOST,
    Neo4jServerError,
    ServerStatus,
    conf_file,
    log_sizes,
    log_tail,
    out_file,
    pid_file,
    require_java,
    resolve_home,
    resolve_password,
)
from graph_store.neo4j.server.config import (
    configured_ports,
    ensure_password,
    java_cmd,
    render_conf,
    set_initial_password,
    validate,
)
from graph_store.neo4j.server.install import install
from graph_store.neo4j.server.probes import bolt_handshake, http_discovery, port_open
from graph_store.neo4j.server.web import prepare_web

try:  # POSIX only; without it start/stop are not serialised between processes.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# Processes started by this Python process: polled so that a server that died (or
# was stopped) is reaped instead of lingering as a zombie that still "exists".
_children: dict[int, subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------- pid and lock


def read_pid(home: Path) -> int | None:
    try:
        return int(pid_file(home).read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
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


def is_our_server(pid: int, home: Path) -> bool:
    """Whether ``pid`` is a live Neo4j server process of ``home`` (guards pid reuse)."""
    if not process_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return ENTRY_POINT.encode() in args and f"--home-dir={home}".encode() in args


@contextlib.contextmanager
def locked(home: Path, timeout: float) -> Iterator[None]:
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
    home = resolve_home(home)
    bolt_port, http_port = configured_ports(home)
    bolt_uri, http_url = f"bolt://{HOST}:{bolt_port}", f"http://{HOST}:{http_port}"

    def result(running: bool, pid: int | None, message: str) -> ServerStatus:
        return ServerStatus(running, pid, bolt_uri, http_url, home, message)

    pid = read_pid(home)
    if pid is None or not is_our_server(pid, home):
        others = [p for p in (bolt_port, http_port) if port_open(p)]
        stale = " (stale pid file)" if pid is not None else ""
        busy = (
            f"; port(s) {', '.join(map(str, others))} in use by another process" if others else ""
        )
        return result(False, None, f"not running{stale}{busy} [home {home}]")
    bolt = bolt_handshake(bolt_port)
    discovery = http_discovery(http_port)
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


def _wait_ready(
    home: Path, pid: int, bolt_port: int, http_port: int, deadline: float
) -> ServerStatus | None:
    """Wait until the server answers on both ports; None if the process died."""
    while True:
        if not process_alive(pid):
            return None
        current = status(home)
        if current.running:
            return current
        if time.monotonic() > deadline:
            return current
        time.sleep(0.25)


def start(
    home: Path | None = None,
    password: str | None = None,
    bolt_port: int = DEFAULT_BOLT_PORT,
    http_port: int = DEFAULT_HTTP_PORT,
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
    home = resolve_home(home)
    password = resolve_password(password)
    validate(password, bolt_port, http_port, heap, pagecache)
    java = require_java()
    begun = time.monotonic()
    deadline = begun + timeout
    with locked(home, timeout):
        current = status(home)
        if current.pid is not None and not current.running:
            # Someone else's start is still in progress (or the server is shutting down).
            ready = _wait_ready(home, current.pid, *configured_ports(home), deadline)
            current = ready if ready is not None else status(home)
        if current.running:
            ensure_password(home, current, password)
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
                f"after {timeout:.0f}s; stop it first.\n{log_tail(home)}"
            )
        pid_file(home).unlink(missing_ok=True)

        install(home)
        for name, port in (("Bolt", bolt_port), ("HTTP", http_port)):
            if port_open(port):
                raise Neo4jServerError(
                    f"{name} port {HOST}:{port} is already in use by another process (not the "
                    f"Neo4j server of {home}); stop it or pass another {name.lower()}_port "
                    f"(`ss -ltnp 'sport = :{port}'` shows who holds it)"
                )

        conf = conf_file(home)
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(render_conf(bolt_port, http_port, heap, pagecache, extra_config))
        for sub in ("data", "logs", "run", "plugins", "import"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        prepare_web(home)  # the Browser with the project's guide and style
        first_start = not (home / "data" / "databases" / "system").exists()
        if first_start:
            set_initial_password(java, home, password)

        out_path = out_file(home)
        sizes = log_sizes(home)
        with open(out_path, "ab") as out:
            out.write(f"\n=== start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    java_cmd(java, home, heap),
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
        pid_file(home).write_text(f"{proc.pid}\n")

        # The readiness timeout starts at launch, so a cold install does not eat into it.
        ready = _wait_ready(home, proc.pid, bolt_port, http_port, time.monotonic() + timeout)
        if ready is None:
            code = proc.poll()
            pid_file(home).unlink(missing_ok=True)
            raise Neo4jServerError(
                f"the Neo4j server died during start (exit code {code}); see "
                f"{out_path} and {home / 'logs'}\n{log_tail(home, sizes)}"
            )
        if not ready.running:
            tail = log_tail(home, sizes)
            _stop_locked(home, 30)
            raise Neo4jServerError(
                f"the Neo4j server did not answer on Bolt {bolt_port} and HTTP {http_port} "
                f"within {timeout:.0f}s and was stopped\n{tail}"
            )
        ensure_password(home, ready, password)
        elapsed = time.monotonic() - begun
        return ServerStatus(
            True,
            ready.pid,
            ready.bolt_uri,
            ready.http_url,
            home,
            f"started in {elapsed:.1f}s: {ready.message.removeprefix('running: ')}",
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
    home = resolve_home(home)
    with locked(home, timeout + 30):
        return _stop_locked(home, timeout)


def _stop_locked(home: Path, timeout: float) -> bool:
    pid = read_pid(home)
    if pid is None or not is_our_server(pid, home):
        pid_file(home).unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 15.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not process_alive(pid):
            break
    if process_alive(pid):
        raise Neo4jServerError(f"the Neo4j server process {pid} survived SIGTERM and SIGKILL")
    _children.pop(pid, None)
    pid_file(home).unlink(missing_ok=True)
    return True
