"""Readers of the three input formats (csv, jsonl, parquet; gzip too), whole or in batches,
with the file's own row numbers; rows that cannot be parsed come back as rejects.

Every reader gives each row its 1-based number in the file (header and blank lines not
counted) and never drops one silently: a row is either in the frame or in the rejects.
A file that cannot be read at all raises :class:`InputError` naming it.
"""

from __future__ import annotations

import contextlib
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from linker.errors import InputError
from linker.ingest.contract import FORMATS, TableSpec
from linker.ingest.csvreader import check_unique, iter_csv
from linker.ingest.records import check_start, open_binary
from linker.ingest.rejected import NOT_UTF8, REJECTED_COLUMNS, no_rejects, rejects, shown

__all__ = [
    "READ_ERRORS",
    "REJECTED_COLUMNS",
    "find_table",
    "iter_raw",
    "no_rejects",
    "read_raw",
    "rejects",
    "shown",
]

#: JSONL lines parsed together by ``read_raw``
JSONL_BATCH_ROWS = 100_000
#: a JSONL line with more opening brackets than this is parsed in Python: pyarrow's
#: parser crashes the process on deep nesting (100,000 levels)
JSON_FAST_MAX_BRACKETS = 1000
#: what reading a damaged file can raise (gzip cut short, corrupt parquet, bad bytes)
READ_ERRORS = (OSError, EOFError, zlib.error, pa.ArrowException, ValueError, UnicodeError)


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


def read_raw(path: Path, text_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a csv/jsonl (optionally gzip) or parquet file into a frame of raw values.

    ``text_columns`` are read as text where the format lets the reader choose (JSONL).
    Returns the frame (index = 1-based row number) and a frame of rows that could not
    be parsed at all (wrong field count, broken JSON, bytes that are not UTF-8), in the
    rejected-rows shape (``record`` left empty: see :mod:`linker.ingest.records`).
    Raises InputError if the file cannot be read.
    """
    batch = JSONL_BATCH_ROWS if _is_jsonl(path) else 2**62
    parts = list(iter_raw(path, batch, text_columns))
    frames = [f for f, _ in parts]
    bad = [b for _, b in parts if not b.empty]
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    return frame, pd.concat(bad, ignore_index=True) if bad else no_rejects()


def iter_raw(
    path: Path, batch_rows: int, text_columns: tuple[str, ...] = ()
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read ``path`` in batches of about ``batch_rows`` rows: like :func:`read_raw`, each
    batch is (raw rows indexed by their 1-based row number in the file, rows that could
    not be parsed). Only one batch is in memory at a time; at least one batch comes.
    Raises InputError if the file cannot be read."""
    try:
        if path.name.endswith(".parquet"):
            yield from _iter_parquet(path, batch_rows)
        elif path.name.endswith((".csv", ".csv.gz")):
            yield from iter_csv(path, batch_rows)
        else:
            yield from _iter_jsonl(path, batch_rows, text_columns)
    except READ_ERRORS as err:
        raise InputError(f"cannot read file: {_one_line(err)}", file=str(path)) from err


def _is_jsonl(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.gz"))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


# --- jsonl -----------------------------------------------------------------------------


def _iter_jsonl(
    path: Path, batch_rows: int, text_columns: tuple[str, ...]
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    with open_binary(path) as stream:
        row = 0
        numbers: list[int] = []
        lines: list[bytes] = []
        yielded = False
        for i, line in enumerate(stream):
            if i == 0:
                line = check_start(line, path)
            if not line.strip():
                continue
            row += 1
            numbers.append(row)
            lines.append(line)
            if len(lines) >= batch_rows:
                yield _parse_json_lines(path, numbers, lines, text_columns)
                numbers, lines, yielded = [], [], True
        if lines or not yielded:
            yield _parse_json_lines(path, numbers, lines, text_columns)


def _parse_json_lines(
    path: Path, numbers: list[int], lines: list[bytes], text_columns: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse numbered lines: all at once with pyarrow when every line is one object,
    else line by line, so that one bad line costs one row, not the batch."""
    blob = b"\n".join(line.rstrip(b"\r\n") for line in lines)
    fields = [pa.field(c, pa.string()) for c in text_columns if f'"{c}"'.encode() in blob]
    shallow = all(line.count(b"[") + line.count(b"{") <= JSON_FAST_MAX_BRACKETS for line in lines)
    if blob and shallow and len(blob) < (1 << 31) - 1 and _is_utf8_bytes(blob):
        try:
            table = pajson.read_json(
                io.BytesIO(blob),
                read_options=pajson.ReadOptions(use_threads=False, block_size=len(blob) + 1),
                parse_options=pajson.ParseOptions(
                    explicit_schema=pa.schema(fields), unexpected_field_behavior="infer"
                ),
            )
            if table.num_rows == len(lines) and len(set(table.column_names)) == table.num_columns:
                frame = table.to_pandas()
                frame.index = pd.Index(numbers, dtype=np.int64)
                return frame, no_rejects()
        except (pa.ArrowException, ValueError):
            pass
    return _parse_json_each(path, numbers, lines)


def _is_utf8_bytes(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (pyarrow's JSON reader does not check)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse_json_each(
    path: Path, numbers: list[int], lines: list[bytes]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    records: list[dict[str, object]] = []
    kept: list[int] = []
    bad_rows: list[int] = []
    reasons: list[str] = []
    for row, line in zip(numbers, lines, strict=True):
        try:
            record = json.loads(
                line.decode("utf-8"), parse_int=str, parse_float=str, parse_constant=str
            )
            if not isinstance(record, dict):
                raise ValueError("a line must hold one JSON object")
        except UnicodeDecodeError:
            bad_rows.append(row)
            reasons.append(NOT_UTF8)
            continue
        except RecursionError:
            bad_rows.append(row)
            reasons.append("invalid JSON: nested too deeply")
            continue
        except ValueError as err:
            bad_rows.append(row)
            reasons.append(f"invalid JSON: {_one_line(err)}")
            continue
        records.append(record)
        kept.append(row)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.index = pd.Index(kept, dtype=np.int64)
    return frame, rejects(path, bad_rows, "*", reasons)


# --- parquet ---------------------------------------------------------------------------


def _iter_parquet(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    check_unique([n.strip() for n in names], path)
    start = 1
    yielded = False
    for batch in file.iter_batches(batch_size=min(batch_rows, 1 << 20)):
        frame = _arrow_frame(batch, path)
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yielded = True
        yield frame, no_rejects()
    if not yielded:
        frame = _arrow_frame(file.schema_arrow.empty_table(), path)
        yield frame, no_rejects()


def _arrow_frame(data: pa.RecordBatch | pa.Table, path: Path) -> pd.DataFrame:
    """A frame of the columns of ``data``: dictionaries decoded, binary as text where it
    is UTF-8 (else bytes, rejected per value by validation)."""
    columns: dict[str, pd.Series] = {}
    for name, array in zip(data.schema.names, data.columns, strict=True):
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
            with contextlib.suppress(pa.ArrowInvalid):  # not UTF-8: validation says where
                array = array.cast(pa.string())
        try:
            columns[name] = pd.Series(array.to_pandas(), name=name)
        except (pa.ArrowException, ValueError, TypeError) as err:
            raise InputError(
                f"cannot read column: {_one_line(err)}", file=str(path), column=shown(name)
            ) from err
    return pd.DataFrame(columns) if columns else pd.DataFrame(index=range(data.num_rows))
