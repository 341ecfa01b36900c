"""The in-process cache of the latest run.

``RunCache`` holds one immutable :class:`~api.snapshot.Snapshot`. At most every
``refresh_seconds`` a request starts a background check of the store; when the store's
run id differs, a new snapshot is built off the request path and swapped in with one
reference assignment. A request reads the reference once, so one answer never mixes two
runs, and a lookup costs no store round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from api.snapshot import Snapshot, build_snapshot
from graph_store.base import GraphStore

log = logging.getLogger("sybil_linker.api")


class RunCache:
    """The latest run of ``store`` as a snapshot, refreshed when the run id changes."""

    def __init__(
        self,
        store: GraphStore,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_swap: Callable[[Snapshot], None] | None = None,
    ):
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._on_swap = on_swap
        self._snapshot: Snapshot | None = None
        self._refresh_lock = threading.Lock()
        self._due_lock = threading.Lock()
        self._next_check = 0.0
        self._background: threading.Thread | None = None
        self._closed = False
        #: why the last store check failed, or None when it succeeded (for the log: it
        #: may name the server; answers say only since when the store is unreachable)
        self.last_error: str | None = None
        #: when the store checks started failing (UTC), None while they succeed
        self.failing_since: datetime | None = None
        #: monotonic time of the last completed store check
        self.last_check: float | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        """The current snapshot, without any store access."""
        return self._snapshot

    def _claim_due(self) -> bool:
        """True for exactly one caller once the refresh interval has passed."""
        with self._due_lock:
            now = self._clock()
            if now < self._next_check:
                return False
            self._next_check = now + self._refresh_seconds
            return True

    def current(self) -> Snapshot | None:
        """The current snapshot; starts a background store check when one is due."""
        if self._snapshot is not None and not self._closed and self._claim_due():
            running = self._background
            if running is None or not running.is_alive():
                self._background = threading.Thread(
                    target=self._check_store, name="sybil-run-refresh", daemon=True
                )
                self._background.start()
        return self._snapshot

    def close(self, timeout: float = 30.0) -> bool:
        """Start no more background checks and wait up to ``timeout`` seconds for the
        one running (app shutdown: a check must not outlive the store it reads).
        Returns True when no check is left running."""
        self._closed = True
        running = self._background
        if running is not None and running.is_alive():
            running.join(timeout)
            return not running.is_alive()
        return True

    def refresh(self, force: bool = False) -> Snapshot | None:
        """Check the store now when a check is due (or ``force``), blocking; returns the
        snapshot in force afterwards."""
        if force or self._claim_due():
            self._check_store()
        return self._snapshot

    def _check_store(self) -> None:
        with self._refresh_lock:
            try:
                self._load_if_new()
                self.last_error = self.failing_since = None
            except Exception as err:  # the store is unreachable: keep serving the old run
                self.last_error = f"{type(err).__name__}: {err}"
                self.failing_since = self.failing_since or datetime.now(UTC)
                log.warning("run refresh failed: %s", self.last_error)
            self.last_check = self._clock()

    def unavailable(self) -> str | None:
        """Why requests may not get the latest run, in words safe to answer to anyone
        (never the store's error text), or None when the last store check succeeded."""
        if self.failing_since is None:
            return None
        since = self.failing_since.strftime("%Y-%m-%dT%H:%M:%SZ")
        snapshot = self._snapshot
        if snapshot is None:
            return f"store unreachable since {since}; no run to serve yet"
        return (
            f"store unreachable since {since}; serving the last good run {snapshot.run_id} "
            f"(loaded at {snapshot.loaded_at})"
        )

    def _load_if_new(self) -> None:
        current = self._snapshot
        # without a cheap probe every check reads the whole run (and holds the GIL a while)
        if current is not None and self._store.latest_run_id() == current.run_id:
            return
        run = self._store.latest_run()
        if run is None or (current is not None and run.run_id == current.run_id):
            return
        started = time.perf_counter()
        fresh = build_snapshot(run)
        self._snapshot = fresh  # the swap: one reference assignment
        log.info(
            "serving run %s (%d accounts, %d clusters; built in %.2fs)",
            fresh.run_id,
            fresh.n_accounts,
            len(fresh.clusters),
            time.perf_counter() - started,
        )
        if self._on_swap is not None:
            self._on_swap(fresh)
