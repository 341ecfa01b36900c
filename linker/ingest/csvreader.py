"""The CSV reader: pyarrow parses the rows, and nothing it does is allowed to lose one.

Each row is numbered as :func:`linker.ingest.records.scan_csv` splits the file, which is
how pyarrow splits it (a test holds the two together). Around pyarrow: a row longer
than the read block is read again with a larger block; a quote never closed would make
the rest of the file one value, so the data is followed by a row pyarrow must return
whole, and when it does not, the line that opened the quote is cut out and rejected;
from the first block that is not UTF-8 (which pyarrow cannot report row by row) the
rows are parsed in Python, and a row with such bytes is rejected.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from linker.errors import InputError
from linker.ingest.records import check_start, header_end, open_binary, scan_csv
from linker.ingest.rejected import NOT_UTF8, joined_rejects, rejects, shown

#: bytes the streaming CSV reader parses at a time (a row longer than this is read
#: again with a larger block)
CSV_BLOCK_BYTES = 8 << 20
#: the largest block a CSV row may need before the file is refused
CSV_MAX_BLOCK_BYTES = 1 << 30
#: the longest header line accepted
HEADER_MAX_BYTES = 1 << 20
#: a row appended to the CSV data: if it does not come back whole, a quote was left open
_SENTINEL = b"\x00sybil-linker-end-of-data\x00"
_SENTINEL_TEXT = _SENTINEL.decode()
OPEN_QUOTE = "a quote opened on this line is never closed"


def _csv_header(path: Path) -> tuple[list[str], int]:
    """The column names of a CSV file and the offset where its rows start."""
    with open_binary(path) as stream:
        line, start = header_end(stream, HEADER_MAX_BYTES)
    if len(line) >= HEADER_MAX_BYTES:
        raise InputError(
            f"the first line is longer than {HEADER_MAX_BYTES:,} bytes; is this a CSV file?",
            file=str(path),
        )
    line = check_start(line, path)
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
    check_unique(names, path)
    return names, start


def check_unique(names: list[str], path: Path) -> None:
    """Raise InputError naming the first column name given twice."""
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
    source = _Source(path, start, cuts, tail)
    try:
        reader = pacsv.open_csv(
            source,
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
    finally:
        source.close()
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
    frame: pd.DataFrame = batch.to_pandas()
    frame.index = pd.Index(numbers, dtype=np.int64)
    return frame


def _scan_cuts(path: Path, start: int) -> list[tuple[int, int, int]]:
    with open_binary(path) as stream:
        stream.seek(start)
        return scan_csv(stream).cuts


def iter_csv(path: Path, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The rows of the CSV file ``path`` in batches of about ``batch_rows``: (text
    frame indexed by row number, rejected rows). Raises InputError when the header is
    unusable or a row is longer than 1 GiB; pyarrow's errors on a damaged file pass
    through (the caller names the file)."""
    names, start = _csv_header(path)
    frames: list[pd.DataFrame] = []
    bad: list[pd.DataFrame] = []
    yielded = False
    for frame, rejected in _csv_chunks(path, names, start):
        frames.append(frame)
        bad.append(rejected)
        if sum(map(len, frames)) >= batch_rows:
            yield _joined(frames, names), joined_rejects(bad)
            frames, bad, yielded = [], [], True
    if frames or any(not b.empty for b in bad) or not yielded:
        yield _joined(frames, names), joined_rejects(bad)


def _csv_chunks(
    path: Path, names: list[str], start: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The rows of a CSV file, numbered, as pyarrow parses them; read again with a
    larger block when a row is longer than one, without the lines of quotes that are
    never closed when there are some, and parsed in Python from the first block that
    is not UTF-8. A row handed out is never handed out again."""
    cuts: list[tuple[int, int, int]] | None = None
    block = CSV_BLOCK_BYTES
    done = 0  # every row numbered up to here has been handed out, and the cut rows
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
            handed = {r for r, _, _ in cuts or []}
            yield from _csv_in_python(path, names, start, done, handed)
            return


def _csv_in_python(
    path: Path, names: list[str], start: int, done: int, handed: set[int]
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The rows after ``done`` (but the ``handed`` ones) split by :func:`scan_csv` and
    parsed one by one: slow, for files pyarrow cannot read through."""
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
        if row <= done or row in handed:
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
