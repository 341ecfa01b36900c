"""Loading an input directory: validation of every table against the contract, rejected
rows kept as read, signals aggregated, the prompts table streamed. ``load_dataset`` is
the entry point."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from linker.errors import InputError
from linker.ingest import normalise
from linker.ingest.contract import (
    ACCOUNTS,
    FORMATS,
    LABELS_TABLE,
    PROMPTS,
    SIGNALS,
    TABLES,
    Column,
    TableSpec,
)
from linker.ingest.readers import find_table, iter_raw, no_rejects, read_raw

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


def _check_columns(frame: pd.DataFrame, spec: TableSpec, path: Path) -> pd.DataFrame:
    frame = frame.rename(columns=lambda c: str(c).strip())
    for col in spec.required_columns:
        if col not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise InputError(
                f"required column is missing (columns found: {found})", file=str(path), column=col
            )
    return frame


def _column_problems(frame: pd.DataFrame, col: Column) -> tuple[pd.Series, pd.Series, str]:
    """Return (converted values, mask of invalid rows, reason) for one column."""
    raw = frame[col.name]
    blank = normalise.is_blank(raw)
    missing_reason = "missing value"
    if col.type == "timestamp":
        parsed = normalise.parse_timestamps(raw)
        bad = parsed.isna() & ~blank
        bad = bad | (blank if col.required else False)
        return parsed, bad, "missing or invalid ISO-8601 timestamp"
    if col.type == "int":
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() | (num < 0) | (num != np.floor(num))
        bad = bad & ~blank | (blank if col.required else False)
        return num.astype("Int64"), bad, "missing or not a non-negative integer"
    if col.type == "category":
        text = raw.astype(str).str.strip().str.lower()
        bad = ~text.isin(col.allowed) & ~(blank & ~col.required)
        return text, bad, f"not one of {', '.join(col.allowed)}"
    if col.type == "ip_or_cidr":
        nets = normalise.map_distinct(raw.astype(str), normalise.canonical_network)
        return nets, nets.isna(), "not an IP address or CIDR prefix"
    text = raw.astype(object).where(blank == False, None)  # noqa: E712
    text = text.map(lambda v: v.strip() if isinstance(v, str) else (None if v is None else str(v)))
    bad = blank if col.required else pd.Series(False, index=raw.index)
    return text, bad, missing_reason


def validate_table(
    frame: pd.DataFrame, spec: TableSpec, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate ``frame`` (raw values, indexed by row number) against ``spec``.

    Returns (valid rows with converted columns, rejected rows). Raises InputError
    when a required column is missing.
    """
    frame = _check_columns(frame, spec, path)
    out = frame.copy()
    problems: list[pd.DataFrame] = []
    for col in spec.columns:
        if col.name not in frame.columns:
            out[col.name] = None
            continue
        converted, bad, reason = _column_problems(frame, col)
        out[col.name] = converted
        if bad.any():
            problems.append(_rejects(frame, bad, path, col.name, reason))
    if not spec.keep_extra:
        out = out[list(spec.column_names)]
    rejected = pd.concat(problems, ignore_index=True) if problems else no_rejects()
    bad_rows = set(rejected["row"].tolist())
    keep = ~out.index.isin(list(bad_rows))
    return out[keep], rejected


def _rejects(
    frame: pd.DataFrame, bad: pd.Series, path: Path, column: str, reason: str
) -> pd.DataFrame:
    rows = frame[bad.to_numpy()]
    return pd.DataFrame(
        {
            "file": str(path),
            "row": rows.index.to_numpy(),
            "column": column,
            "reason": reason,
            "value": rows[column].astype(str).str.slice(0, 200).to_numpy(),
            "record": _records(rows),
        }
    )


def _records(rows: pd.DataFrame) -> list[str]:
    """Each row's original record as compact JSON, so it can be fixed and re-fed."""
    return [json.dumps(r, default=str, ensure_ascii=False)[:1000] for r in rows.to_dict("records")]


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
    raw, unparsable = read_raw(path)
    valid, rejected = validate_table(raw, spec, path)
    rejected = pd.concat(
        [r for r in (unparsable, rejected) if not r.empty] or [no_rejects()], ignore_index=True
    )
    counts = TableCounts(
        str(path), len(raw) + len(unparsable), len(valid), len(raw) - len(valid) + len(unparsable)
    )
    if counts.read > 0 and counts.kept == 0:
        first = rejected.iloc[0]
        raise InputError(
            f"every row is invalid ({counts.read} rows); first problem at row {first['row']}: "
            f"{first['reason']}",
            file=str(path),
            column=str(first["column"]),
        )
    if spec is ACCOUNTS and counts.read == 0:
        raise InputError("table has no rows", file=str(path))
    return valid, rejected, counts


def _reject_where(
    frame: pd.DataFrame, bad: np.ndarray, path: str, column: str, reason: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into the rows kept and the rejected-rows frame for ``bad``."""
    if not bad.any():
        return frame, no_rejects()
    return frame[~bad], _rejects(
        frame, pd.Series(bad, index=frame.index), Path(path), column, reason
    )


def _unknown_accounts(
    frame: pd.DataFrame, known: pd.Index, path: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = ~frame["account_id"].isin(known).to_numpy()
    return _reject_where(frame, bad, path, "account_id", "account_id not in accounts table")


def _timestamps(frame: pd.DataFrame) -> pd.Series:
    """``frame``'s ``ts`` as UTC timestamps; all NaT when the optional column is absent."""
    if "ts" not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(frame["ts"], utc=True)


def aggregate_signals(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct (account_id, kind, value): ``n_obs``, ``first_ts``, ``last_ts``
    (NaT where the optional ``ts`` column is absent or empty)."""
    grouped = observations.groupby(["account_id", "kind", "value"], sort=True, observed=True)
    out = grouped["ts"].agg(["size", "min", "max"]).reset_index()
    return out.rename(columns={"size": "n_obs", "min": "first_ts", "max": "last_ts"})


def _prepare_signals(signals: pd.DataFrame, path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    signals = signals.copy()
    signals["kind"] = normalise.canonical_kind(signals["kind"])
    raw_values = signals["value"]
    signals["value"] = normalise.canonical_values(signals["kind"], raw_values)
    bad = signals["value"].isna().to_numpy()
    if bad.any():
        reasons = np.where(
            signals["kind"].to_numpy() == "ip",
            "not an IP address",
            "value empty after normalisation",
        )
        parts = []
        for reason in np.unique(reasons[bad]):
            mask = bad & (reasons == reason)
            sub = signals.assign(value=raw_values)
            parts.append(
                _rejects(sub, pd.Series(mask, index=sub.index), Path(path), "value", str(reason))
            )
        return signals[~bad], pd.concat(parts, ignore_index=True)
    return signals, no_rejects()


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
        for raw, unparsable in iter_raw(self.path, self.batch_rows):
            valid, bad = (
                validate_table(raw, PROMPTS, self.path) if len(raw.columns) else (raw, no_rejects())
            )
            if len(valid):
                valid, unknown = _unknown_accounts(valid, self.known, str(self.path))
                rejected.append(unknown)
            rejected += [unparsable, bad]
            read += len(raw) + len(unparsable)
            kept += len(valid)
            if len(valid):
                yield valid.reset_index(drop=True)
        self.rejected = pd.concat(
            [r for r in rejected if not r.empty] or [no_rejects()], ignore_index=True
        )
        self.counts = TableCounts(str(self.path), read, kept, read - kept)
        if read > 0 and kept == 0:
            first = self.rejected.iloc[0]
            raise InputError(
                f"every row is invalid ({read} rows); first problem at row {first['row']}: "
                f"{first['reason']}",
                file=str(self.path),
                column=str(first["column"]),
            )


def load_dataset(
    data_dir: Path | str, progress: Progress | None = None, stream_prompts: bool = False
) -> Dataset:
    """Read, validate and normalise every table of the input directory ``data_dir``.
    With ``stream_prompts`` the prompts table is not read here: ``prompt_stream``
    reads it batch by batch when the prompt stage iterates it.

    Returns a :class:`Dataset`. Raises InputError if a required table or column is
    missing, a file is unreadable, or a table has no valid row.
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

    accounts = frames["accounts"]
    assert accounts is not None  # required table: _read_validated raised otherwise
    dup = accounts["account_id"].duplicated(keep="first").to_numpy()
    accounts, rej = _reject_where(
        accounts,
        dup,
        counts["accounts"].file,
        "account_id",
        "duplicate account_id (first occurrence kept)",
    )
    rejected.append(rej)
    known = pd.Index(accounts["account_id"])

    for spec in (SIGNALS, PROMPTS, LABELS_TABLE):
        frame = frames[spec.name]
        if frame is None:
            continue
        frame, rej = _unknown_accounts(frame, known, counts[spec.name].file)
        rejected.append(rej)
        if spec is SIGNALS:
            frame, rej = _prepare_signals(frame, counts[spec.name].file)
            rejected.append(rej)
        frames[spec.name] = frame

    signals = frames["signals"]
    assert signals is not None
    # the optional ts column, when absent, is all NaT: time evidence then says nothing
    observations = signals[["account_id", "kind", "value"]].reset_index(drop=True)
    observations["ts"] = _timestamps(signals).to_numpy()
    all_rejected = pd.concat(
        [r for r in rejected if not r.empty] or [no_rejects()], ignore_index=True
    )
    for count in counts.values():
        mine = all_rejected.loc[all_rejected["file"] == count.file, "row"]
        count.rejected = int(mine.nunique(dropna=True) + mine.isna().sum())
        count.kept = count.read - count.rejected
    ip_info = frames["ip_info"]
    if ip_info is not None:
        ip_info = ip_info.drop_duplicates("ip", keep="last").reset_index(drop=True)
    prompts_path = find_table(data_dir, PROMPTS) if stream_prompts else None
    # a canonical account order makes every later stage independent of input row order
    return Dataset(
        accounts=accounts.sort_values("account_id", kind="stable", ignore_index=True),
        signals=aggregate_signals(observations),
        observations=observations,
        prompts=None if frames["prompts"] is None else frames["prompts"].reset_index(drop=True),
        ip_info=ip_info,
        labels=None if frames["labels"] is None else frames["labels"].reset_index(drop=True),
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
