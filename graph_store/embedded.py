"""The embedded default store: a results directory of parquet files and run.json.

A run is written into a staging directory first and then moved into place file by
file, run.json last; every parquet file carries the run id in its metadata, so a
reader that sees files of two runs (a write in progress) retries.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graph_store.base import GraphStoreError, RunTables

TABLE_FILES = {
    "accounts": "accounts.parquet",
    "clusters": "clusters.parquet",
    "edges": "edges.parquet",
}
RUN_ID_KEY = b"sybil_linker.run_id"


class StoreReadError(GraphStoreError):
    """The results directory holds no complete run."""


class EmbeddedStore:
    """A GraphStore backed by a directory on disk."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def write_run(self, run: RunTables) -> None:
        """Write ``run`` to the directory, replacing the previous run."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{run.run_id}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name, filename in TABLE_FILES.items():
            table = pa.Table.from_pandas(getattr(run, name), preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[RUN_ID_KEY] = run.run_id.encode()
            pq.write_table(table.replace_schema_metadata(meta), staging / filename)
        (staging / "run.json").write_text(json.dumps(run.meta, indent=2, default=str))
        for filename in [*TABLE_FILES.values(), "run.json"]:
            os.replace(staging / filename, self.root / filename)
        staging.rmdir()

    def _read_once(self) -> RunTables | None:
        meta_path = self.root / "run.json"
        if not meta_path.is_file():
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
        """The latest complete run; retries briefly while a write is in progress."""
        for attempt in range(20):
            try:
                return self._read_once()
            except (StoreReadError, FileNotFoundError, json.JSONDecodeError, pa.ArrowInvalid):
                time.sleep(0.05 * (attempt + 1))
        raise StoreReadError(f"no consistent run in {self.root}")

    def latest_run_id(self) -> str | None:
        """The id in run.json (written last by :meth:`write_run`), or None."""
        try:
            return str(json.loads((self.root / "run.json").read_text())["run_id"])
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
