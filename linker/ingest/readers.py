"""Readers of the three input formats (csv, jsonl, parquet; gzip too), whole or in batches,
with the file's own row numbers; rows that cannot be parsed come back as rejects.

Every reader gives each row its 1-based number in the file (header and blank lines not
counted) and never drops one silently: a row is either in the frame or in the rejects.
A file that cannot be read at all raises :class:`InputError` naming it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from linker.errors import InputError
from linker.ingest.contract import FORMATS, TableSpec
from linker.ingest.records import UTF8_BOM, header_end, open_binary, scan_csv

REJECTED_COLUMNS = ["file", "row", "column", "reason", "value", "record"]

#: bytes the streaming CSV reader parses at a time (a row longer than this is read
#: again with a larger block)
CSV_BLOCK_BYTES = 8 << 20
#: the largest block a CSV row may need before the file is refused
CSV_MAX_BLOCK_BYTES = 1 << 30
#: the longest header line accepted
HEADER_MAX_BYTES = 1 << 20
#: JSONL lines parsed together by ``read_raw``
JSONL_BATCH_ROWS = 100_000
#: a row appended to the CSV data: if it does not come back whole, a quote was left open
_SENTINEL = b"\x00sybil-linker-end-of-data\x00"
_SENTINEL_TEXT = _SENTINEL.decode()
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
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
            yield from _iter_csv(path, batch_rows)
        else:
            yield from _iter_jsonl(path, batch_rows, text_columns)
    except READ_ERRORS as err:
        raise InputError(f"cannot read file: {_one_line(err)}", file=str(path)) from err


def _is_jsonl(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.gz"))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def no_rejects() -> pd.DataFrame:
    """An empty frame in the rejected-rows shape."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTED_COLUMNS})


def rejects(
    path: Path,
    rows: list[int],
    column: str | list[str],
    reason: str | list[str],
    value: list[object] | None = None,
) -> pd.DataFrame:
    """Rejected rows of ``path`` in the rejected-rows shape (``record`` is filled later)."""
    if not rows:
        return no_rejects()
    return pd.DataFrame(
        {
            "file": str(path),
            "row": rows,
            "column": column,
            "reason": reason,
            "value": value if value is not None else [None] * len(rows),
            "record": [None] * len(rows),
        },
        columns=REJECTED_COLUMNS,
    )


def _check_start(first: bytes, path: Path) -> bytes:
    """The first bytes of a text file without a UTF-8 byte order mark; raises InputError
    for a UTF-16 or UTF-32 one (inputs are UTF-8)."""
    if first.startswith(_UTF16_32_BOMS):
        raise InputError(
            "file is UTF-16 or UTF-32 encoded (it starts with that byte order mark); "
            "save it as UTF-8",
            file=str(path),
        )
    return first[len(UTF8_BOM) :] if first.startswith(UTF8_BOM) else first


def shown(name: object) -> str:
    """A column name as printed in a message: control characters escaped."""
    text = str(name)
    return repr(text)[1:-1] if not text.isprintable() else text


# --- csv -------------------------------------------------------------------------------


def _csv_header(path: Path) -> tuple[list[str], int]:
    """The column names of a CSV file and the offset where its rows start."""
    with open_binary(path) as stream:
        line, start = header_end(stream, HEADER_MAX_BYTES)
    if len(line) >= HEADER_MAX_BYTES:
        raise InputError(
            f"the first line is longer than {HEADER_MAX_BYTES:,} bytes; is this a CSV file?",
            file=str(path),
        )
    line = _check_start(line, path)
    if not line.strip():
        raise InputError(
            "file is empty or its first line is blank (no header line)", file=str(path)
        )
    if b"\x00" in line:
        raise InputError(
            "the header line holds NUL bytes; is the file UTF-16? save it as UTF-8",
            file=str(path),
        )
    try:
        names = next(csv.reader([line.decode("utf-8")], strict=True))
    except UnicodeDecodeError as err:
        raise InputError(
            f"the header line is not UTF-8 text (byte {err.start}); save the file as UTF-8",
            file=str(path),
        ) from err
    except csv.Error as err:
        raise InputError(f"the header line cannot be parsed: {err}", file=str(path)) from err
    names = [n.strip() for n in names]
    _check_unique(names, path)
    return names, start


def _check_unique(names: list[str], path: Path) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                "column appears twice in the header", file=str(path), column=shown(name)
            )
        seen.add(name)


class _Source(io.RawIOBase):
    """The rows of a CSV file as pyarrow is given them: the bytes from ``start`` with
    the ``cuts`` (offset spans, relative to ``start``) left out, then ``tail``. Raises
    _NotUtf8 on the first block that is not UTF-8, before pyarrow parses it."""

    def __init__(self, path: Path, start: int, cuts: list[tuple[int, int, int]], tail: bytes):
        self._stream = open_binary(path)
        self._stream.seek(start)
        self._pos = 0
        self._cuts = sorted((s, e) for _, s, e in cuts)
        self._tail = tail
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._cuts and self._cuts[0][0] <= self._pos:
            self._stream.seek(self._stream.tell() + self._cuts[0][1] - self._pos)
            self._pos = self._cuts.pop(0)[1]
        want = len(buffer)
        if self._cuts:
            want = min(want, self._cuts[0][0] - self._pos)
        data = self._stream.read(want)
        try:
            self._utf8.decode(data, final=not data)
        except UnicodeDecodeError as err:
            raise _NotUtf8 from err
        if not data:
            data, self._tail = self._tail[: len(buffer)], self._tail[len(buffer) :]
        self._pos += len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class _Straddled(Exception):
    """A row is longer than the reader's block."""


class _OpenQuote(Exception):
    """A quoted field is still open at the end of the file."""


class _NotUtf8(Exception):
    """The file holds bytes that are not UTF-8."""


def _original_rows(relative: np.ndarray, cut_rows: list[int]) -> np.ndarray:
    """Row numbers in the file of rows numbered ``relative`` in a stream without the
    ``cut_rows`` (ascending)."""
    out = relative.astype(np.int64, copy=True)
    for cut in cut_rows:
        out[out >= cut] += 1
    return out


class _Numbering:
    """Numbers pyarrow's valid rows: the next numbers not taken by invalid rows."""

    def __init__(self) -> None:
        self.next = 1
        self.invalid: dict[int, tuple[int, int]] = {}  # number -> (expected, found) fields

    def take(self, count: int) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
        """Numbers of the next ``count`` valid rows and the invalid rows passed by them."""
        ahead = np.array(sorted(n for n in self.invalid if n >= self.next), dtype=np.int64)
        numbers = np.arange(self.next, self.next + count + len(ahead), dtype=np.int64)
        numbers = numbers[~np.isin(numbers, ahead)][:count]
        if count:
            self.next = int(numbers[-1]) + 1
        passed = {n: f for n, f in self.invalid.items() if n < self.next}
        self.invalid = {n: f for n, f in self.invalid.items() if n >= self.next}
        return numbers, passed


def _csv_batches(
    path: Path, names: list[str], start: int, cuts: list[tuple[int, int, int]], block: int
) -> Iterator[tuple[pa.RecordBatch, np.ndarray, pd.DataFrame]]:
    """One pass of pyarrow over the rows: (batch of text columns, row numbers, invalid
    rows) per batch. Raises _Straddled or, after the rows before it, _OpenQuote."""
    numbering = _Numbering()
    cut_rows = sorted(r for r, _, _ in cuts)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number is None:  # pragma: no cover - known with use_threads=False
            raise InputError("cannot number the rows", file=str(path))
        numbering.invalid[row.number] = (row.expected_columns, row.actual_columns)
        return "skip"

    def invalid_frame(invalid: dict[int, tuple[int, int]]) -> pd.DataFrame:
        numbers = sorted(invalid)
        rows = _original_rows(np.array(numbers, dtype=np.int64), cut_rows).tolist()
        reasons = [f"expected {invalid[n][0]} fields, found {invalid[n][1]}" for n in numbers]
        return rejects(path, rows, "*", reasons)

    tail = b"\n" + b",".join([_SENTINEL] * len(names)) + b"\n"
    try:
        reader = pacsv.open_csv(
            _Source(path, start, cuts, tail),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=block),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in names}, strings_can_be_null=False
            ),
        )
        held: tuple[pa.RecordBatch, np.ndarray, pd.DataFrame] | None = None
        for batch in reader:
            numbers, passed = numbering.take(batch.num_rows)
            if held is not None:
                yield held
            held = (batch, _original_rows(numbers, cut_rows), invalid_frame(passed))
    except pa.ArrowInvalid as err:
        if "straddl" in str(err):
            raise _Straddled from err
        raise
    last = numbering.next - 1
    if (
        held is not None
        and held[0].num_rows
        and all(held[0].column(i)[-1].as_py() == _SENTINEL_TEXT for i in range(len(names)))
    ):
        yield held[0].slice(0, held[0].num_rows - 1), held[1][:-1], held[2]
        if numbering.invalid:  # pragma: no cover - nothing follows the sentinel
            yield held[0].slice(0, 0), held[1][:0], invalid_frame(numbering.invalid)
        return
    # the data ended inside a quoted field: its last row is the rest of the file
    end = max([last, *numbering.invalid])
    if held is not None:
        batch, numbers, bad = held
        if last == end and batch.num_rows:
            batch, numbers = batch.slice(0, batch.num_rows - 1), numbers[:-1]
        yield batch, numbers, bad
    numbering.invalid.pop(end, None)
    yield (
        pa.RecordBatch.from_pylist([], schema=_text_schema(names)),
        np.array([], np.int64),
        invalid_frame(numbering.invalid),
    )
    raise _OpenQuote


def _text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names])


def _frame(batch: pa.RecordBatch, numbers: np.ndarray) -> pd.DataFrame:
    """A batch of text columns as a frame indexed by its row numbers."""
    frame = batch.to_pandas()
    frame.index = pd.Index(numbers, dtype=np.int64)
    return frame


def _scan_cuts(path: Path, start: int) -> list[tuple[int, int, int]]:
    with open_binary(path) as stream:
        stream.seek(start)
        return scan_csv(stream).cuts


OPEN_QUOTE = "a quote opened on this line is never closed"
NOT_UTF8 = "not UTF-8 text; save the file as UTF-8"


def _iter_csv(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    names, start = _csv_header(path)
    frames: list[pd.DataFrame] = []
    bad: list[pd.DataFrame] = []
    yielded = False
    for frame, rejected in _csv_chunks(path, names, start):
        frames.append(frame)
        bad.append(rejected)
        if sum(map(len, frames)) >= batch_rows:
            yield _joined(frames, names), _joined_rejects(bad)
            frames, bad, yielded = [], [], True
    if frames or any(not b.empty for b in bad) or not yielded:
        yield _joined(frames, names), _joined_rejects(bad)


def _csv_chunks(
    path: Path, names: list[str], start: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The rows of a CSV file, numbered, as pyarrow parses them; read again with a
    larger block when a row is longer than one, without the lines of quotes that are
    never closed when there are some, and parsed in Python from the first block that
    is not UTF-8. A row handed out is never handed out again."""
    cuts: list[tuple[int, int, int]] | None = None
    block = CSV_BLOCK_BYTES
    done = 0  # every row numbered up to here has been handed out
    while True:
        try:
            for batch, numbers, invalid in _csv_batches(path, names, start, cuts or [], block):
                fresh = numbers > done
                frame = _frame(batch.filter(pa.array(fresh)), numbers[fresh])
                invalid = invalid[invalid["row"] > done]
                done = max(
                    done,
                    int(numbers.max(initial=0)),
                    int(invalid["row"].to_numpy(np.int64).max(initial=0)),
                )
                yield frame, invalid
            return
        except _Straddled as err:
            if block >= CSV_MAX_BLOCK_BYTES:
                raise InputError(
                    f"a row is longer than {CSV_MAX_BLOCK_BYTES:,} bytes", file=str(path)
                ) from err
            block *= 4
        except _OpenQuote as err:
            if cuts is not None:  # pragma: no cover - the scan finds every open quote
                raise InputError("cannot split the file into rows", file=str(path)) from err
            cuts = _scan_cuts(path, start)
            yield _joined([], names), rejects(path, [r for r, _, _ in cuts], "*", OPEN_QUOTE)
        except _NotUtf8:
            # pyarrow cannot report a broken row whose text is not UTF-8: rows with such
            # bytes are parsed in Python, and only their fields are rejected
            yield from _csv_in_python(path, names, start, done)
            return


def _csv_in_python(
    path: Path, names: list[str], start: int, done: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The rows after ``done`` split by :func:`scan_csv` and parsed one by one: slow,
    for files pyarrow cannot read through."""
    with open_binary(path) as stream:
        stream.seek(start)
        scan = scan_csv(stream, wanted=None)
    cut = {r for r, _, _ in scan.cuts}
    values: list[list[str]] = []
    kept: list[int] = []
    bad_rows: list[int] = []
    bad_cols: list[str] = []
    reasons: list[str] = []

    def refuse(row: int, column: str, reason: str) -> None:
        bad_rows.append(row)
        bad_cols.append(column)
        reasons.append(reason)

    for row, raw in sorted(scan.records.items()):
        if row <= done:
            continue
        if row in cut:
            refuse(row, "*", OPEN_QUOTE)
            continue
        fields = next(csv.reader([raw.decode("utf-8", "surrogateescape")]), [])
        if len(fields) != len(names):
            refuse(row, "*", f"expected {len(names)} fields, found {len(fields)}")
            continue
        undecodable = [n for n, f in zip(names, fields, strict=True) if not _is_utf8(f)]
        if undecodable:
            refuse(row, undecodable[0], NOT_UTF8)
            continue
        values.append(fields)
        kept.append(row)
    frame = pd.DataFrame(values, columns=names, index=pd.Index(kept, dtype=np.int64), dtype=object)
    yield frame, rejects(path, bad_rows, bad_cols, reasons)


def _is_utf8(field: str) -> bool:
    try:
        field.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: an undecodable byte
        return False
    return True


def _joined(frames: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return pd.DataFrame(
            {n: pd.Series(dtype=object) for n in names}, index=pd.Index([], dtype=np.int64)
        )
    return pd.concat(frames) if len(frames) > 1 else frames[0]


def _joined_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    if not parts:
        return no_rejects()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("row", kind="stable", ignore_index=True)


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
                line = _check_start(line, path)
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
    if blob and len(blob) < (1 << 31) - 1:
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
    _check_unique([n.strip() for n in names], path)
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
