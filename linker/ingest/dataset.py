"""Loading an input directory: validation of every table against the contract, rejected
rows kept as read, signals aggregated, the prompts table streamed. ``load_dataset`` is
the entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from linker.errors import InputError
from linker.ingest import normalise
from linker.ingest.coded import code_signals
from linker.ingest.contract import (
    ACCOUNTS,
    FORMATS,
    IP_INFO,
    LABELS_TABLE,
    PROMPTS,
    TABLES,
    TableSpec,
)
from linker.ingest.readers import READ_ERRORS, find_table, iter_raw, read_raw
from linker.ingest.records import original_records
from linker.ingest.rejected import no_rejects
from linker.ingest.validation import reasons_where, reject, validate_table

__all__ = [
    "Dataset",
    "PromptStream",
    "TableCounts",
    "absorb_prompt_stream",
    "load_dataset",
    "validate_table",
    "with_records",
    "write_rejected",
]

Progress = Callable[[str], None]


@dataclass
class TableCounts:
    """How many rows one table had, kept and rejected."""

    file: str
    read: int
    kept: int
    rejected: int


@dataclass
class Dataset:
    """A validated input: one frame per table, the rejected rows and the counts.

    ``signals`` holds one row per distinct (account_id, kind, value) with
    ``n_obs``, ``first_ts`` and ``last_ts``; ``observations`` keeps the
    individual valid observations (with ``ts``) for time-aware linkage.
    """

    accounts: pd.DataFrame
    signals: pd.DataFrame
    observations: pd.DataFrame
    prompts: pd.DataFrame | None
    ip_info: pd.DataFrame | None
    labels: pd.DataFrame | None
    rejected: pd.DataFrame
    counts: dict[str, TableCounts] = field(default_factory=dict)
    #: the prompts table read batch by batch (``load_dataset(stream_prompts=True)``);
    #: ``prompts`` is None then
    prompt_stream: PromptStream | None = None


def _text_columns(spec: TableSpec) -> tuple[str, ...]:
    """The columns a JSONL reader should keep as text (all but integers)."""
    return tuple(c.name for c in spec.columns if c.type != "int")


def _every_row_invalid(counts: TableCounts, rejected: pd.DataFrame) -> InputError:
    first = rejected.sort_values("row", kind="stable").iloc[0]
    return InputError(
        f"every row is invalid ({counts.read} rows); first problem at row {first['row']}: "
        f"{first['reason']}",
        file=counts.file,
        column=str(first["column"]),
    )


def _read_validated(
    data_dir: Path, spec: TableSpec, progress: Progress | None
) -> tuple[pd.DataFrame | None, pd.DataFrame, TableCounts | None]:
    path = find_table(data_dir, spec)
    if path is None:
        if spec.required:
            wanted = " or ".join(f"{spec.name}{ext}" for ext in FORMATS)
            raise InputError(
                f"required table {spec.name!r} not found (expected {wanted})", file=str(data_dir)
            )
        return None, no_rejects(), None
    if progress:
        progress(f"reading {path.name}")
    raw, unparsable = read_raw(path, _text_columns(spec))
    counts = TableCounts(str(path), len(raw) + len(unparsable), 0, 0)
    if len(raw) == 0 and len(unparsable):
        raise _every_row_invalid(counts, unparsable)
    # a JSONL file without a row names no columns: it is an empty table
    valid, rejected = validate_table(raw, spec, path, allow_absent=len(raw.columns) == 0)
    rejected = pd.concat(
        [r for r in (unparsable, rejected) if not r.empty] or [no_rejects()], ignore_index=True
    )
    counts.kept = len(valid)
    counts.rejected = counts.read - counts.kept
    if counts.read > 0 and counts.kept == 0:
        raise _every_row_invalid(counts, rejected)
    if spec is ACCOUNTS and counts.read == 0:
        raise InputError("table has no rows", file=str(path))
    return valid, rejected, counts


def _reject_where(
    frame: pd.DataFrame, bad: np.ndarray, path: str, column: str, reason: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into the rows kept and the rejected-rows frame for ``bad``."""
    if not bad.any():
        return frame, no_rejects()
    return frame[~bad], reject(frame, reasons_where(frame.index, bad, reason), path, column)


def _duplicates(
    frame: pd.DataFrame, spec: TableSpec, path: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject every row whose key an earlier valid row has (the first is kept)."""
    if not spec.unique or frame.empty:
        return frame, no_rejects()
    dup = frame.duplicated(list(spec.unique), keep="first").to_numpy()
    key = spec.unique[0]
    return _reject_where(frame, dup, path, key, f"duplicate {key} (first occurrence kept)")


def _unknown_accounts(
    frame: pd.DataFrame, known: pd.Index | normalise.IdLookup, path: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(known, normalise.IdLookup):
        bad = ~known.contains(frame["account_id"])
    else:
        bad = ~normalise.is_in(frame["account_id"], known)
    return _reject_where(frame, bad, path, "account_id", "account_id not in accounts table")


def aggregate_signals(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct (account_id, kind, value): ``n_obs``, ``first_ts``, ``last_ts``
    (NaT where the optional ``ts`` column is absent or empty)."""
    grouped = observations.groupby(["account_id", "kind", "value"], sort=True, observed=True)
    out = grouped["ts"].agg(["size", "min", "max"]).reset_index()
    return out.rename(columns={"size": "n_obs", "min": "first_ts", "max": "last_ts"})


def with_records(rejected: pd.DataFrame) -> pd.DataFrame:
    """``rejected`` with each row's ``record`` read back from its file as it was read
    (see :mod:`linker.ingest.records`); one pass per file that has rejects."""
    todo = rejected["record"].isna().to_numpy()
    if not todo.any():
        return rejected
    out = rejected.copy()
    for file, rows in out.loc[todo].groupby("file")["row"]:
        try:
            found = original_records(Path(str(file)), rows.astype(int).tolist())
        except READ_ERRORS:  # pragma: no cover - the file was read a moment ago
            continue
        out.loc[rows.index, "record"] = rows.astype(int).map(found).to_numpy()
    return out


@dataclass
class PromptStream:
    """The prompts table, validated batch by batch as it is iterated.

    Each batch is the valid rows (account_id, ts, text) of about ``batch_rows`` rows of
    the file; raw text is held for one batch only. After a full iteration,
    ``rejected`` holds every rejected row (file, row, column, reason) and ``counts``
    the table's counts. Iterating raises InputError when every row is invalid.
    """

    path: Path
    known: pd.Index
    batch_rows: int = 200_000
    rejected: pd.DataFrame = field(default_factory=lambda: no_rejects())
    counts: TableCounts | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        rejected: list[pd.DataFrame] = []
        read = kept = 0
        # a JSONL batch names only the keys its lines hold: a required column is missing
        # only when no batch had it
        seen: set[str] = set()
        jsonl = not self.path.name.endswith((".csv", ".csv.gz", ".parquet"))
        # the accounts' ids indexed once for every batch
        known = normalise.IdLookup(self.known)
        for raw, unparsable in iter_raw(self.path, self.batch_rows, _text_columns(PROMPTS)):
            seen.update(str(c).strip() for c in raw.columns)
            valid, bad = validate_table(raw, PROMPTS, self.path, allow_absent=jsonl)
            valid, unknown = _unknown_accounts(valid, known, str(self.path))
            rejected += [unparsable, bad, unknown]
            read += len(raw) + len(unparsable)
            kept += len(valid)
            if len(valid):
                yield valid.reset_index(drop=True)
        missing = [c for c in PROMPTS.required_columns if c not in seen]
        if jsonl and read and missing:
            raise InputError(
                "required column is missing (no line has it)",
                file=str(self.path),
                column=missing[0],
            )
        self.rejected = with_records(
            pd.concat([r for r in rejected if not r.empty] or [no_rejects()], ignore_index=True)
        )
        self.counts = TableCounts(str(self.path), read, kept, read - kept)
        if read > 0 and kept == 0:
            raise _every_row_invalid(self.counts, self.rejected)


def load_dataset(
    data_dir: Path | str, progress: Progress | None = None, stream_prompts: bool = False
) -> Dataset:
    """Read, validate and normalise every table of the input directory ``data_dir``.
    With ``stream_prompts`` the prompts table is not read here: ``prompt_stream``
    reads it batch by batch when the prompt stage iterates it.

    Every row read is either kept or in ``rejected`` with its original record, and the
    counts say so. Returns a :class:`Dataset`. Raises InputError if a required table or
    column is missing, a file is unreadable, or a table has no valid row.
    """
    data_dir = Path(data_dir)
    frames: dict[str, pd.DataFrame | None] = {}
    rejected: list[pd.DataFrame] = []
    counts: dict[str, TableCounts] = {}
    for spec in TABLES:
        if stream_prompts and spec is PROMPTS:
            frames[spec.name] = None
            continue
        frame, rej, count = _read_validated(data_dir, spec, progress)
        frames[spec.name] = frame
        rejected.append(rej)
        if count:
            counts[spec.name] = count

    assert frames["accounts"] is not None  # required table: _read_validated raised otherwise
    accounts, rej = _duplicates(frames["accounts"], ACCOUNTS, counts["accounts"].file)
    rejected.append(rej)
    known = pd.Index(accounts["account_id"])
    signals = frames["signals"]
    assert signals is not None  # required table: _read_validated raised otherwise
    # the signals as integer codes: each text column hashed once (linker.ingest.coded)
    coded, rejects = code_signals(signals, known, counts["signals"].file)
    rejected += rejects
    frames["signals"] = None
    del signals
    for spec in (PROMPTS, IP_INFO, LABELS_TABLE):
        frame = frames[spec.name]
        if frame is None:
            continue
        file = counts[spec.name].file
        if "account_id" in spec.column_names:
            frame, rej = _unknown_accounts(frame, known, file)
            rejected.append(rej)
        frame, rej = _duplicates(frame, spec, file)
        rejected.append(rej)
        frames[spec.name] = frame.reset_index(drop=True)

    # the optional ts column, when absent, is all NaT: time evidence then says nothing
    observations = coded.observations()
    all_rejected = with_records(
        pd.concat([r for r in rejected if not r.empty] or [no_rejects()], ignore_index=True)
    )
    for count in counts.values():
        mine = all_rejected.loc[all_rejected["file"] == count.file, "row"]
        count.rejected = int(mine.nunique())
        count.kept = count.read - count.rejected
    prompts_path = find_table(data_dir, PROMPTS) if stream_prompts else None
    # a canonical account order makes every later stage independent of input row order
    return Dataset(
        accounts=accounts.sort_values("account_id", kind="stable", ignore_index=True),
        signals=coded.aggregate(),
        observations=observations,
        prompts=frames["prompts"],
        ip_info=frames["ip_info"],
        labels=frames["labels"],
        rejected=all_rejected,
        counts=counts,
        prompt_stream=None if prompts_path is None else PromptStream(prompts_path, known),
    )


def absorb_prompt_stream(dataset: Dataset) -> None:
    """Add a fully iterated ``dataset.prompt_stream``'s rejected rows and counts to the
    dataset's, keeping the table order of the contract."""
    stream = dataset.prompt_stream
    if stream is None or stream.counts is None:
        return
    dataset.rejected = pd.concat(
        [r for r in (dataset.rejected, stream.rejected) if not r.empty] or [dataset.rejected],
        ignore_index=True,
    )
    counts = {**dataset.counts, PROMPTS.name: stream.counts}
    dataset.counts = {t.name: counts[t.name] for t in TABLES if t.name in counts}


def write_rejected(rejected: pd.DataFrame, out_dir: Path, fmt: str = "csv") -> Path:
    """Write the rejected rows to ``out_dir/rejected.csv`` (or ``.parquet``); returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"rejected.{fmt}"
    frame = rejected.astype({"row": "Int64"}) if len(rejected) else rejected
    if fmt == "parquet":
        frame.astype(
            {c: "string" for c in ("file", "column", "reason", "value", "record")}
        ).to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
