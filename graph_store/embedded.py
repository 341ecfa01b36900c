"""The embedded default store: a results directory of parquet files and run.json.

A write is staged. Everything a run writes (the three tables, run.json, and whatever
the caller adds inside :meth:`EmbeddedStore.staged`, such as ``rejected.csv``) goes
into ``.staging-<id>`` inside the directory first. The commit then:

1. writes a ``COMMIT`` marker into the staging directory (the list of its files);
2. removes the old ``run.json`` and the old run's files that the new run does not have;
3. moves the new files into place, ``run.json`` last, and removes the staging directory.

So ``run.json`` is present only beside a complete run: a writer killed before step 1
leaves the previous run untouched (its staging directory is deleted by the next
writer), and one killed during steps 2-3 leaves no ``run.json`` and a staging directory
with its ``COMMIT`` marker, which the next writer, or a reader, finishes (moves forward).
One writer at a time: a lock on ``.write.lock``, released by the system if the writer
dies. Every parquet file carries the run id in its metadata, so a reader that read
``run.json`` just before the files changed retries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graph_store.base import GraphStoreError, RunTables

TABLE_FILES = {
    "accounts": "accounts.parquet",
    "clusters": "clusters.parquet",
    "edges": "edges.parquet",
}
RUN_FILE = "run.json"
RUN_ID_KEY = b"sybil_linker.run_id"
STAGING_PREFIX = ".staging-"
COMMIT_MARKER = "COMMIT"
LOCK_FILE = ".write.lock"
#: errors that mean the disk (or the user's quota) is full
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


class StoreReadError(GraphStoreError):
    """The results directory holds no complete run."""


class StoreWriteError(GraphStoreError):
    """A run could not be written (disk full, another writer); the previous run is
    unchanged."""


def _is_full_disk(err: BaseException) -> bool:
    # pyarrow's OSErrors carry no errno, only the system's message
    return getattr(err, "errno", None) in FULL_DISK or "No space left on device" in str(err)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EmbeddedStore:
    """A GraphStore backed by a directory on disk."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        #: the staging directory of the write in progress (inside :meth:`staged`)
        self._stage: Path | None = None

    # --- writing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def staged(self, owned: Iterable[str] = ()) -> Iterator[Path]:
        """Stage one run: yields a staging directory where the caller writes the run's
        other files; :meth:`write_run` inside the block writes there too. When the block
        ends without an error, everything staged appears in the directory together
        (``run.json`` last), replacing the previous run and the files named in ``owned``
        that the new run does not have. On an error the directory is left as it was.

        Raises StoreWriteError when another writer holds the directory or when the disk
        fills up (the message names the directory; the previous run stays intact).
        """
        if self._stage is not None:
            raise StoreWriteError(f"a write to {self.root} is already staged")
        with self._storage_errors(), contextlib.ExitStack() as held:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                if _is_full_disk(err):
                    raise
                raise StoreWriteError(f"cannot write a run to {self.root}: {err}") from err
            if not held.enter_context(self._write_lock(blocking=False)):
                raise StoreWriteError(
                    f"another process is writing a run to {self.root} (it holds "
                    f"{self.root / LOCK_FILE}); wait for it to finish"
                )
            self._recover_locked()
            stage = self.root / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            stage.mkdir()
            self._stage = stage
            try:
                yield stage
                if not (stage / RUN_FILE).is_file():
                    raise StoreWriteError(f"nothing to commit in {self.root}: no run staged")
                self._commit(stage, [*TABLE_FILES.values(), RUN_FILE, *owned])
            except BaseException:
                if not (stage / COMMIT_MARKER).exists():
                    shutil.rmtree(stage, ignore_errors=True)
                raise
            finally:
                self._stage = None

    @contextlib.contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """A full disk, anywhere in a staged write, as one StoreWriteError naming the
        directory (other errors of the caller's block pass unchanged)."""
        try:
            yield
        except OSError as err:
            if not _is_full_disk(err):
                raise
            free = shutil.disk_usage(self.root).free if self.root.exists() else 0
            raise StoreWriteError(
                f"disk full writing the run to {self.root} ({free:,} bytes free): "
                "nothing was changed, the previous run is intact"
            ) from err

    def write_run(self, run: RunTables) -> None:
        """Write ``run``, replacing the previous run (inside :meth:`staged`: into its
        staging directory, committed when the block ends). Raises StoreWriteError."""
        if self._stage is not None:
            self._write_tables(run, self._stage)
            return
        with self.staged() as stage:
            self._write_tables(run, stage)

    @staticmethod
    def _write_tables(run: RunTables, stage: Path) -> None:
        for name, filename in TABLE_FILES.items():
            table = pa.Table.from_pandas(getattr(run, name), preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[RUN_ID_KEY] = run.run_id.encode()
            pq.write_table(table.replace_schema_metadata(meta), stage / filename)
        (stage / RUN_FILE).write_text(json.dumps(run.meta, indent=2, default=str))

    def _commit(self, stage: Path, owned: list[str]) -> None:
        """Steps 1-3 of the module's docstring; the files reach the disk before the
        marker, and the marker before anything in the directory changes."""
        files = [*sorted(p.name for p in stage.iterdir() if p.name != RUN_FILE), RUN_FILE]
        for name in files:
            _fsync(stage / name)
        marker = {"files": files, "remove": sorted(set(owned) - set(files))}
        tmp = stage / f"{COMMIT_MARKER}.tmp"
        tmp.write_text(json.dumps(marker))
        _fsync(tmp)
        os.replace(tmp, stage / COMMIT_MARKER)
        _fsync(stage)
        self._move_forward(stage)

    def _move_forward(self, stage: Path) -> None:
        """Finish a committed staging directory (idempotent: a second call after a crash
        moves what is left)."""
        marker = json.loads((stage / COMMIT_MARKER).read_text())
        (self.root / RUN_FILE).unlink(missing_ok=True)
        for name in marker["remove"]:
            (self.root / name).unlink(missing_ok=True)
        for name in marker["files"]:  # run.json is the last one
            if (stage / name).exists():
                os.replace(stage / name, self.root / name)
        _fsync(self.root)
        shutil.rmtree(stage)

    @contextlib.contextmanager
    def _write_lock(self, blocking: bool) -> Iterator[bool]:
        handle: IO[str] = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115 (held below)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            handle.close()  # releases the lock

    def _pending(self) -> list[Path]:
        try:
            return sorted(p for p in self.root.glob(f"{STAGING_PREFIX}*") if p.is_dir())
        except OSError:
            return []

    def _recover_locked(self) -> None:
        for stage in self._pending():
            if (stage / COMMIT_MARKER).exists():
                self._move_forward(stage)
            else:  # a writer died before its commit: its run never happened
                shutil.rmtree(stage, ignore_errors=True)

    def recover(self) -> bool:
        """Finish a commit a dead writer left half-way and delete dead writers' staging
        directories, unless a writer is at work. Returns False when one is."""
        if not self.root.is_dir():
            return True
        with self._write_lock(blocking=False) as held:
            if held:
                self._recover_locked()
            return held

    # --- reading ---------------------------------------------------------------------
    def _read_once(self) -> RunTables | None:
        meta_path = self.root / RUN_FILE
        if not meta_path.is_file():
            if any((stage / COMMIT_MARKER).exists() for stage in self._pending()):
                raise StoreReadError(f"a run is being moved into place in {self.root}")
            return None
        meta = json.loads(meta_path.read_text())
        run_id = str(meta.get("run_id"))
        tables: dict[str, pd.DataFrame] = {}
        for name, filename in TABLE_FILES.items():
            table = pq.read_table(self.root / filename)
            if (table.schema.metadata or {}).get(RUN_ID_KEY, b"").decode() != run_id:
                raise StoreReadError(f"{filename} is not from run {run_id}")
            tables[name] = table.to_pandas()
        return RunTables(run_id=run_id, meta=meta, **tables)

    def latest_run(self) -> RunTables | None:
        """The latest complete run, or None. Retries while a write is being moved into
        place, and finishes one that a dead writer left half-way. Raises StoreReadError
        when the directory holds no consistent run."""
        errors = (StoreReadError, FileNotFoundError, json.JSONDecodeError, pa.ArrowInvalid)
        for attempt in range(20):
            try:
                return self._read_once()
            except errors:
                if attempt == 3:
                    self.recover()
                time.sleep(0.05 * (attempt + 1))
        raise StoreReadError(f"no consistent run in {self.root}")

    def latest_run_id(self) -> str | None:
        """The id in run.json (written last by :meth:`write_run`), or None."""
        try:
            return str(json.loads((self.root / RUN_FILE).read_text())["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        """Nothing to release."""

    def previous_assignment(self) -> pd.DataFrame | None:
        """(account_id, cluster_id) of the latest run's linked members (accounts attached
        by a template family alone do not carry ids over), or None."""
        path = self.root / TABLE_FILES["accounts"]
        if not path.is_file():
            return None
        columns = ["account_id", "cluster_id"]
        has_flag = "attached" in pq.read_schema(path).names  # runs before the column: none
        frame = pd.read_parquet(path, columns=[*columns, "attached"] if has_flag else columns)
        if has_flag:
            frame = frame[~frame["attached"].fillna(False).astype(bool)]
        return frame[columns].reset_index(drop=True)
