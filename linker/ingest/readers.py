"""Readers of the three input formats (csv, jsonl, parquet; gzip too), whole or in batches,
with the file's own row numbers; rows that cannot be parsed come back as rejects."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from linker.errors import InputError
from linker.ingest.contract import (
    FORMATS,
    TableSpec,
)

REJECTED_COLUMNS = ["file", "row", "column", "reason", "value", "record"]


#: bytes the streaming CSV reader parses at a time
CSV_BLOCK_BYTES = 8 << 20


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
            frame, bad = pq.read_table(path).to_pandas(), no_rejects()
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
                yield frame, no_rejects()
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
    out = pd.DataFrame(invalid, columns=REJECTED_COLUMNS) if invalid else no_rejects()
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
    return frame, pd.DataFrame(invalid, columns=REJECTED_COLUMNS) if invalid else no_rejects()


def no_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTED_COLUMNS})


def _read_csv(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = list(_iter_csv(path, batch_rows=2**62))
    if not parts:
        return pd.DataFrame(columns=_csv_header(path)), no_rejects()
    frames, bad = zip(*parts, strict=True)
    rejects = [b for b in bad if not b.empty]
    return pd.concat(frames), pd.concat(rejects) if rejects else no_rejects()


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
        return frame, no_rejects()
    except pa.ArrowInvalid:
        pass  # fall back to line-by-line so that one bad line costs one row, not the file
    with _open_text(path) as handle:
        lines = [line for line in handle if line.strip()]
    return _parse_json_lines(path, list(enumerate(lines, start=1)))
