"""Read an input directory into validated frames and a table of rejected rows.

Nothing is lost: every row that fails validation is kept in ``Dataset.rejected``
with the file, its 1-based row number (header not counted), the column, the
reason and the original record, and every valid row goes on. A run stops only
when a table cannot be used at all (missing, unreadable, a required column
absent, or every row invalid), with an :class:`~linker.errors.InputError` that
names the file and the column.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from linker import normalise
from linker.contract import (
    ACCOUNTS,
    FORMATS,
    LABELS_TABLE,
    PROMPTS,
    SIGNALS,
    TABLES,
    Column,
    TableSpec,
)
from linker.errors import InputError

REJECTED_COLUMNS = ["file", "row", "column", "reason", "value", "record"]
#: bytes the streaming CSV reader parses at a time
CSV_BLOCK_BYTES = 8 << 20
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


def find_table(data_dir: Path, spec: TableSpec) -> Path | None:
    """Return the file holding ``spec``'s table in ``data_dir``, or None if it has none.

    Raises InputError if the directory is missing or holds the table in two formats.
    """
    if not data_dir.is_dir():
        raise InputError("input directory does not exist", file=str(data_dir))
    found = [data_dir / f"{spec.name}{ext}" for ext in FORMATS]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(
            f"table {spec.name!r} is given twice ({names}); keep one", file=str(data_dir)
        )
    return found[0] if found else None


def read_raw(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a csv/jsonl (optionally gzip) or parquet file into a frame of raw values.

    Returns the frame (index = 1-based row number) and a frame of rows that could not
    be parsed at all (wrong field count, broken JSON), in the rejected-rows shape.
    Raises InputError if the file cannot be read.
    """
    name = path.name
    try:
        if name.endswith(".parquet"):
            frame, bad = pq.read_table(path).to_pandas(), _no_rejects()
            frame.index = pd.RangeIndex(1, len(frame) + 1)
        elif name.endswith((".csv", ".csv.gz")):
            frame, bad = _read_csv(path)
        else:
            frame, bad = _read_jsonl(path)
    except (OSError, pa.ArrowException, ValueError, UnicodeDecodeError, EOFError) as err:
        raise InputError(f"cannot read file: {err}", file=str(path)) from err
    return frame, bad


def iter_raw(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read ``path`` in batches of about ``batch_rows`` rows: like :func:`read_raw`, each
    batch is (raw rows indexed by their 1-based row number in the file, rows that could
    not be parsed). Only one batch is in memory at a time.
    Raises InputError if the file cannot be read."""
    name = path.name
    try:
        if name.endswith(".parquet"):
            start = 1
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                frame = batch.to_pandas()
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame, _no_rejects()
        elif name.endswith((".csv", ".csv.gz")):
            yield from _iter_csv(path, batch_rows)
        else:
            yield from _iter_jsonl(path, batch_rows)
    except (OSError, pa.ArrowException, ValueError, UnicodeDecodeError, EOFError) as err:
        raise InputError(f"cannot read file: {err}", file=str(path)) from err


def _iter_csv(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    header = _csv_header(path)
    invalid: list[dict[str, object]] = []
    skipped: set[int] = set()

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = (row.number - 1) if row.number is not None else None
        if number is not None:
            skipped.add(number)
        invalid.append(
            {
                "file": str(path),
                "row": number,
                "column": "*",
                "reason": f"expected {row.expected_columns} fields, found {row.actual_columns}",
                "value": None,
                "record": row.text,
            }
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=header, skip_rows=1, use_threads=False, block_size=CSV_BLOCK_BYTES
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=False
        ),
    )
    next_row = 1
    pending: list[pd.DataFrame] = []
    for batch in reader:
        frame = batch.to_pandas()
        numbers: list[int] = []
        while len(numbers) < len(frame):
            if next_row not in skipped:
                numbers.append(next_row)
            next_row += 1
        frame.index = pd.Index(numbers, dtype=np.int64)
        pending.append(frame)
        if sum(map(len, pending)) >= batch_rows:
            yield pd.concat(pending), _take_rejects(invalid)
            pending = []
    if pending or invalid:
        yield (
            pd.concat(pending) if pending else pd.DataFrame(columns=header),
            _take_rejects(invalid),
        )


def _take_rejects(invalid: list[dict[str, object]]) -> pd.DataFrame:
    """The rejected-rows frame of ``invalid``, which is emptied."""
    out = pd.DataFrame(invalid, columns=REJECTED_COLUMNS) if invalid else _no_rejects()
    invalid.clear()
    return out


def _iter_jsonl(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    with _open_text(path) as handle:
        row = 0
        while True:
            lines = list(_take_lines(handle, batch_rows))
            if not lines:
                return
            numbered = []
            for line in lines:
                if line.strip():
                    row += 1
                    numbered.append((row, line))
            yield _parse_json_lines(path, numbered)


def _take_lines(handle: TextIO, n: int) -> Iterator[str]:
    for _ in range(n):
        line = handle.readline()
        if not line:
            return
        yield line


def _parse_json_lines(
    path: Path, numbered: list[tuple[int, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse (row number, line) pairs: one bad line costs one row, not the batch."""
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    invalid: list[dict[str, object]] = []
    for row, line in numbered:
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must hold a JSON object")
        except ValueError as err:
            invalid.append(
                {
                    "file": str(path),
                    "row": row,
                    "column": "*",
                    "reason": f"invalid JSON: {err}",
                    "value": None,
                    "record": line.strip()[:500],
                }
            )
            continue
        records.append(record)
        numbers.append(row)
    frame = pd.DataFrame.from_records(records)
    frame.index = pd.Index(numbers, dtype=np.int64)
    return frame, pd.DataFrame(invalid, columns=REJECTED_COLUMNS) if invalid else _no_rejects()


def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTED_COLUMNS})


def _read_csv(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = list(_iter_csv(path, batch_rows=2**62))
    if not parts:
        return pd.DataFrame(columns=_csv_header(path)), _no_rejects()
    frames, bad = zip(*parts, strict=True)
    rejects = [b for b in bad if not b.empty]
    return pd.concat(frames), pd.concat(rejects) if rejects else _no_rejects()


def _csv_header(path: Path) -> list[str]:
    with _open_text(path) as handle:
        first = handle.readline()
    if not first.strip():
        raise InputError("file is empty (no header line)", file=str(path))
    return [c.strip() for c in next(csv.reader([first.lstrip("\ufeff").rstrip("\r\n")]))]


def _open_text(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        frame = pajson.read_json(path).to_pandas()
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        return frame, _no_rejects()
    except pa.ArrowInvalid:
        pass  # fall back to line-by-line so that one bad line costs one row, not the file
    with _open_text(path) as handle:
        lines = [line for line in handle if line.strip()]
    return _parse_json_lines(path, list(enumerate(lines, start=1)))


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
    rejected = pd.concat(problems, ignore_index=True) if problems else _no_rejects()
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
        return None, _no_rejects(), None
    if progress:
        progress(f"reading {path.name}")
    raw, unparsable = read_raw(path)
    valid, rejected = validate_table(raw, spec, path)
    rejected = pd.concat(
        [r for r in (unparsable, rejected) if not r.empty] or [_no_rejects()], ignore_index=True
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
        return frame, _no_rejects()
    return frame[~bad], _rejects(
        frame, pd.Series(bad, index=frame.index), Path(path), column, reason
    )


def _unknown_accounts(
    frame: pd.DataFrame, known: pd.Index, path: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = ~frame["account_id"].isin(known).to_numpy()
    return _reject_where(frame, bad, path, "account_id", "account_id not in accounts table")


def aggregate_signals(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct (account_id, kind, value): ``n_obs``, ``first_ts``, ``last_ts``."""
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
    return signals, _no_rejects()


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
    rejected: pd.DataFrame = field(default_factory=lambda: _no_rejects())
    counts: TableCounts | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        rejected: list[pd.DataFrame] = []
        read = kept = 0
        for raw, unparsable in iter_raw(self.path, self.batch_rows):
            valid, bad = (
                validate_table(raw, PROMPTS, self.path)
                if len(raw.columns)
                else (raw, _no_rejects())
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
            [r for r in rejected if not r.empty] or [_no_rejects()], ignore_index=True
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
    observations = signals[["account_id", "kind", "value", "ts"]].reset_index(drop=True)
    all_rejected = pd.concat(
        [r for r in rejected if not r.empty] or [_no_rejects()], ignore_index=True
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
