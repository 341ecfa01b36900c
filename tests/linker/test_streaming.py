"""Prompts read and analysed batch by batch: the same rows, row numbers, rejects and
results as reading the whole table at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graph_store.embedded import EmbeddedStore
from linker.errors import InputError
from linker.ingest.dataset import load_dataset
from linker.ingest.readers import iter_raw, read_raw
from linker.pipeline import link
from linker.prompts import families, intent, masking, skeleton
from linker.prompts.families import PromptAccumulator, analyse
from linker.prompts.threads import MAX_THREADS, cuts, n_threads, set_threads, thread_map
from synth import generate_world, write_world
from tests.helpers import write_text

ACCOUNTS = "account_id,created_at\na1,2026-01-01\na2,2026-01-01\n"
SIGNALS = "account_id,kind,value,ts\na1,device,d1,2026-01-01\n"
# row 3 spans two lines (a quoted newline), row 4 has a field too many, row 6 a bad time,
# row 7 an unknown account
PROMPTS_CSV = (
    "account_id,ts,text\n"
    "a1,2026-01-01T00:00:00Z,hello there\n"
    "a2,2026-01-01T00:01:00Z,summarise this\n"
    'a1,2026-01-01T00:02:00Z,"two\nlines"\n'
    "a2,2026-01-01T00:03:00Z,too,many\n"
    "a1,2026-01-01T00:04:00Z,fine\n"
    "a2,yesterday-ish,bad time\n"
    "zz,2026-01-01T00:05:00Z,who is this\n"
    "a1,2026-01-01T00:06:00Z,last\n"
)


def _as_format(root: Path, fmt: str) -> Path:
    """The PROMPTS_CSV table in ``fmt`` (the field-count error exists in csv only)."""
    write_text(root, "accounts.csv", ACCOUNTS)
    write_text(root, "signals.csv", SIGNALS)
    if fmt.startswith("csv"):
        return write_text(root, f"prompts.{fmt}", PROMPTS_CSV)
    frame = pd.read_csv(write_text(root / "src", "p.csv", PROMPTS_CSV), on_bad_lines="skip")
    path = root / f"prompts.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True, compression="infer")
    return path


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"])
@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
@pytest.mark.parametrize("block_bytes", [80, 8 << 20])
def test_batches_keep_rows_and_row_numbers(
    tmp_path: Path, fmt: str, batch_rows: int, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small CSV blocks: rows (and a quoted newline) fall on block boundaries
    monkeypatch.setattr("linker.ingest.csvreader.CSV_BLOCK_BYTES", block_bytes)
    path = _as_format(tmp_path, fmt)
    whole, whole_bad = read_raw(path)
    parts = list(iter_raw(path, batch_rows))
    frames = pd.concat([f for f, _ in parts if len(f)])
    bad = pd.concat([b for _, b in parts if not b.empty] or [whole_bad.iloc[:0]])
    assert frames.index.tolist() == whole.index.tolist()
    assert frames["text"].tolist() == whole["text"].tolist()
    assert sorted(bad["row"].tolist()) == sorted(whole_bad["row"].tolist())
    if fmt.startswith("csv"):
        assert frames.loc[3, "text"] == "two\nlines"
        assert bad["row"].tolist() == [4]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_prompt_stream_rejects_name_file_row_and_column(tmp_path: Path, fmt: str) -> None:
    path = _as_format(tmp_path, fmt)
    data = load_dataset(tmp_path, stream_prompts=True)
    assert data.prompts is None and data.prompt_stream is not None
    data.prompt_stream.batch_rows = 2
    kept = pd.concat(list(data.prompt_stream))
    stream = data.prompt_stream
    rejected = {(int(r.row), r.column): r.reason for r in stream.rejected.itertuples()}
    # row numbers are the file's rows (the parquet/jsonl copies lost the csv's row 4)
    bad_time, unknown = (6, 7) if fmt == "csv" else (5, 6)
    assert "timestamp" in rejected[(bad_time, "ts")]
    assert rejected[(unknown, "account_id")] == "account_id not in accounts table"
    assert set(stream.rejected["file"]) == {str(path)}
    assert kept["text"].tolist() == ["hello there", "summarise this", "two\nlines", "fine", "last"]
    assert stream.counts is not None
    assert (stream.counts.kept, stream.counts.rejected) == (5, stream.counts.read - 5)


def test_entirely_invalid_prompts_stop_the_run_naming_the_file(tmp_path: Path) -> None:
    write_text(tmp_path, "accounts.csv", ACCOUNTS)
    write_text(tmp_path, "signals.csv", SIGNALS)
    write_text(tmp_path, "prompts.csv", "account_id,ts,text\nzz,2026-01-01,hi\nyy,2026-01-01,yo\n")
    with pytest.raises(InputError) as err:
        link(tmp_path, EmbeddedStore(tmp_path / "out"), out_dir=tmp_path / "out")
    assert "prompts.csv" in str(err.value) and "account_id" in str(err.value)


def test_link_reports_streamed_prompt_rejects(tmp_path: Path) -> None:
    _as_format(tmp_path, "csv")
    out = tmp_path / "out"
    result = link(tmp_path, EmbeddedStore(out), out_dir=out)
    rejected = pd.read_csv(out / "rejected.csv")
    mine = rejected[rejected["file"].str.endswith("prompts.csv")]
    assert sorted(mine["row"].tolist()) == [4, 6, 7]
    counts = result.run.meta["counts"]["prompts"]
    assert (counts["read"], counts["kept"], counts["rejected"]) == (8, 5, 3)
    assert list(result.run.meta["counts"]) == ["accounts", "signals", "prompts"]


@pytest.fixture(scope="module")
def world_prompts(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("world")
    write_world(generate_world(1500, seed=5), root)
    data = load_dataset(root)
    assert data.prompts is not None
    return data.prompts


@pytest.mark.parametrize("batch_rows", [997, 5000])
def test_any_batch_size_gives_the_same_analysis(
    world_prompts: pd.DataFrame, batch_rows: int
) -> None:
    whole = analyse(world_prompts, batch_rows=len(world_prompts))
    parts = analyse(world_prompts, batch_rows=batch_rows)
    assert len(whole.memberships) > 0
    key = ["account_id", "value"]
    pd.testing.assert_frame_equal(
        whole.memberships.sort_values(key).reset_index(drop=True),
        parts.memberships.sort_values(key).reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(whole.account_features, parts.account_features)
    assert whole.examples == parts.examples


def test_state_grows_with_distinct_texts_not_prompts(world_prompts: pd.DataFrame) -> None:
    acc = PromptAccumulator()
    acc.add(world_prompts)
    texts, pairs = acc.n_texts, sum(map(len, acc._pairs))
    for _ in range(5):  # the same traffic again: five times the prompts
        acc.add(world_prompts)
    assert acc.n_prompts == 6 * len(world_prompts)
    assert acc.n_texts == texts
    acc._compact()
    assert sum(map(len, acc._pairs)) == pairs
    result = acc.finish()
    counts = result.account_features["n_prompts"]
    assert counts.sum() == 6 * len(world_prompts)
    assert np.all(result.memberships["n_obs"] % 6 == 0)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
def test_rows_longer_than_the_block_are_read_whole(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a row spanning three blocks makes pyarrow give up ("straddling object"); the
    # reader starts again with a larger block and hands out no row twice
    monkeypatch.setattr("linker.ingest.csvreader.CSV_BLOCK_BYTES", 64)
    long = "x" * 1000
    text = "account_id,ts,text\n" + "".join(
        f"a{i % 2 + 1},2026-01-01T00:00:0{i}Z,{long if i == 3 else 'short'}\n" for i in range(6)
    )
    path = write_text(tmp_path, f"prompts.{fmt}", text + "a1,bad\n")
    for batch_rows in (1, 1000):
        parts = list(iter_raw(path, batch_rows))
        frame = pd.concat([f for f, _ in parts])
        bad = pd.concat([b for _, b in parts if not b.empty])
        assert frame.index.tolist() == [1, 2, 3, 4, 5, 6]
        assert frame.loc[4, "text"] == long
        assert bad["row"].tolist() == [7]


def test_intent_scored_in_a_worker_process_gives_the_same_result(
    world_prompts: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intent, "POOL_MIN_TEXTS", 1)
    results = []
    for workers in (0, 1):
        acc = PromptAccumulator(intent_workers=workers)
        for start in range(0, len(world_prompts), 700):
            acc.add(world_prompts.iloc[start : start + 700])
        assert (acc._intent._pool is not None) == (workers > 0)
        results.append(acc.finish())
        assert acc._intent._pool is None
    here, there = results
    pd.testing.assert_frame_equal(here.memberships, there.memberships)
    pd.testing.assert_frame_equal(here.account_features, there.account_features)
    pd.testing.assert_frame_equal(here.templates, there.templates)
    assert here.account_features["intent"].sum() > 0


def test_an_accumulator_is_finished_once(world_prompts: pd.DataFrame) -> None:
    # finishing hands its batches' signatures and windows to the result, so nothing may
    # be added to it, or finished, again
    acc = PromptAccumulator()
    acc.add(world_prompts.iloc[:500])
    result = acc.finish()
    assert len(result.memberships) > 0
    with pytest.raises(RuntimeError, match="finished"):
        acc.add(world_prompts.iloc[500:600])
    with pytest.raises(RuntimeError, match="finished"):
        acc.finish()


@pytest.fixture
def threads() -> Iterator[Callable[[int | None], None]]:
    yield set_threads
    set_threads(None)


def test_threads_give_the_same_analysis(
    world_prompts: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    threads: Callable[[int | None], None],
) -> None:
    # small pieces, so that every threaded step (masking, fingerprints, document
    # frequencies, skeleton chunks, skeleton MinHash, LSH bands) splits its work
    monkeypatch.setattr(masking, "MASK_PIECE", 50)
    monkeypatch.setattr(families, "SIGNATURE_SLICE", 64)
    monkeypatch.setattr(skeleton, "SKELETON_CHUNK", 100)
    results = []
    for k in (1, 2, 3):
        threads(k)
        assert len(cuts(1000, 50)) == k
        results.append(analyse(world_prompts, batch_rows=2000))
    one = results[0]
    assert one.memberships["value"].nunique() > 10
    for other in results[1:]:
        pd.testing.assert_frame_equal(one.memberships, other.memberships)
        pd.testing.assert_frame_equal(one.account_features, other.account_features)
        pd.testing.assert_frame_equal(one.templates, other.templates)
        assert one.examples == other.examples


def test_thread_map_keeps_order_and_threads_are_bounded(
    threads: Callable[[int | None], None],
) -> None:
    threads(2)
    assert thread_map(lambda x: x * x, range(7)) == [x * x for x in range(7)]
    assert cuts(10, 50) == [(0, 10)]  # small inputs stay whole
    assert cuts(101, 50) == [(0, 50), (50, 101)]
    threads(None)
    assert 1 <= n_threads() <= MAX_THREADS
    with pytest.raises(ValueError, match="at least 1"):
        set_threads(0)
