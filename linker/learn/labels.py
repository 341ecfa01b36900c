"""Labels from every source, merged: the latest verdict per account or cluster wins.

Sources (the ``source`` column):
- ``labels.jsonl``: verdicts posted to the API (``POST /v1/labels``), in the results
  directory;
- ``graph``: verdicts an analyst recorded in the Neo4j Browser (a store that keeps
  them, :class:`graph_store.base.VerdictStore`);
- ``file``: a labels table given with ``link --labels FILE`` (the data contract's
  ``labels`` columns; ``created_at``, ``author`` and ``reason`` columns are read when
  present, else the file's modification time and its name stand in);
- ``input``: the input directory's own ``labels`` table, with
  ``LearnSettings.input_labels`` (the contract keeps it for evaluation by default).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import GraphStore, VerdictStore
from linker.errors import InputError
from linker.ingest.contract import LABELS_TABLE
from linker.ingest.dataset import validate_table
from linker.ingest.readers import read_raw

VERDICT_COLUMNS = ["target_type", "target_id", "label", "author", "reason", "created_at"]


def read_labels(path: Path) -> pd.DataFrame:
    """The labels table at ``path`` (csv, jsonl or parquet, as the data contract says).
    Invalid rows are dropped (and counted in the error when none is left). Raises
    :class:`InputError` naming the file."""
    raw, _ = read_raw(path)
    valid, rejected = validate_table(raw, LABELS_TABLE, path)
    if valid.empty:
        raise InputError(
            f"no valid label rows ({len(rejected)} rejected)", file=str(path), column="label"
        )
    return valid.drop_duplicates("account_id", keep="last").reset_index(drop=True)


def read_analyst_labels(path: Path) -> pd.DataFrame:
    """The current analyst verdict per target from an append-only labels.jsonl (the
    latest line for a target wins). Returns :data:`VERDICT_COLUMNS`; empty when the file
    does not exist. Unreadable lines are skipped."""
    if not path.is_file():
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    frame = pd.DataFrame(records)
    if frame.empty or not set(VERDICT_COLUMNS[:3]) <= set(frame.columns):
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    frame = frame.reindex(columns=VERDICT_COLUMNS)
    return frame.drop_duplicates(["target_type", "target_id"], keep="last").reset_index(drop=True)


def table_verdicts(table: pd.DataFrame, author: str, when: datetime) -> pd.DataFrame:
    """Account verdicts from a labels table (``account_id``, ``label``, optional
    ``author``, ``reason``, ``created_at``): missing authors are ``author``, missing
    times ``when``."""
    n = len(table)

    def column(name: str, default: Any) -> pd.Series:
        if name in table:
            return table[name].astype(object).where(table[name].notna(), default)
        return pd.Series([default] * n, index=table.index, dtype=object)

    return pd.DataFrame(
        {
            "target_type": "account",
            "target_id": table["account_id"].astype(str).to_numpy(),
            "label": table["label"].astype(str).to_numpy(),
            "author": column("author", author).to_numpy(),
            "reason": column("reason", "").to_numpy(),
            "created_at": column("created_at", when.isoformat()).to_numpy(),
        }
    )


def file_time(path: Path) -> datetime:
    """The modification time of ``path`` in UTC (when a labels table says nothing)."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def gather_labels(
    out_dir: Path | None,
    store: GraphStore,
    labels_file: Path | None = None,
    input_labels: pd.DataFrame | None = None,
    input_time: datetime | None = None,
) -> pd.DataFrame:
    """The current verdict per target from every source given: the API's
    ``out_dir/labels.jsonl``, the store's recorded verdicts, ``labels_file`` and the
    input's labels table. The latest ``created_at`` per target wins (a label without a
    readable time loses; on a tie the later source in that order). Returns
    :data:`VERDICT_COLUMNS` (``created_at`` as UTC timestamps) and ``source``."""
    frames = []
    if input_labels is not None and len(input_labels):
        when = input_time or datetime.now(tz=UTC)
        frames.append(table_verdicts(input_labels, "input labels", when).assign(source="input"))
    if labels_file is not None:
        table = read_labels(labels_file)
        frames.append(
            table_verdicts(table, labels_file.name, file_time(labels_file)).assign(source="file")
        )
    if out_dir is not None:
        frames.append(read_analyst_labels(out_dir / "labels.jsonl").assign(source="labels.jsonl"))
    if isinstance(store, VerdictStore):
        frames.append(store.read_verdicts().assign(source="graph"))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*VERDICT_COLUMNS, "source"])
    verdicts = pd.concat(frames, ignore_index=True)
    verdicts["target_id"] = verdicts["target_id"].astype(str)
    verdicts["created_at"] = pd.to_datetime(
        verdicts["created_at"].astype(str), utc=True, format="ISO8601", errors="coerce"
    )
    order = verdicts["created_at"].sort_values(kind="stable", na_position="first").index
    latest = verdicts.loc[order].drop_duplicates(["target_type", "target_id"], keep="last")
    return latest.reset_index(drop=True)


def label_summary(verdicts: pd.DataFrame) -> dict[str, Any]:
    """For run.json: per source, how many current verdicts it gave, of which labels,
    on what, and as of when (the latest ``created_at``)."""
    out: dict[str, Any] = {"n": len(verdicts), "sources": {}}
    for source, part in verdicts.groupby("source", sort=True):
        latest = part["created_at"].max()
        out["sources"][str(source)] = {
            "n": len(part),
            "labels": {str(k): int(v) for k, v in part["label"].value_counts().items()},
            "targets": {str(k): int(v) for k, v in part["target_type"].value_counts().items()},
            "as_of": None if pd.isna(latest) else latest.isoformat(),
        }
    latest = verdicts["created_at"].max() if len(verdicts) else None
    out["as_of"] = None if latest is None or pd.isna(latest) else latest.isoformat()
    return out


def verdict_counts(
    verdicts: pd.DataFrame, accounts: pd.DataFrame, clusters: pd.DataFrame
) -> dict[str, dict[str, int]]:
    """How many current verdicts each source gave (``read``) and how many of them name
    an account or a cluster of this run (``used``)."""
    on_cluster = verdicts["target_type"] == "cluster"
    found = np.where(
        on_cluster,
        verdicts["target_id"].isin(clusters["cluster_id"]),
        verdicts["target_id"].isin(accounts["account_id"]),
    )
    return {
        "read": {str(k): int(v) for k, v in verdicts["source"].value_counts().items()},
        "used": {str(k): int(v) for k, v in verdicts.loc[found, "source"].value_counts().items()},
    }
