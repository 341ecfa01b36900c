"""What the Neo4j store does when the server goes away: which driver errors mean that,
waiting until the server answers again, running a load or a run write again from the
start, and the lease a writer holds on the run it writes (renewed from a thread)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from graph_store.neo4j.rows import Neo4jStoreError

log = logging.getLogger("sybil_linker.neo4j")
T = TypeVar("T")


def server_lost(err: BaseException) -> bool:
    """True for the driver's errors that mean the server went away or is (re)starting,
    after which running the job again is safe: no connection, a session or a commit
    cut off (``IncompleteCommit``: the job starts over rather than guess), a database
    not available yet."""
    from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

    if isinstance(err, ServiceUnavailable | SessionExpired):
        return True
    return isinstance(err, Neo4jError) and err.is_retryable()


def first_line(err: BaseException) -> str:
    """The error's type and the first line of its message."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def wait_for(ping: Callable[[], object], timeout: float, every: float = 0.5) -> bool:
    """True once ``ping()`` succeeds, False when it still fails with a lost server after
    ``timeout`` seconds (or fails otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ping()
            return True
        except Exception as err:
            if not server_lost(err) or time.monotonic() >= deadline:
                return False
        time.sleep(every)


def resilient(
    what: str,
    job: Callable[[int], T],
    uri: str,
    attempts: int,
    reconnect_seconds: float,
    ping: Callable[[], object],
) -> T:
    """``job(attempt)`` (attempt 1, 2, ...); when the server is lost during it, wait up
    to ``reconnect_seconds`` for ``ping`` to succeed and run it again, ``attempts``
    times in all. Raises Neo4jStoreError (one line naming ``uri``) when the server does
    not come back or is lost on every attempt; other errors pass unchanged."""
    for attempt in range(1, attempts + 1):
        try:
            return job(attempt)
        except Exception as err:
            if not server_lost(err):
                raise
            cause = first_line(err)
            if attempt == attempts:
                raise Neo4jStoreError(
                    f"{what}: the Neo4j server at {uri} was lost {attempt} times ({cause}); "
                    "nothing was published, run it again"
                ) from err
            log.warning("%s: lost the Neo4j server at %s (%s); waiting for it", what, uri, cause)
            if not wait_for(ping, reconnect_seconds):
                raise Neo4jStoreError(
                    f"{what}: the Neo4j server at {uri} was lost ({cause}) and did not answer "
                    f"again within {reconnect_seconds:.0f} s; nothing was published, run it again"
                ) from err
    raise ValueError(f"attempts must be at least 1, not {attempts}")


@contextmanager
def lease(renew: Callable[[], object], every: float) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds from a background thread while the block
    runs. A renewal that fails is skipped (the writer's own queries see the fault)."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every):
            try:
                renew()
            except Exception as err:
                log.debug("lease not renewed: %s", err)

    thread = threading.Thread(target=loop, name="neo4j-run-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
