"""Validation that loses nothing: every rejection reason, every format."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linker.errors import InputError
from linker.ingest.dataset import load_dataset, write_rejected
from linker.ingest.readers import read_raw
from linker.ingest.records import csv_records, scan_csv
from tests.helpers import write_text

ACCOUNTS = (
    "account_id,created_at,email_domain,plan\na1,2026-01-01T00:00:00Z,x.com,free\n"
    "a2,2026-01-02,y.com,pro\n"
)


def _reasons(rejected: pd.DataFrame) -> dict[tuple[int, str], str]:
    return {(int(r.row), r.column): r.reason for r in rejected.itertuples()}


def test_every_rejection_reason_names_file_row_and_column(tmp_path: Path) -> None:
    write_text(
        tmp_path,
        "accounts.csv",
        ACCOUNTS + "a3,yesterday,z.com,free\n,2026-01-01,q,free\na1,2026-01-05,dup.com,free\n",
    )
    write_text(
        tmp_path,
        "signals.csv",
        "account_id,kind,value,ts\n"
        "a1,ip, ::FFFF:1.2.3.4 ,2026-01-01T00:00:00+02:00\n"  # 1 ok
        "a2,ip,999.1.1.1,\n"  # 2 bad ip
        "a9,device,d1,\n"  # 3 unknown account
        "a2,device,d1,2026-01-01,extra\n"  # 4 wrong field count
        "a2,,d1,\n"  # 5 missing kind
        "a2,device,d1,not-a-time\n"  # 6 bad ts
        "a2,payment,pm_1,\n",
    )  # 7 ok, no ts
    write_text(
        tmp_path,
        "ip_info.csv",
        "ip,asn,category\n1.2.3.0/24,64500,Mobile\n"
        "bad,1,mobile\n1.2.4.0/24,-5,mobile\n1.2.5.0/24,7,moon\n",
    )
    write_text(tmp_path, "labels.csv", "account_id,label\na1,sybil\na2,maybe\n")
    data = load_dataset(tmp_path)
    reasons = _reasons(data.rejected)
    assert reasons == {
        (3, "created_at"): "missing or invalid ISO-8601 timestamp",
        (4, "account_id"): "missing value",
        (5, "account_id"): "duplicate account_id (first occurrence kept)",
        (2, "value"): "not an IP address",
        (3, "account_id"): "account_id not in accounts table",
        (4, "*"): "expected 4 fields, found 5",
        (5, "kind"): "missing value",
        (6, "ts"): "missing or invalid ISO-8601 timestamp",
        (2, "ip"): "not an IP address or CIDR prefix",
        (3, "asn"): "missing or not an integer from 0 to 4294967295",
        (4, "category"): "not one of residential, mobile, datacenter, vpn, proxy, education, "
        "corporate, unknown",
        (2, "label"): "not one of sybil, benign",
    }
    files = set(data.rejected["file"].map(lambda f: Path(f).name))
    assert files == {"accounts.csv", "signals.csv", "ip_info.csv", "labels.csv"}
    assert data.counts["signals"].read == 7
    assert data.counts["signals"].kept == 2
    assert data.counts["accounts"].rejected == 3
    assert data.accounts["plan"].tolist() == ["free", "pro"]  # extra column kept
    assert data.ip_info["category"].tolist() == ["mobile"]
    ip_row = data.signals[data.signals["kind"] == "ip"].iloc[0]
    assert ip_row["value"] == "1.2.3.4"
    assert ip_row["first_ts"] == pd.Timestamp("2025-12-31T22:00:00Z")


def test_rejected_file_keeps_the_original_record(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS + "a3,never,z.com,free\n")
    write_text(tmp_path, "signals.csv", "account_id,kind,value\na1,device,d1\n")
    data = load_dataset(tmp_path)
    path = write_rejected(data.rejected, tmp_path / "out")
    rejected = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert rejected.loc[0, "row"] == "3"
    assert rejected.loc[0, "record"] == "a3,never,z.com,free"  # the line as written


def test_duplicate_observations_are_aggregated(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS)
    write_text(
        tmp_path,
        "signals.csv",
        "account_id,kind,value,ts\n"
        "a1,device,d1,2026-01-03\na1,DEVICE,d1,2026-01-01\na1,device,d1,2026-01-02\n",
    )
    sig = load_dataset(tmp_path).signals
    assert len(sig) == 1
    assert sig.loc[0, "n_obs"] == 3
    assert sig.loc[0, "first_ts"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert sig.loc[0, "last_ts"] == pd.Timestamp("2026-01-03T00:00:00Z")


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"])
def test_each_format_reads_the_same(tmp_path: Path, fmt: str) -> None:
    accounts = pd.DataFrame(
        {"account_id": ["a1", "a2"], "created_at": ["2026-01-01", "2026-01-02"]}
    )
    signals = pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "kind": ["ip", "ip"],
            "value": ["::ffff:1.1.1.1", "2.2.2.2"],
            "ts": ["2026-01-01", None],
        }
    )
    for name, frame in (("accounts", accounts), ("signals", signals)):
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path)
        elif fmt.startswith("csv"):
            frame.to_csv(path, index=False, compression="infer")
        else:
            frame.to_json(path, orient="records", lines=True, compression="infer")
    data = load_dataset(tmp_path)
    assert data.accounts["account_id"].tolist() == ["a1", "a2"]
    assert sorted(data.signals["value"]) == ["1.1.1.1", "2.2.2.2"]
    assert data.rejected.empty


def test_broken_jsonl_line_costs_one_row(tmp_path: Path) -> None:
    write_text(
        tmp_path,
        "accounts.jsonl",
        '{"account_id":"a1","created_at":"2026-01-01"}\n{oops\n'
        '{"account_id":"a2","created_at":"2026-01-01"}\n',
    )
    write_text(tmp_path, "signals.jsonl", '{"account_id":"a1","kind":"device","value":"d"}\n')
    data = load_dataset(tmp_path)
    assert data.accounts["account_id"].tolist() == ["a1", "a2"]
    assert _reasons(data.rejected)[(2, "*")].startswith("invalid JSON")


def test_one_row_and_empty_optional_table(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", "account_id,created_at\na1,2026-01-01\n")
    write_text(tmp_path, "signals.csv", "account_id,kind,value,ts\n")
    data = load_dataset(tmp_path)
    assert len(data.accounts) == 1
    assert data.signals.empty
    assert data.counts["signals"].read == 0


def test_missing_required_table_stops_the_run(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS)
    with pytest.raises(InputError, match="required table 'signals' not found"):
        load_dataset(tmp_path)


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS)
    write_text(tmp_path, "signals.csv", "account_id,value\na1,x\n")
    with pytest.raises(InputError, match=r"signals\.csv, column 'kind': required column"):
        load_dataset(tmp_path)


def test_entirely_invalid_table_stops_the_run(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", "account_id,created_at\na1,never\na2,nope\n")
    write_text(tmp_path, "signals.csv", "account_id,kind,value\n")
    with pytest.raises(
        InputError, match=r"accounts\.csv, column 'created_at': every row is invalid"
    ):
        load_dataset(tmp_path)


def test_empty_accounts_table_stops_the_run(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", "account_id,created_at\n")
    write_text(tmp_path, "signals.csv", "account_id,kind,value\n")
    with pytest.raises(InputError, match="table has no rows"):
        load_dataset(tmp_path)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "accounts.parquet").write_bytes(b"not parquet at all")
    write_text(tmp_path, "signals.csv", "account_id,kind,value\n")
    with pytest.raises(InputError, match=r"accounts\.parquet: cannot read file"):
        load_dataset(tmp_path)


def test_table_given_twice_is_ambiguous(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS)
    write_text(tmp_path, "accounts.jsonl", "{}\n")
    with pytest.raises(InputError, match="given twice"):
        load_dataset(tmp_path)


# --- properties of the parser ---------------------------------------------------------
# Hypothesis, derandomized (the same examples every run) and bounded.

PROPERTY = settings(
    derandomize=True,
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: what makes CSV hard: delimiters, quotes, line ends of three kinds, blanks, bytes that
#: are not UTF-8, NUL
CSV_PIECES = [
    b"a",
    b"b1",
    b",",
    b'"',
    b'""',
    b"\n",
    b"\r",
    b"\r\n",
    b" ",
    b"\xc3\xa9",
    b"\xff",
    b"\x00",
    b"2026-01-01",
]


@PROPERTY
@given(st.lists(st.sampled_from(CSV_PIECES), max_size=80))
def test_csv_rows_match_an_independent_split(tmp_path: Path, pieces: list[bytes]) -> None:
    """Oracle: pyarrow's rows (kept or rejected) are exactly the records the scanner
    finds, numbered alike, and a kept row's fields are those of its record as written."""
    body = b"".join(pieces)
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b,c\n" + body)
    frame, bad = read_raw(path)
    scan = scan_csv(io.BytesIO(body))
    assert sorted([*frame.index, *bad["row"]]) == list(range(1, scan.rows + 1))
    records = csv_records(path, frame.index.tolist())
    for row in frame.index:
        assert next(csv.reader([records[row]])) == frame.loc[row].tolist()


@PROPERTY
@given(st.binary(max_size=300), st.sampled_from(["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"]))
def test_random_bytes_raise_nothing_but_input_error(tmp_path: Path, data: bytes, fmt: str) -> None:
    root = tmp_path / fmt
    write_text(root, "signals.csv", "account_id,kind,value\na1,device,d1\n")
    path = root / f"accounts.{fmt}"
    path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
    try:
        data_set = load_dataset(root)
    except InputError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return
    counts = data_set.counts["accounts"]
    assert counts.kept + counts.rejected == counts.read
    assert counts.kept == len(data_set.accounts)


ROW_TEXT = st.lists(
    st.sampled_from(
        [
            "a1",
            "a2",
            " a3 ",
            "",
            '"',
            ",",
            "2026-01-01",
            "2026-13-01",
            "\t",
            "é",
            '"x,y"',
            "3000-01-01",
            "now",
            "\\",
            "{",
            "}",
        ]
    ),
    max_size=6,
)


@PROPERTY
@given(st.lists(ROW_TEXT, min_size=1, max_size=25), st.booleans())
def test_kept_plus_rejected_is_read(tmp_path: Path, rows: list[list[str]], jsonl: bool) -> None:
    """CSV-ish or JSON-ish lines: every row read is kept or rejected, and the rejected
    ones carry their line as written."""
    root = tmp_path / ("j" if jsonl else "c")
    lines = ["".join(r) if jsonl else ",".join(r) for r in rows]
    if jsonl:
        lines = [
            f'{{"account_id": "{line}", "created_at": "2026-01-01"}}' if i % 2 else line
            for i, line in enumerate(lines)
        ]
        write_text(root, "accounts.jsonl", "\n".join(lines) + "\n")
    else:
        write_text(root, "accounts.csv", "account_id,created_at\n" + "\n".join(lines) + "\n")
    write_text(root, "signals.csv", "account_id,kind,value\n")
    try:
        data = load_dataset(root)
    except InputError:
        return
    counts = data.counts["accounts"]
    assert counts.kept + counts.rejected == counts.read
    assert counts.kept == len(data.accounts)
    assert data.rejected["record"].notna().all()
    if jsonl:
        written = [line for line in lines if line.strip()]
        assert counts.read == len(written)
        for row in data.rejected.itertuples():
            assert row.record == written[int(row.row) - 1]
