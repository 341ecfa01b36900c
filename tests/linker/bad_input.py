"""A corpus of malformed inputs, generated rather than written out case by case.

A small valid world (30 accounts, 300 signals, 60 prompts, 8 ip_info rows, 25 labels) is
turned into cases by named mutators, each crossed with the formats it applies to. A
mutator edits a :class:`Draft`: the world's cells, the text of the written lines (CSV
and JSONL), the bytes of a file, or the parquet types; and it says what the linker must
do: which rows of which table are rejected, or which table (and column) stops the run.
Rendering a draft writes the files and keeps what was written: the rows of each table
and each row's text, so that a test can check the counts and the ``record`` of every
rejected row against what the generator knows it wrote.

Accounts ``a25``..``a29`` appear in no other table, so a mutation that rejects one of
them rejects nothing else.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("csv", "csv.gz", "jsonl", "jsonl.gz", "parquet")
CSV = ("csv", "csv.gz")
JSONL = ("jsonl", "jsonl.gz")
TEXT = CSV + JSONL
TYPED = (*JSONL, "parquet")
TABLES = ("accounts", "signals", "prompts", "ip_info", "labels")
ORPHANS = (26, 27, 28, 29, 30)  # rows of accounts a25..a29, referenced nowhere else
#: a cell left out of a JSONL line (a key that is not there)
ABSENT = object()


@dataclass
class Table:
    """One table of the world: columns, rows of cells, and parquet types (default text)."""

    columns: list[str]
    rows: list[list[Any]]
    types: dict[str, pa.DataType] = field(default_factory=dict)

    def set(self, row: int, column: str, value: Any) -> None:
        """Set the cell of 1-based ``row``."""
        self.rows[row - 1][self.columns.index(column)] = value

    def get(self, row: int, column: str) -> Any:
        return self.rows[row - 1][self.columns.index(column)]

    def drop(self, column: str) -> None:
        i = self.columns.index(column)
        del self.columns[i]
        for r in self.rows:
            del r[i]
        self.types.pop(column, None)

    def add(self, column: str, values: list[Any]) -> None:
        self.columns.append(column)
        for r, v in zip(self.rows, values, strict=True):
            r.append(v)


@dataclass
class Line:
    """One line of a text file as written: its text and whether it is a row (not the
    header, not a blank line). A CSV row may hold a line break inside quotes."""

    text: str
    row: bool = True


@dataclass
class TextFile:
    """A CSV or JSONL file as written, line by line."""

    lines: list[Line]
    newline: str = "\n"
    final_newline: bool = True
    encoding: str = "utf-8"
    bom: bytes = b""

    def rows(self) -> list[Line]:
        return [line for line in self.lines if line.row]

    def row(self, number: int) -> Line:
        """The 1-based ``number``-th row."""
        return self.rows()[number - 1]

    def insert_before(self, number: int, line: Line) -> None:
        self.lines.insert(self.lines.index(self.row(number)), line)

    def encoded(self) -> bytes:
        body = self.newline.join(line.text for line in self.lines)
        if self.final_newline and self.lines:
            body += self.newline
        return self.bom + body.encode(self.encoding, errors="surrogateescape")


@dataclass
class Draft:
    """A case being made: the world to write and what the linker must make of it."""

    fmt: str
    tables: dict[str, Table]
    rejected: dict[str, set[int]] = field(default_factory=dict)
    error: tuple[str, str | None] | None = None
    #: per table: edits of the written lines (CSV and JSONL)
    text_edits: dict[str, list[Callable[[TextFile], None]]] = field(default_factory=dict)
    #: per table: edits of the file's bytes (after compression)
    byte_edits: dict[str, Callable[[bytes], bytes]] = field(default_factory=dict)
    #: files written as given (name -> bytes), and tables not written at all
    extra_files: dict[str, bytes] = field(default_factory=dict)
    omit: set[str] = field(default_factory=set)
    #: rows a table's file holds when an edit of its bytes changed them
    read: dict[str, int] = field(default_factory=dict)
    #: checks of the loaded dataset beyond the counts (kept values)
    checks: list[Callable[[Any], None]] = field(default_factory=list)

    @property
    def csv(self) -> bool:
        return self.fmt in CSV

    def reject(self, table: str, *rows: int) -> None:
        self.rejected.setdefault(table, set()).update(rows)

    def fail(self, table: str, column: str | None = None) -> None:
        """The run must stop with one error naming ``table``'s file (``""``: the input
        directory) and ``column``."""
        self.error = (table, column)

    def edit(self, table: str, func: Callable[[TextFile], None]) -> None:
        self.text_edits.setdefault(table, []).append(func)


@dataclass
class Case:
    """A rendered case: files to write, and what the generator knows it wrote."""

    kind: str
    fmt: str
    files: dict[str, bytes]
    read: dict[str, int]
    records: dict[str, dict[int, Any]]
    rejected: dict[str, set[int]]
    error: tuple[str, str | None] | None
    checks: list[Callable[[Any], None]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.fmt}"

    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (root / name).write_bytes(data)
        return root

    def file_name(self, table: str) -> str:
        return f"{table}.{self.fmt}"


# --- the base world -------------------------------------------------------------------


def _stamp(day: int, minute: int) -> str:
    return f"2026-02-{day:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z"


def base_world() -> dict[str, Table]:
    """The valid world every case starts from (ASCII only, all cells text)."""
    ids = [f"a{i:02d}" for i in range(30)]
    accounts = Table(
        ["account_id", "created_at", "email_domain", "country", "org_id"],
        [
            [
                a,
                f"2026-01-{1 + i % 28:02d}T10:{i:02d}:00Z",
                f"example{i % 4}.com",
                ("US", "DE", "IN", "BR")[i % 4],
                f"org{i % 6}",
            ]
            for i, a in enumerate(ids)
        ],
    )
    values = {
        "ip": lambda i: f"10.{i % 3}.{i % 5}.{i % 7}" if i % 4 else f"2001:db8::{i % 9:x}",
        "device": lambda i: f"dev-{i % 17}",
        "payment": lambda i: f"pm_{i % 11}",
        "email": lambda i: f"user{i % 9}@example.com",
        "phone": lambda i: f"+1 555 01{i % 50:02d}",
    }
    kinds = ["ip", "device", "payment", "email", "phone", "ip"]
    signals = Table(
        ["account_id", "kind", "value", "ts"],
        [
            [ids[(i * 7) % 25], kinds[i % 6], values[kinds[i % 6]](i), _stamp(1 + i % 20, i * 13)]
            for i in range(300)
        ],
    )
    prompts = Table(
        ["account_id", "ts", "text"],
        [
            [
                ids[(i * 3) % 25],
                _stamp(1 + i % 20, i * 17),
                f"Summarise the report on topic {i % 5}, in three points, for the board",
            ]
            for i in range(60)
        ],
    )
    ip_info = Table(
        ["ip", "asn", "category"],
        [
            [net, str(64500 + i), cat]
            for i, (net, cat) in enumerate(
                [
                    ("10.0.0.0/24", "datacenter"),
                    ("10.1.0.0/16", "vpn"),
                    ("10.2.3.0/24", "mobile"),
                    ("10.2.0.0/16", "residential"),
                    ("2001:db8::/32", "corporate"),
                    ("192.0.2.0/24", "proxy"),
                    ("198.51.100.0/24", "education"),
                    ("203.0.113.7", "unknown"),
                ]
            )
        ],
    )
    labels = Table(
        ["account_id", "label", "campaign_id"],
        [
            [a, "sybil" if i < 8 else "benign", f"camp{i % 2}" if i < 8 else ""]
            for i, a in enumerate(ids[:25])
        ],
    )
    return {
        "accounts": accounts,
        "signals": signals,
        "prompts": prompts,
        "ip_info": ip_info,
        "labels": labels,
    }


# --- rendering ------------------------------------------------------------------------


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    # the writer quotes a field holding a character of its line terminator: CRLF, so
    # that a CR or LF inside a value is quoted
    csv.writer(out, lineterminator="\r\n").writerow(["" if c is None else c for c in cells])
    return out.getvalue().removesuffix("\r\n")


def text_file(table: Table, fmt: str) -> TextFile:
    """The table as the lines of a CSV or JSONL file."""
    if fmt in CSV:
        lines = [Line(_csv_line(table.columns), row=False)]
        lines += [Line(_csv_line(r)) for r in table.rows]
        return TextFile(lines)
    return TextFile(
        [
            Line(
                json.dumps(
                    {c: v for c, v in zip(table.columns, r, strict=True) if v is not ABSENT},
                    ensure_ascii=False,
                )
            )
            for r in table.rows
        ]
    )


def _parquet(table: Table) -> tuple[bytes, list[dict[str, Any]]]:
    arrays = []
    for i, name in enumerate(table.columns):
        typ = table.types.get(name, pa.string())
        cells = [r[i] for r in table.rows]
        if pa.types.is_string(typ):
            cells = [None if c is None else str(c) for c in cells]
        arrays.append(pa.array(cells, type=typ))
    data = pa.Table.from_arrays(arrays, names=table.columns)
    out = io.BytesIO()
    pq.write_table(data, out)
    return out.getvalue(), data.to_pylist()


def jsonable(value: Any) -> Any:
    """A parquet value as the rejected record shows it."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def render(kind: str, draft: Draft) -> Case:
    """Write ``draft``'s files and note what was written."""
    files: dict[str, bytes] = dict(draft.extra_files)
    read: dict[str, int] = {}
    records: dict[str, dict[int, Any]] = {}
    for name, table in draft.tables.items():
        if name in draft.omit:
            continue
        if draft.fmt == "parquet":
            data, rows = _parquet(table)
            records[name] = {
                i + 1: {k: jsonable(v) for k, v in r.items()} for i, r in enumerate(rows)
            }
            read[name] = len(rows)
        else:
            tf = text_file(table, draft.fmt)
            for func in draft.text_edits.get(name, []):
                func(tf)
            data = tf.encoded()
            shown = [
                line.text.encode(tf.encoding, errors="surrogateescape").decode(
                    "utf-8", errors="backslashreplace"
                )
                for line in tf.rows()
            ]
            records[name] = dict(enumerate(shown, start=1))
            read[name] = len(shown)
            if draft.fmt.endswith(".gz"):
                data = gzip.compress(data, mtime=0)
        if name in draft.byte_edits:
            data = draft.byte_edits[name](data)
        files[f"{name}.{draft.fmt}"] = data
    read.update(draft.read)
    return Case(kind, draft.fmt, files, read, records, draft.rejected, draft.error, draft.checks)


# --- mutators -------------------------------------------------------------------------

Mutate = Callable[[Draft], None]


@dataclass(frozen=True)
class Mutator:
    """A named kind of malformed input, the table it is about and its formats."""

    name: str
    table: str
    formats: tuple[str, ...]
    func: Mutate
    doc: str


MUTATORS: dict[str, Mutator] = {}


def mutator(table: str, formats: tuple[str, ...] = FORMATS) -> Callable[[Mutate], Mutate]:
    def register(func: Mutate) -> Mutate:
        name = func.__name__
        doc = " ".join((func.__doc__ or "").split())
        MUTATORS[name] = Mutator(name, table, formats, func, doc)
        return func

    return register


def cases() -> list[Case]:
    """Every mutator crossed with its formats, rendered."""
    out = []
    for m in MUTATORS.values():
        for fmt in m.formats:
            draft = Draft(fmt, copy.deepcopy(_BASE))
            m.func(draft)
            out.append(render(m.name, draft))
    return out


def _has_value(data: Any, value: str) -> None:
    assert value in set(data.signals["value"])


def _row_text(draft: Draft, table: str, row: int, text: str, jsonl: str | None = None) -> None:
    """Replace the written text of ``row`` (``jsonl`` for JSONL files, when it differs)."""

    def edit(tf: TextFile) -> None:
        tf.row(row).text = text if draft.csv or jsonl is None else jsonl

    draft.edit(table, edit)


# encodings and byte order marks


@mutator("accounts", TEXT)
def utf8_bom(d: Draft) -> None:
    """A UTF-8 byte order mark before the header (CSV) or the first line (JSONL): read
    as if absent."""
    d.edit("accounts", lambda tf: setattr(tf, "bom", b"\xef\xbb\xbf"))


@mutator("signals", TEXT)
def utf16_file(d: Draft) -> None:
    """The signals file saved as UTF-16 with its byte order mark: the table stops the
    run (inputs are UTF-8)."""

    def edit(tf: TextFile) -> None:
        tf.encoding, tf.bom = "utf-16-le", b"\xff\xfe"

    d.edit("signals", edit)
    d.fail("signals")


@mutator("accounts", CSV)
def utf16_without_bom(d: Draft) -> None:
    """UTF-16 without a byte order mark: NUL bytes in the header stop the run."""
    d.edit("accounts", lambda tf: setattr(tf, "encoding", "utf-16-le"))
    d.fail("accounts")


@mutator("accounts", TEXT)
def latin1_bytes(d: Draft) -> None:
    """Two rows written in Latin-1 (bytes that are not UTF-8) in a UTF-8 file: those rows
    are rejected, shown with \\xNN escapes; the other rows are kept."""
    for row in ORPHANS[:2]:
        d.tables["accounts"].set(row, "country", "Côte d'Ivoire")

    def edit(tf: TextFile) -> None:
        for row in ORPHANS[:2]:
            line = tf.row(row)
            line.text = line.text.encode("latin-1").decode("utf-8", "surrogateescape")

    d.edit("accounts", edit)
    d.reject("accounts", *ORPHANS[:2])


@mutator("accounts", CSV)
def header_not_utf8(d: Draft) -> None:
    """A header line with a byte that is not UTF-8: the table stops the run."""

    def edit(tf: TextFile) -> None:
        tf.lines[0].text = tf.lines[0].text.replace("country", "pa\udce9s")

    d.edit("accounts", edit)
    d.fail("accounts")


@mutator("signals", CSV)
def windows_line_endings(d: Draft) -> None:
    """CRLF line endings: read as LF."""
    d.edit("signals", lambda tf: setattr(tf, "newline", "\r\n"))


@mutator("signals", CSV)
def old_mac_line_endings(d: Draft) -> None:
    """Bare CR line endings: read as line ends."""
    d.edit("signals", lambda tf: setattr(tf, "newline", "\r"))


# ragged rows, quotes, line breaks


@mutator("signals", CSV)
def extra_field(d: Draft) -> None:
    """Rows with one field too many: rejected, the line shown as written."""
    for row in (3, 150, 300):
        _row_text(d, "signals", row, _csv_line([*d.tables["signals"].rows[row - 1], "extra"]))
    d.reject("signals", 3, 150, 300)


@mutator("signals", CSV)
def missing_field(d: Draft) -> None:
    """Rows with one field too few (a ragged file): rejected."""
    for row in (1, 77):
        _row_text(d, "signals", row, _csv_line(d.tables["signals"].rows[row - 1][:3]))
    d.reject("signals", 1, 77)


@mutator("signals", TEXT)
def blank_lines(d: Draft) -> None:
    """Empty lines between rows and at the end: not rows, row numbers skip them."""

    def edit(tf: TextFile) -> None:
        for row in (1, 50, 51, 300):
            tf.insert_before(row, Line("", row=False))
        tf.lines.append(Line("", row=False))

    d.edit("signals", edit)


@mutator("signals", TEXT)
def whitespace_line(d: Draft) -> None:
    """A line of spaces: a CSV row of one field (rejected); a blank line in JSONL."""

    def edit(tf: TextFile) -> None:
        tf.insert_before(10, Line("   ", row=d.csv))

    d.edit("signals", edit)
    if d.csv:
        d.reject("signals", 10)


@mutator("prompts", TEXT)
def quoted_line_breaks(d: Draft) -> None:
    """Prompt texts with line breaks (LF, CRLF, CR), commas and doubled quotes inside a
    quoted field: kept whole."""
    p = d.tables["prompts"]
    p.set(2, "text", 'first line\nsecond, "quoted" line')
    p.set(3, "text", "windows\r\nbreak")
    p.set(4, "text", "old\rmac")
    p.set(5, "text", '"starts with a quote", and ends""')
    texts = [p.get(r, "text") for r in (2, 3, 4, 5)]

    def kept_whole(data: Any) -> None:
        assert set(texts) <= set(data.prompts["text"])

    d.checks.append(kept_whole)


@mutator("signals", CSV)
def stray_quote_inside_field(d: Draft) -> None:
    """A quote in the middle of an unquoted field is an ordinary character: kept."""
    _row_text(d, "signals", 2, 'a07,device,dev"7,' + _stamp(2, 13))
    d.checks.append(lambda data: _has_value(data, 'dev"7'))


@mutator("signals", CSV)
def unclosed_quote(d: Draft) -> None:
    """A field opened with a quote that is never closed: its line is rejected and the
    rows after it are kept (it would otherwise swallow the rest of the file)."""
    row = d.tables["signals"].rows[99]
    _row_text(d, "signals", 100, f'{row[0]},{row[1]},"{row[2]},{row[3]}')
    d.reject("signals", 100)


@mutator("signals", CSV)
def unclosed_quote_on_last_line(d: Draft) -> None:
    """An unclosed quote on the last line, with no line break after it: rejected."""
    row = d.tables["signals"].rows[-1]
    _row_text(d, "signals", 300, f'{row[0]},{row[1]},{row[2]},"{row[3]}')
    d.edit("signals", lambda tf: setattr(tf, "final_newline", False))
    d.reject("signals", 300)


@mutator("signals", TEXT)
def no_final_line_break(d: Draft) -> None:
    """The last row without a line break: kept."""
    d.edit("signals", lambda tf: setattr(tf, "final_newline", False))


@mutator("signals", CSV)
def text_after_closing_quote(d: Draft) -> None:
    """Characters after a closing quote (``"pm"_x``) belong to the field: kept."""
    _row_text(d, "signals", 4, 'a21,payment,"pm"_x,' + _stamp(5, 52))
    d.checks.append(lambda data: _has_value(data, "pm_x"))


@mutator("signals", JSONL)
def broken_json(d: Draft) -> None:
    """Lines that are not one JSON object (cut short, an array, two objects, a bare
    string): rejected, one row each."""
    for row, text in (
        (5, '{"account_id": "a00", "kind": "ip"'),
        (6, '["a00", "ip"]'),
        (7, '{"account_id": "a00"} {"kind": "ip"}'),
        (8, '"just text"'),
    ):
        _row_text(d, "signals", row, text, jsonl=text)
    d.reject("signals", 5, 6, 7, 8)


@mutator("signals", JSONL)
def deeply_nested_json(d: Draft) -> None:
    """A line nested 100,000 arrays deep: rejected (the parser's recursion limit)."""
    text = '{"account_id": "a00", "kind": "ip", "value": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _row_text(d, "signals", 9, text, jsonl=text)
    d.reject("signals", 9)


# types


@mutator("accounts", TYPED)
def numbers_for_text(d: Draft) -> None:
    """org_id written as numbers (a JSON number; a parquet int64 column): read as their
    text, kept."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "org_id", 1000 + r)
    acc.types["org_id"] = pa.int64()


@mutator("signals", JSONL)
def objects_for_text(d: Draft) -> None:
    """A JSON object or array where a value belongs: the row is rejected."""
    sig = d.tables["signals"]
    sig.set(11, "value", {"fingerprint": "dev-1"})
    sig.set(12, "kind", ["ip"])
    d.reject("signals", 11, 12)


@mutator("labels", ("parquet",))
def list_column(d: Draft) -> None:
    """A parquet column of lists where text belongs (campaign_id): every row rejected,
    so the labels table stops the run."""
    lab = d.tables["labels"]
    for r in range(1, 26):
        lab.set(r, "campaign_id", ["camp", str(r)])
    lab.types["campaign_id"] = pa.list_(pa.string())
    d.fail("labels", "campaign_id")


@mutator("signals", JSONL)
def booleans_for_text(d: Draft) -> None:
    """true/false where text belongs: rejected."""
    d.tables["signals"].set(13, "value", True)
    d.tables["signals"].set(14, "account_id", False)
    d.reject("signals", 13, 14)


@mutator("accounts", JSONL)
def epoch_numbers_for_timestamps(d: Draft) -> None:
    """A Unix time (a JSON number, a digit string) instead of ISO-8601: rejected."""
    d.tables["accounts"].set(ORPHANS[0], "created_at", 1767225600)
    d.tables["accounts"].set(ORPHANS[1], "created_at", "1767225600")
    d.reject("accounts", *ORPHANS[:2])


@mutator("accounts", ("parquet",))
def integer_timestamp_column(d: Draft) -> None:
    """A parquet created_at column of integers: every row rejected; accounts stop the run."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "created_at", 1767225600 + r)
    acc.types["created_at"] = pa.int64()
    d.fail("accounts", "created_at")


@mutator("accounts", ("parquet",))
def native_time_columns(d: Draft) -> None:
    """created_at as a parquet timestamp column (milliseconds, a +02:00 zone): kept."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "created_at", dt.datetime(2026, 1, r % 28 + 1, 10, r, tzinfo=dt.UTC))
    acc.types["created_at"] = pa.timestamp("ms", tz="+02:00")


@mutator("accounts", ("parquet",))
def native_times_out_of_range(d: Draft) -> None:
    """Parquet timestamps (microseconds) in the years 1 and 3000: rejected."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "created_at", dt.datetime(2026, 1, 2, 3, r))
    acc.set(ORPHANS[0], "created_at", dt.datetime(1, 1, 1))
    acc.set(ORPHANS[1], "created_at", dt.datetime(3000, 1, 1))
    acc.types["created_at"] = pa.timestamp("us")
    d.reject("accounts", *ORPHANS[:2])


@mutator("signals", ("parquet",))
def native_date_column(d: Draft) -> None:
    """signals ts as a parquet date column: kept (midnight UTC)."""
    sig = d.tables["signals"]
    for r in range(1, 301):
        sig.set(r, "ts", dt.date(2026, 2, 1 + r % 20))
    sig.types["ts"] = pa.date32()


@mutator("ip_info", ("parquet",))
def dictionary_column(d: Draft) -> None:
    """A dictionary-encoded (categorical) parquet column: kept."""
    d.tables["ip_info"].types["category"] = pa.dictionary(pa.int32(), pa.string())


@mutator("accounts", ("parquet",))
def binary_column(d: Draft) -> None:
    """A parquet binary column holding one value that is not UTF-8: that row rejected."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "country", str(acc.get(r, "country")).encode())
    acc.set(ORPHANS[0], "country", b"C\xf4te")
    acc.types["country"] = pa.binary()
    d.reject("accounts", ORPHANS[0])


@mutator("ip_info")
def integers_that_are_not(d: Draft) -> None:
    """asn as text, a fraction, negative, above 2^32-1, 20 and 400 digits long (in
    JSONL a JSON fraction and Infinity): rejected; 64501.0 is kept."""
    ip = d.tables["ip_info"]
    bad = {1: "AS64500", 3: "64502.5", 4: "-3", 5: "4294967296", 6: "9" * 400}
    for row, value in bad.items():
        ip.set(row, "asn", value)
    ip.set(2, "asn", "64501.0")
    ip.set(7, "asn", "99999999999999999999")
    if d.fmt in JSONL:
        ip.set(7, "asn", float("inf"))
        ip.set(3, "asn", 64502.5)
    d.reject("ip_info", *bad, 7)


# columns


@mutator("accounts")
def missing_required_column(d: Draft) -> None:
    """created_at absent from accounts: the run stops naming the file and the column."""
    d.tables["accounts"].drop("created_at")
    d.fail("accounts", "created_at")


@mutator("signals")
def missing_required_signals_column(d: Draft) -> None:
    """kind absent from signals: the run stops naming the file and the column."""
    d.tables["signals"].drop("kind")
    d.fail("signals", "kind")


@mutator("prompts")
def missing_required_prompts_column(d: Draft) -> None:
    """text absent from prompts: the run stops naming the file and the column."""
    d.tables["prompts"].drop("text")
    d.fail("prompts", "text")


@mutator("ip_info")
def missing_required_ip_info_column(d: Draft) -> None:
    """asn absent from ip_info: the run stops naming the file and the column."""
    d.tables["ip_info"].drop("asn")
    d.fail("ip_info", "asn")


@mutator("labels")
def missing_required_labels_column(d: Draft) -> None:
    """label absent from labels: the run stops naming the file and the column."""
    d.tables["labels"].drop("label")
    d.fail("labels", "label")


@mutator("accounts")
def extra_columns(d: Draft) -> None:
    """Columns the contract does not know, in every table: kept (accounts, labels) or
    ignored."""
    for t in d.tables.values():
        t.add("note", [f"n{i}" for i in range(len(t.rows))])
        t.add("score", [str(i / 3) for i in range(len(t.rows))])


@mutator("accounts")
def optional_columns_absent(d: Draft) -> None:
    """Every optional column absent at once (email_domain, country, org_id, signals ts,
    labels campaign_id): kept."""
    for table, column in (
        ("accounts", "email_domain"),
        ("accounts", "country"),
        ("accounts", "org_id"),
        ("signals", "ts"),
        ("labels", "campaign_id"),
    ):
        d.tables[table].drop(column)


def _optional_absent(table: str, column: str) -> Mutate:
    def func(d: Draft) -> None:
        d.tables[table].drop(column)

    func.__name__ = f"optional_{table}_{column}_absent"
    func.__doc__ = f"The optional {table}.{column} absent on its own: kept."
    return func


for _table, _column in (
    ("accounts", "email_domain"),
    ("accounts", "country"),
    ("accounts", "org_id"),
    ("signals", "ts"),
    ("labels", "campaign_id"),
):
    mutator(_table)(_optional_absent(_table, _column))


@mutator("signals")
def shuffled_columns(d: Draft) -> None:
    """Columns in another order, with spaces around the header names: kept."""
    sig = d.tables["signals"]
    order = [3, 2, 0, 1]
    sig.columns = [f" {sig.columns[i]} " for i in order]
    sig.rows = [[r[i] for i in order] for r in sig.rows]


@mutator("accounts")
def wrong_case_header(d: Draft) -> None:
    """Account_ID instead of account_id: a required column is missing."""
    d.tables["accounts"].columns[0] = "Account_ID"
    d.fail("accounts", "account_id")


@mutator("signals", (*CSV, "parquet"))
def duplicate_header_name(d: Draft) -> None:
    """A column name given twice: the run stops naming it."""
    sig = d.tables["signals"]
    sig.columns[3] = "value"
    d.fail("signals", "value")


@mutator("accounts", CSV)
def control_characters_in_header(d: Draft) -> None:
    """An extra column named with a tab, an escape sequence and an empty name: kept as
    attributes."""
    acc = d.tables["accounts"]
    acc.add("tab\there\x1b[31m", ["x"] * 30)
    acc.add("", ["y"] * 30)


@mutator("accounts", CSV)
def markup_in_column_names(d: Draft) -> None:
    """Column names that look like terminal markup (``[/x]``, ``[bold]``) instead of
    account_id: a required column is missing, and the message lists them."""
    d.tables["accounts"].columns[0] = "[/x]"
    d.tables["accounts"].columns[2] = "[bold]y"
    d.fail("accounts", "account_id")


# duplicates


@mutator("accounts")
def duplicate_account_ids(d: Draft) -> None:
    """The same account_id again with other data (another signup time, domain): the
    later rows rejected, the first kept."""
    acc = d.tables["accounts"]
    acc.rows.append(["a03", "2025-06-01T00:00:00Z", "other.org", "FR", "org9"])
    acc.rows.append(["a26", "2026-01-02T00:00:00Z", "", "", ""])
    d.reject("accounts", 31, 32)


@mutator("labels")
def conflicting_labels(d: Draft) -> None:
    """An account labelled sybil and then benign: the later label rejected."""
    d.tables["labels"].rows.append(["a00", "benign", ""])
    d.reject("labels", 26)


@mutator("ip_info")
def duplicate_prefixes(d: Draft) -> None:
    """The same prefix twice with another category (once written with host bits set):
    the later row rejected."""
    d.tables["ip_info"].rows.append(["10.0.0.9/24", "1", "residential"])
    d.tables["ip_info"].rows.append(["10.0.0.0/24", "2", "vpn"])
    d.reject("ip_info", 9, 10)


@mutator("signals")
def repeated_observations(d: Draft) -> None:
    """The same observation many times: kept (aggregated into one identifier)."""
    d.tables["signals"].rows += [list(d.tables["signals"].rows[0]) for _ in range(20)]


# timestamps


@mutator("signals")
def timestamp_forms(d: Draft) -> None:
    """Offsets (+05:30, -08:00, Z), none, fractions to nanoseconds, a date alone, a year
    alone, a space instead of T: kept."""
    forms = [
        "2026-02-01T10:00:00+05:30",
        "2026-02-01T10:00:00-08:00",
        "2026-02-01T10:00:00",
        "2026-02-01T10:00:00.123456789Z",
        "2026-02-01",
        "2026",
        "2026-02-01 10:00:00Z",
        "2026-02-01T10:00Z",
    ]
    for i, form in enumerate(forms):
        d.tables["signals"].set(20 + i, "ts", form)


@mutator("accounts")
def timestamps_out_of_range(d: Draft) -> None:
    """Times a nanosecond clock cannot hold (years 1, 1500, 3000, 9999): rejected."""
    for row, value in zip(
        ORPHANS,
        ("0001-01-01T00:00:00Z", "1500-06-01", "3000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
        strict=False,
    ):
        d.tables["accounts"].set(row, "created_at", value)
    d.reject("accounts", *ORPHANS[:4])


@mutator("accounts")
def timestamps_not_iso(d: Draft) -> None:
    """yesterday, now, a US date, month 13, hour 25, an offset of 25 hours: rejected."""
    values = ("yesterday", "now", "02/01/2026", "2026-13-01", "2026-01-01T25:00:00")
    for row, value in zip(ORPHANS, values, strict=True):
        d.tables["accounts"].set(row, "created_at", value)
    d.tables["signals"].set(1, "ts", "2026-01-01T00:00:00+25:00")
    d.reject("accounts", *ORPHANS)
    d.reject("signals", 1)


@mutator("prompts")
def missing_times(d: Draft) -> None:
    """An empty optional time (signals ts): kept; an empty required one (prompts ts):
    rejected."""
    d.tables["signals"].set(5, "ts", "")
    d.tables["signals"].set(6, "ts", None)
    d.tables["prompts"].set(7, "ts", "")
    d.tables["prompts"].set(8, "ts", None)
    d.reject("prompts", 7, 8)


# addresses


@mutator("signals")
def ip_edge_cases(d: Draft) -> None:
    """Unusual but valid addresses (0.0.0.0, 255.255.255.255, ::, ::1, upper case,
    brackets, a zone index, IPv4-mapped, padded with spaces, uncompressed IPv6): kept."""
    values = [
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "::1",
        "2001:DB8::AB",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "::ffff:10.0.0.1",
        " 10.0.0.2 ",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
    ]
    for i, value in enumerate(values):
        d.tables["signals"].set(1 + 6 * i, "value", value)  # rows of kind ip


@mutator("signals")
def ip_garbage(d: Draft) -> None:
    """Not addresses (999.1.1.1, 1.2.3, a port, a prefix, leading zeros, a name, an IPv6
    with a bad group, a NUL inside): rejected."""
    values = [
        "999.1.1.1",
        "1.2.3",
        "10.0.0.1:8080",
        "10.0.0.0/24",
        "010.000.000.001",
        "localhost",
        "2001:db8::g",
        "10.0.0.1\x00",
    ]
    rows = [1 + 6 * i for i in range(len(values))]
    for row, value in zip(rows, values, strict=True):
        d.tables["signals"].set(row, "value", value)
    d.reject("signals", *rows)


@mutator("ip_info")
def prefix_edge_cases(d: Draft) -> None:
    """Prefixes with host bits set, IPv4-mapped IPv6 prefixes, /0 and /128 (kept), and
    /33, /129, a range and words (rejected)."""
    ip = d.tables["ip_info"]
    good = ["10.9.9.9/24", "::ffff:10.0.0.0/104", "0.0.0.0/0", "2001:db8::1/128"]
    bad = ["10.0.0.0/33", "::/129", "10.0.0.1-10.0.0.9", "datacenter"]
    for i, value in enumerate(good + bad):
        if i < len(ip.rows):
            ip.set(i + 1, "ip", value)
        else:
            ip.rows.append([value, "1", "unknown"])
    d.reject("ip_info", *range(len(good) + 1, len(good) + len(bad) + 1))


# empty strings and nulls


@mutator("signals")
def empty_required_values(d: Draft) -> None:
    """Empty, whitespace-only and null required values (kind, value, account_id), and a
    phone with no digits: rejected."""
    sig = d.tables["signals"]
    sig.set(2, "kind", "")
    sig.set(3, "value", "   ")
    sig.set(4, "account_id", None)
    sig.set(5, "value", "(--)")  # phone: nothing left after normalisation
    d.reject("signals", 2, 3, 4, 5)


@mutator("accounts")
def empty_optional_values(d: Draft) -> None:
    """Empty strings and nulls in optional columns: kept (as missing)."""
    acc = d.tables["accounts"]
    for r in range(1, 31):
        acc.set(r, "email_domain", "" if r % 2 else None)
        acc.set(r, "org_id", None)


@mutator("labels")
def categories_off_the_list(d: Draft) -> None:
    """Labels and ip categories off their lists ('maybe', an empty label, 'moon'):
    rejected; ' SYBIL ' and 'Datacenter' are kept (case and spaces are folded)."""
    d.tables["labels"].set(1, "label", " SYBIL ")
    d.tables["labels"].set(2, "label", "maybe")
    d.tables["labels"].set(3, "label", "")
    d.tables["ip_info"].set(1, "category", "Datacenter")
    d.tables["ip_info"].set(2, "category", "moon")
    d.reject("labels", 2, 3)
    d.reject("ip_info", 2)


@mutator("signals")
def kinds_spelled_otherwise(d: Draft) -> None:
    """Kinds in other case and with spaces (' IP ', 'Device'), and unknown kinds
    (imei): kept."""
    sig = d.tables["signals"]
    sig.set(1, "kind", " IP ")
    sig.set(2, "kind", "Device")
    sig.set(3, "kind", "imei")


# size


@mutator("prompts")
def enormous_text(d: Draft) -> None:
    """A 9 MB prompt text, longer than the CSV reader's 8 MB block: kept."""
    d.tables["prompts"].set(10, "text", "token " * 1_500_000)


@mutator("accounts")
def enormous_values(d: Draft) -> None:
    """A 100,000-character account id and a 1 MB country (kept), and a 50,000-character
    address (rejected)."""
    acc = d.tables["accounts"]
    acc.set(ORPHANS[0], "account_id", "x" * 100_000)
    acc.set(ORPHANS[1], "country", "y" * 1_000_000)
    d.tables["signals"].set(1, "value", "1" * 50_000)
    d.reject("signals", 1)


@mutator("accounts", (*CSV, "parquet"))
def thousands_of_columns(d: Draft) -> None:
    """1,000 extra columns: kept as attributes."""
    acc = d.tables["accounts"]
    for i in range(1000):
        acc.add(f"attr{i}", [str(i)] * 30)


@mutator("signals")
def signals_100x_accounts(d: Draft) -> None:
    """A signals table 100 times the accounts table (3,000 rows over 30 accounts), with
    a bad row every 500: kept except those."""
    sig = d.tables["signals"]
    base = list(sig.rows)
    sig.rows = [list(base[i % 300]) for i in range(3000)]
    for i in range(0, 3000, 500):
        sig.rows[i][2] = "" if sig.rows[i][1] != "ip" else "not-an-ip"
    d.reject("signals", *range(1, 3001, 500))


# control characters


@mutator("prompts")
def control_characters(d: Draft) -> None:
    """NUL, bell, escape sequences, DEL, a line separator and zero-width characters
    inside text: kept as written."""
    d.tables["prompts"].set(1, "text", "nul\x00 bell\x07 esc\x1b[2J del\x7f ls\u2028 zw\u200b")
    d.tables["accounts"].set(1, "country", "\x1b[31mred\x1b[0m")
    d.tables["signals"].set(2, "value", "dev\x00ice")


# files and tables


@mutator("signals", ("csv.gz", "jsonl.gz"))
def truncated_gzip(d: Draft) -> None:
    """A gzip file cut short: the table stops the run."""
    d.tables["signals"].rows *= 20  # large enough that the cut is inside the data
    d.byte_edits["signals"] = lambda data: data[: len(data) // 2]
    d.fail("signals")


@mutator("signals", ("csv.gz", "jsonl.gz"))
def corrupt_gzip(d: Draft) -> None:
    """A gzip file with damaged bytes in the middle: the table stops the run."""

    def damage(data: bytes) -> bytes:
        mid = len(data) // 2
        return data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :]

    d.tables["signals"].rows *= 20
    d.byte_edits["signals"] = damage
    d.fail("signals")


@mutator("accounts", ("csv.gz", "jsonl.gz", "parquet"))
def not_the_format_named(d: Draft) -> None:
    """Plain text in a .gz or .parquet file: the table stops the run."""
    d.byte_edits["accounts"] = lambda data: b"account_id,created_at\na1,2026-01-01\n"
    d.fail("accounts")


@mutator("accounts", ("parquet",))
def parquet_of_another_table(d: Draft) -> None:
    """accounts.parquet holding the signals table (another schema): a required column
    is missing."""
    d.tables["accounts"] = copy.deepcopy(d.tables["signals"])
    d.fail("accounts", "created_at")


@mutator("labels")
def empty_file(d: Draft) -> None:
    """A file of zero bytes: no header (CSV), no rows (JSONL: an empty table), not a
    parquet file."""
    d.byte_edits["labels"] = lambda data: b""
    d.read["labels"] = 0
    if d.fmt in CSV or d.fmt == "parquet":
        d.fail("labels")


@mutator("ip_info")
def header_only(d: Draft) -> None:
    """An optional table with no rows (a header, an empty parquet table): kept, empty."""
    d.tables["ip_info"].rows = []


@mutator("ip_info", CSV)
def header_without_line_break(d: Draft) -> None:
    """A header and nothing else, not even a line break: an empty table."""
    d.tables["ip_info"].rows = []
    d.edit("ip_info", lambda tf: setattr(tf, "final_newline", False))


@mutator("accounts")
def empty_accounts(d: Draft) -> None:
    """An accounts table with no rows: the run stops (nothing to link)."""
    d.tables["accounts"].rows = []
    d.fail("accounts")


@mutator("signals")
def every_row_invalid(d: Draft) -> None:
    """A signals table whose every row is bad: the run stops, naming the first problem."""
    for row in d.tables["signals"].rows:
        row[3] = "never"
    d.fail("signals", "ts")


@mutator("accounts")
def table_given_twice(d: Draft) -> None:
    """accounts in two formats at once: the run stops, naming the directory."""
    other = "jsonl" if d.fmt != "jsonl" else "csv"
    d.extra_files[f"accounts.{other}"] = b"account_id,created_at\n"
    d.fail("", None)


@mutator("signals")
def required_table_missing(d: Draft) -> None:
    """No signals file at all: the run stops, naming the directory."""
    d.omit.add("signals")
    d.fail("", None)


@mutator("labels")
def unknown_accounts(d: Draft) -> None:
    """Signals, prompts and labels of accounts that are not in accounts: rejected."""
    d.tables["signals"].set(8, "account_id", "ghost")
    d.tables["prompts"].set(9, "account_id", "a99")
    d.tables["labels"].rows.append(["nobody", "sybil", "camp1"])
    d.reject("signals", 8)
    d.reject("prompts", 9)
    d.reject("labels", 26)


_BASE = base_world()


def _outcome(case: Case) -> str:
    if case.error:
        table, column = case.error
        where = f"{table}.{column}" if table and column else table or "the input directory"
        return f"stops: {where}"
    count = sum(len(r) for r in case.rejected.values())
    return f"{count} row{'s' if count > 1 else ''} rejected" if count else "all kept"


def kinds_markdown(rendered: list[Case]) -> str:
    """The table of kinds in docs/reliability.md: name, what it is, table, formats,
    outcome (the same in every format, else per format)."""
    lines = ["| kind | what | table | formats | outcome |", "|---|---|---|---|---|"]
    for m in MUTATORS.values():
        mine = [c for c in rendered if c.kind == m.name]
        by_outcome: dict[str, list[str]] = {}
        for c in mine:
            by_outcome.setdefault(_outcome(c), []).append(c.fmt)
        if len(by_outcome) == 1:
            outcome = next(iter(by_outcome))
        else:
            outcome = "; ".join(f"{', '.join(f)}: {o}" for o, f in by_outcome.items())
        formats = ", ".join(m.formats)
        what = m.doc.replace("|", "\\|")
        lines.append(f"| `{m.name}` | {what} | {m.table} | {formats} | {outcome} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # print the table of kinds for docs/reliability.md
    print(kinds_markdown(cases()), end="")
