"""Bad input: a generated corpus of malformed inputs (``tests/linker/bad_input.py``: named
mutators of a small valid world, crossed with the formats each applies to) read by
``load_dataset`` and by the real CLI (``validate`` for every case, ``link`` for one
format of each kind).

For every case: no crash and no traceback; either one error line naming the file (and
the column where it applies) when a table is unusable, or every rejected row named by
file, row and column, with its record exactly as the generator wrote it; and every
valid row kept: kept + rejected = the rows the generator wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from linker.cli import app
from linker.errors import InputError
from linker.ingest.dataset import Dataset, load_dataset
from tests.linker.bad_input import FORMATS, MUTATORS, TABLES, Case, cases, kinds_markdown

CASES = cases()
#: one case per kind, for the slower ``link`` runs: the first format the kind has
LINK_CASES = list({c.kind: c for c in reversed(CASES)}.values())
MIN_KINDS = 50
RUNNER = CliRunner()
#: CLI runs that fail for a reason outside ingest (see the xfail reasons)
CLI_XFAIL: dict[str, str] = {}
LINK_XFAIL: dict[str, str] = {**CLI_XFAIL}


def _ids(case: Case) -> str:
    return case.id


def test_the_corpus_covers_every_table_and_format() -> None:
    kinds = {c.kind for c in CASES}
    assert len(kinds) >= MIN_KINDS, sorted(kinds)
    assert {c.fmt for c in CASES} == set(FORMATS)
    assert {m.table for m in MUTATORS.values()} == set(TABLES)
    for fmt in FORMATS:  # every format meets both outcomes
        mine = [c for c in CASES if c.fmt == fmt]
        assert any(c.error for c in mine) and any(c.rejected for c in mine)
    assert len({c.id for c in CASES}) == len(CASES)


def test_reliability_doc_holds_the_table_of_kinds() -> None:
    """docs/reliability.md shows this corpus: regenerate its table with
    ``python -m tests.linker.bad_input`` when a mutator changes."""
    doc = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    assert kinds_markdown(CASES) in doc
    assert f"{len(MUTATORS)} kinds" in doc


def _table_of(file: str) -> str:
    return Path(file).name.split(".")[0]


def _frames(data: Dataset) -> dict[str, pd.DataFrame | None]:
    return {
        "accounts": data.accounts,
        "signals": data.observations,
        "prompts": data.prompts,
        "ip_info": data.ip_info,
        "labels": data.labels,
    }


def _check_counts(data: Dataset, case: Case) -> None:
    frames = _frames(data)
    for table, read in case.read.items():
        counts = data.counts[table]
        expected = case.rejected.get(table, set())
        assert counts.read == read, (table, counts)
        assert counts.rejected == len(expected), (table, counts)
        assert counts.kept + counts.rejected == counts.read
        frame = frames[table]
        assert (0 if frame is None else len(frame)) == counts.kept, table
    assert set(data.counts) == set(case.read)


def _check_rejected(rejected: pd.DataFrame, case: Case, root: Path) -> None:
    """Every rejected row names file, row, column and reason, and holds its record as
    written; exactly the rows the case rejects are there."""
    found: dict[str, set[int]] = {}
    for row in rejected.itertuples():
        table = _table_of(str(row.file))
        assert Path(str(row.file)).parent == root
        assert str(row.column) and str(row.reason), row
        number = int(row.row)  # type: ignore[arg-type]
        found.setdefault(table, set()).add(number)
        expected = case.records[table][number]
        if case.fmt == "parquet":
            assert json.loads(str(row.record)) == expected, (table, number)
        else:
            assert row.record == expected, (table, number)
    assert found == {t: r for t, r in case.rejected.items() if r}


def _check_error(err: InputError, case: Case, root: Path) -> None:
    assert case.error is not None
    table, column = case.error
    assert err.file == (str(root / case.file_name(table)) if table else str(root)), err
    if column is not None:
        assert err.column == column, err
    assert "\n" not in str(err)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_load_dataset(case: Case, tmp_path: Path) -> None:
    root = case.write(tmp_path / "in")
    if case.error:
        with pytest.raises(InputError) as err:
            load_dataset(root)
        _check_error(err.value, case, root)
        return
    data = load_dataset(root)
    _check_counts(data, case)
    _check_rejected(data.rejected, case, root)
    for check in case.checks:
        check(data)


def _read_rejected(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _check_error_output(output: str, case: Case, root: Path) -> None:
    """One line, ``error: file <path>[, column '<name>']: ...``."""
    assert case.error is not None
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    table, column = case.error
    assert (str(root / case.file_name(table)) if table else str(root)) in lines[0]
    if column is not None:
        assert f"column {column!r}" in lines[0]


def _invoke(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI in-process; returns the exit code and everything printed (the
    process's own stderr too, where an ignored exception would land)."""
    result = RUNNER.invoke(app, args)
    captured = capfd.readouterr()
    text = result.output + captured.out + captured.err
    assert "Traceback" not in text and "Exception ignored" not in text, text[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=CLI_XFAIL[c.kind], strict=True))
        if c.kind in CLI_XFAIL
        else c
        for c in CASES
    ],
    ids=_ids,
)
def test_validate_command(case: Case, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = case.write(tmp_path / "in")
    out = tmp_path / "validation"
    code, output = _invoke(["validate", str(root), "--out", str(out)], capfd)
    if case.error:
        assert code == 2, output
        _check_error_output(output, case, root)
        return
    assert code == 0, output
    first = (out / "rejected.csv").read_bytes()
    _check_rejected(_read_rejected(out / "rejected.csv"), case, root)
    if case.fmt == "csv":  # re-running is safe: the same rows, written afresh, not appended
        code, output = _invoke(["validate", str(root), "--out", str(out)], capfd)
        assert code == 0 and (out / "rejected.csv").read_bytes() == first


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=LINK_XFAIL[c.kind], strict=True))
        if c.kind in LINK_XFAIL
        else c
        for c in LINK_CASES
    ],
    ids=_ids,
)
def test_link_command(case: Case, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = case.write(tmp_path / "in")
    out = tmp_path / "out"
    code, output = _invoke(["link", str(root), "--out", str(out)], capfd)
    if case.error:
        assert code == 2, output
        _check_error_output(output, case, root)
        return
    assert code == 0, output
    _check_rejected(_read_rejected(out / "rejected.csv"), case, root)
    counts = json.loads((out / "run.json").read_text())["counts"]
    assert {t: c["read"] for t, c in counts.items()} == case.read
    assert {t: c["rejected"] for t, c in counts.items()} == {
        t: len(case.rejected.get(t, ())) for t in case.read
    }
