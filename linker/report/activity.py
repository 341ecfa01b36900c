"""The input behind a run, for an investigation: when accounts signed up and when they
used each identifier.

A run's tables say who is linked to whom, not when. The times are in the input graph:
the Neo4j store holds it (``read_input``); for the embedded store the linker reads the
input directory the run recorded in ``run.json`` (or the one given), after checking it
still has the row counts the run read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from graph_store.base import GraphStore, InputGraphStore
from linker.errors import LinkerError

#: the columns of :attr:`InputActivity.memberships`
MEMBERSHIP_COLUMNS = ["account_id", "kind", "value", "n_obs", "first_ts", "last_ts"]


@dataclass(frozen=True)
class InputActivity:
    """Signup times and identifier use of the input's accounts.

    - ``accounts``: account_id, created_at (UTC);
    - ``memberships``: account_id, kind, value, n_obs, first_ts, last_ts (UTC; NaT when
      the input has no times);
    - ``template_examples``: template id -> masked example (the Neo4j store keeps them);
    - ``source``: where it was read, for the reader.
    """

    accounts: pd.DataFrame
    memberships: pd.DataFrame
    source: str
    template_examples: dict[str, str] = field(default_factory=dict)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, errors="coerce")


def _frame(
    accounts: pd.DataFrame, memberships: pd.DataFrame, source: str, examples: dict[str, str]
) -> InputActivity:
    acc = accounts[["account_id", "created_at"]].copy()
    acc["created_at"] = _utc(acc["created_at"])
    mem = memberships.reindex(columns=MEMBERSHIP_COLUMNS).copy()
    for col in ("first_ts", "last_ts"):
        mem[col] = _utc(mem[col])
    return InputActivity(acc, mem.reset_index(drop=True), source, dict(examples))


def _input_dir(meta: dict[str, Any], data_dir: Path | None) -> Path | None:
    if data_dir is not None:
        return data_dir
    recorded = meta.get("input")
    return Path(str(recorded)) if recorded else None


def _same_counts(meta: dict[str, Any], counts: dict[str, Any]) -> str | None:
    """Why the input read now is not the one the run read (a table's kept rows
    differ), or None."""
    for table in ("accounts", "signals"):
        then = meta.get("counts", {}).get(table, {}).get("kept")
        now = getattr(counts.get(table), "kept", None)
        if then is not None and now is not None and int(then) != int(now):
            return f"{table}: the run kept {int(then):,} rows, the input has {int(now):,} now"
    return None


def read_activity(
    store: GraphStore, meta: dict[str, Any], data_dir: Path | None = None
) -> tuple[InputActivity | None, str]:
    """The input behind a run and a note on where it came from; (None, why not) when
    it cannot be had. A store holding the input graph (Neo4j) is read first; otherwise
    ``data_dir``, else the input directory recorded in ``meta``. Raises nothing for a
    missing or changed input: the note says what is missing."""
    if isinstance(store, InputGraphStore):
        tables = store.read_input()
        source = "the store's input graph"
        activity = _frame(tables.accounts, tables.memberships, source, tables.template_examples)
        return activity, f"activity from {source}"
    from linker.ingest.dataset import load_dataset

    path = _input_dir(meta, data_dir)
    hint = "pass --data DIR (the run's input directory) to see activity over time"
    if path is None or not path.is_dir():
        return None, f"input directory {path} not found: {hint}"
    try:
        dataset = load_dataset(path, stream_prompts=True)
    except LinkerError as err:
        return None, f"input {path} unreadable ({err}): {hint}"
    changed = _same_counts(meta, dataset.counts)
    if changed and data_dir is None:
        return None, f"input {path} changed since the run ({changed}): {hint}"
    note = f"activity from the input directory {path}"
    if changed:  # the analyst named it: shown, with the difference
        note += f" (not the run's input? {changed})"
    return _frame(dataset.accounts, dataset.signals, str(path), {}), note
