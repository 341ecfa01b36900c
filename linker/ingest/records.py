"""The rows of an input file exactly as they were read, for the rejected-rows table.

A rejected row's ``record`` is what the user wrote, so that it can be fixed and fed
again: the line text(s) of a CSV row, quotes and all; the line of a JSONL row; a JSON
object of a parquet row's values as stored. Bytes that are not UTF-8 are shown as
``\\xNN``.

``scan_csv`` splits a CSV byte stream into records the way pyarrow's reader does
(double-quoted fields may span lines, ``""`` is a quote inside them, a quote elsewhere is
an ordinary character, ``\\n``, ``\\r\\n`` and ``\\r`` end a line, empty lines are no
rows). It also defines what happens to a quote that is never closed: the reader would
swallow the rest of the file into one value; here the line that opened it is a row of
its own (rejected) and reading goes on at the next line.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow.parquet as pq

from linker.errors import InputError

QUOTE, COMMA, LF, CR = 0x22, 0x2C, 0x0A, 0x0D
_FIELD_END = re.compile(rb"[,\r\n]")
_LINE_END = re.compile(rb"[\r\n]")
_BLANK_LINES = re.compile(rb"[\r\n]*")
#: a scan reads this much at a time
SCAN_BLOCK_BYTES = 4 << 20
#: quote-free stretches at least this long are split into lines with numpy
_BULK_MIN_BYTES = 1 << 16
_NEED_MORE = -1
_OPEN = -2
UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


@dataclass
class CsvScan:
    """What :func:`scan_csv` found: the raw bytes of the rows asked for, the rows cut
    at an unclosed quote (row number, start and end offset of the line), and how many
    rows there were."""

    records: dict[int, bytes] = field(default_factory=dict)
    cuts: list[tuple[int, int, int]] = field(default_factory=list)
    rows: int = 0


def _record_end(buf: bytes, pos: int, final: bool) -> int:
    """Where the record starting at ``pos`` ends: the index of its line terminator (or
    ``len(buf)`` at the end of the data); ``_NEED_MORE`` when ``buf`` ends first and
    more data may follow; ``_OPEN`` when the data ends inside a quoted field."""
    n = len(buf)
    i = pos
    while True:
        if i < n and buf[i] == QUOTE:  # a quoted field runs to its closing quote
            j = i + 1
            while True:
                q = buf.find(b'"', j)
                if q < 0:
                    return _OPEN if final else _NEED_MORE
                if q + 1 < n and buf[q + 1] == QUOTE:
                    j = q + 2
                    continue
                if q + 1 == n and not final:
                    return _NEED_MORE  # the next block may start with the second quote
                break
            i = q + 1
        m = _FIELD_END.search(buf, i)
        if m is None:
            return n if final else _NEED_MORE
        i = m.start()
        if buf[i] != COMMA:
            return i
        i += 1


def _lines(buf: bytes, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the non-empty lines of ``buf[start:stop]``, a stretch
    without quotes that ends with a line terminator."""
    arr = np.frombuffer(buf, dtype=np.uint8, count=stop - start, offset=start)
    newline = (arr == LF) | (arr == CR)
    before = np.concatenate(([True], newline[:-1]))
    after = np.concatenate((newline[1:], [True]))
    starts = np.flatnonzero(~newline & before) + start
    ends = np.flatnonzero(~newline & after) + start + 1
    return starts, ends


class _Scanner:
    """One pass of :func:`scan_csv` over a stream, block by block."""

    def __init__(self, first_row: int, wanted: Iterable[int] | None) -> None:
        self.out = CsvScan()
        self.row = first_row - 1
        self.every = wanted is None
        self.wanted = np.array(sorted(set(wanted or ())), dtype=np.int64)
        self.wanted_set = set(self.wanted.tolist())

    def _take(self, start: int, end: int, buf: bytes) -> None:
        self.row += 1
        if self.every or self.row in self.wanted_set:
            self.out.records[self.row] = buf[start:end]

    def _take_lines(self, buf: bytes, start: int, stop: int) -> None:
        starts, ends = _lines(buf, start, stop)
        first = self.row + 1
        if self.every:
            picked = range(first, first + len(starts))
        else:
            lo, hi = np.searchsorted(self.wanted, [first, first + len(starts)])
            picked = self.wanted[lo:hi].tolist()
        for r in picked:
            self.out.records[r] = buf[starts[r - first] : ends[r - first]]
        self.row += len(starts)

    def feed(self, buf: bytes, base: int, final: bool) -> int:
        """Scan ``buf`` (which starts at stream offset ``base``); returns where the first
        unfinished record starts (``len(buf)`` when all is consumed)."""
        pos, n = 0, len(buf)
        next_quote = buf.find(b'"')
        while True:
            pos = _BLANK_LINES.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                return n
            if 0 <= next_quote < pos:
                next_quote = buf.find(b'"', pos)
            limit = n if next_quote < 0 else next_quote
            if limit - pos >= _BULK_MIN_BYTES:
                stop = max(buf.rfind(b"\n", pos, limit), buf.rfind(b"\r", pos, limit))
                if stop > pos:
                    self._take_lines(buf, pos, stop + 1)
                    pos = stop + 1
                    continue
            end = _record_end(buf, pos, final)
            if end == _NEED_MORE:
                return pos
            if end == _OPEN:
                m = _LINE_END.search(buf, pos)
                end = m.start() if m else n
                self.out.cuts.append((self.row + 1, base + pos, base + end))
            self._take(pos, end, buf)
            pos = end


def scan_csv(
    stream: IO[bytes],
    first_row: int = 1,
    wanted: Iterable[int] | None = (),
    block_bytes: int = SCAN_BLOCK_BYTES,
) -> CsvScan:
    """Split the CSV bytes of ``stream`` (from its current position, the header already
    read) into records numbered from ``first_row``.

    Returns a :class:`CsvScan` with the raw bytes of the ``wanted`` rows (every row
    when None; without their line terminator), every line cut at a quote that is never
    closed, and the row count.
    Offsets are relative to where the stream was.
    """
    scanner = _Scanner(first_row, wanted)
    carry, base = b"", 0
    while True:
        block = stream.read(block_bytes)
        final = not block
        buf = carry + block
        used = scanner.feed(buf, base, final)
        if final:
            break
        carry, base = buf[used:], base + used
    scanner.out.rows = scanner.row - first_row + 1
    return scanner.out


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed when its name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def check_start(first: bytes, path: Path) -> bytes:
    """The first bytes of a text file without a UTF-8 byte order mark; raises InputError
    for a UTF-16 or UTF-32 one (inputs are UTF-8)."""
    if first.startswith(_UTF16_32_BOMS):
        raise InputError(
            "file is UTF-16 or UTF-32 encoded (it starts with that byte order mark); "
            "save it as UTF-8",
            file=str(path),
        )
    return first[len(UTF8_BOM) :] if first.startswith(UTF8_BOM) else first


def header_end(stream: IO[bytes], limit: int) -> tuple[bytes, int]:
    """Read the first line of ``stream``: returns (its bytes without the terminator,
    the offset where the data starts). Reads at most ``limit`` bytes of it."""
    head = b""
    while True:
        chunk = stream.read(1 << 16)
        head += chunk
        m = _LINE_END.search(head)
        if m is not None or not chunk or len(head) > limit:
            break
    if m is None:
        return head[:limit], len(head)
    end = m.end()
    if head[m.start()] == CR and end < len(head) and head[end] == LF:
        end += 1
    return head[: m.start()], end


def text(raw: bytes) -> str:
    """Record bytes as text; bytes that are not UTF-8 are shown as ``\\xNN``."""
    return raw.decode("utf-8", errors="backslashreplace")


def csv_records(path: Path, rows: Iterable[int]) -> dict[int, str]:
    """The original text of ``rows`` (1-based, header not counted) of a CSV file."""
    with open_binary(path) as stream:
        _, start = header_end(stream, 1 << 62)
        stream.seek(start)
        found = scan_csv(stream, 1, rows)
    return {row: text(raw) for row, raw in found.records.items()}


def jsonl_records(path: Path, rows: Iterable[int]) -> dict[int, str]:
    """The original lines of ``rows`` (1-based, blank lines not counted) of a JSONL file."""
    wanted = set(rows)
    out: dict[int, str] = {}
    with open_binary(path) as stream:
        row = 0
        for number, line in enumerate(stream):
            if number == 0 and line.startswith(UTF8_BOM):
                line = line[len(UTF8_BOM) :]
            if not line.strip():
                continue
            row += 1
            if row in wanted:
                out[row] = text(line.rstrip(b"\n").removesuffix(b"\r"))
                if len(out) == len(wanted):
                    break
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, decimal.Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def parquet_records(path: Path, rows: Iterable[int]) -> dict[int, str]:
    """``rows`` (1-based) of a parquet file as JSON objects of the values as stored
    (times in ISO-8601, bytes as text)."""
    wanted = np.array(sorted(set(rows)), dtype=np.int64)
    out: dict[int, str] = {}
    file = pq.ParquetFile(path)
    first = 1
    for group in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(group).num_rows
        mine = wanted[(wanted >= first) & (wanted < first + size)]
        if len(mine):
            table = file.read_row_group(group).take(mine - first)
            for row, values in zip(mine.tolist(), table.to_pylist(), strict=True):
                out[row] = json.dumps(_json_value(values), ensure_ascii=False)
        first += size
    return out


def original_records(path: Path, rows: Iterable[int]) -> dict[int, str]:
    """The original record of each of ``rows`` of the input file ``path``, by format."""
    name = path.name
    if name.endswith(".parquet"):
        return parquet_records(path, rows)
    if name.endswith((".csv", ".csv.gz")):
        return csv_records(path, rows)
    return jsonl_records(path, rows)
