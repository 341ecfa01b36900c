"""`link --out OUT` writes its files atomically: a run killed at any point leaves OUT
with the previous complete run (or, killed during the final moves, with no run.json
and a committed staging directory that the next reader or writer finishes), never a
run.json beside files of another run or missing files. A full disk is one line naming
OUT, and the previous run stays.

Real processes: ``sybil-linker link`` is started as a subprocess and killed with
SIGKILL at several points while a watcher thread checks OUT all along. The disk-full
test mounts a 2 MB tmpfs (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from graph_store.base import RunTables
from graph_store.embedded import (
    COMMIT_MARKER,
    RUN_FILE,
    RUN_ID_KEY,
    STAGING_PREFIX,
    TABLE_FILES,
    EmbeddedStore,
    StoreWriteError,
)
from tests.api.synthetic import constant_run

# one worker for the module (its worlds and first run are built once), not the "world" one
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("atomic-output")]

CLI = Path(sys.executable).with_name("sybil-linker")
WORLD_ACCOUNTS = 600
#: bad signal rows appended to world B, so its rejected.csv tells it from world A's
BAD_ROWS = [("acc_x", "not_a_kind", "v1"), ("acc_y", "no_such_kind", "v2")]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two inputs: A, a generated world, and B, the same world with two bad rows (the
    same accounts: a run of B takes over A's cluster ids)."""
    from synth import generate_world, write_world

    root = tmp_path_factory.mktemp("atomic-worlds")
    paths = {"A": root / "A", "B": root / "B"}
    write_world(generate_world(WORLD_ACCOUNTS, 5), paths["A"])
    shutil.copytree(paths["A"], paths["B"])
    signals = pd.read_parquet(paths["B"] / "signals.parquet")
    bad = pd.DataFrame(BAD_ROWS, columns=["account_id", "kind", "value"])
    bad["ts"] = signals["ts"].iloc[0]
    pd.concat([signals, bad], ignore_index=True).to_parquet(paths["B"] / "signals.parquet")
    return paths


def _link(data: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLI), "link", str(data), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def previous(worlds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OUT holding a complete run of world A (copied for each test)."""
    out = tmp_path_factory.mktemp("previous") / "out"
    proc = _link(worlds["A"], out)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    return out


def _rejected_rows(data: Path) -> int:
    return 0 if data.name == "A" else len(BAD_ROWS)


def _read_meta(out: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((out / RUN_FILE).read_text()))
    except FileNotFoundError:
        return None


def observe(out: Path) -> str | None:
    """The run id of the complete run OUT shows, or None when it shows none (no
    run.json). Raises AssertionError when OUT looks complete (run.json present) with a
    file missing or from another run. Looks again when run.json changed while the
    files were read (a commit in between), as a reader does."""
    for _ in range(100):
        meta = _read_meta(out)
        if meta is None:
            return None
        run_id = str(meta["run_id"])
        problems = []
        for filename in TABLE_FILES.values():
            try:
                found = pq.read_schema(out / filename).metadata.get(RUN_ID_KEY, b"").decode()
            except FileNotFoundError:
                problems.append(f"{filename} missing")
                continue
            if found != run_id:
                problems.append(f"{filename} is from run {found}")
        try:
            if "input" in meta:  # a run of `link`, which writes rejected.csv
                lines = (out / "rejected.csv").read_text().strip().splitlines()
                if len(lines) - 1 != _rejected_rows(Path(str(meta["input"]))):
                    problems.append(
                        f"rejected.csv has {len(lines) - 1} rows, not {meta['input']}'s"
                    )
        except FileNotFoundError:
            problems.append("rejected.csv missing")
        if _read_meta(out) == meta:
            assert not problems, f"OUT looks complete (run {run_id}) but: {problems}"
            return run_id
    raise AssertionError("run.json kept changing")


class Watcher(threading.Thread):
    """Checks OUT with :func:`observe` every few milliseconds until stopped; keeps the
    first failure and the run ids seen."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out = out
        self.stop = threading.Event()
        self.seen: set[str | None] = set()
        self.failure: AssertionError | None = None
        self.checks = 0

    def run(self) -> None:
        while not self.stop.is_set() and self.failure is None:
            try:
                self.seen.add(observe(self.out))
            except AssertionError as err:
                self.failure = err
            self.checks += 1
            time.sleep(0.002)


def _stages(out: Path) -> list[Path]:
    return [p for p in out.glob(f"{STAGING_PREFIX}*") if p.is_dir()]


def _staged(name: str) -> Callable[[Path, float], bool]:
    return lambda out, _elapsed: any((stage / name).exists() for stage in _stages(out))


#: kill points: (name, condition on OUT and the seconds since start, before the commit?)
KILL_POINTS = [
    ("at-start", lambda _out, elapsed: elapsed > 1.0, True),
    ("staging-created", lambda out, _elapsed: bool(_stages(out)), True),
    ("rejected-staged", _staged("rejected.csv"), True),
    ("tables-staged", _staged("edges.parquet"), False),
    ("run-json-staged", _staged(RUN_FILE), False),
    ("commit-marker", _staged(COMMIT_MARKER), False),
]


def _digest(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("point", "condition", "before_commit"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS]
)
def test_a_killed_link_never_leaves_a_mixed_output(
    worlds: dict[str, Path],
    previous: Path,
    tmp_path: Path,
    point: str,
    condition: Callable[[Path, float], bool],
    before_commit: bool,
) -> None:
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _digest(out)
    old_id = observe(out)
    watcher = Watcher(out)
    watcher.start()
    proc = _link(worlds["B"], out)
    started = time.monotonic()
    try:
        while proc.poll() is None and not condition(out, time.monotonic() - started):
            assert time.monotonic() - started < 300, "link did not reach the kill point"
            time.sleep(0.001)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        watcher.stop.set()
        watcher.join(timeout=10)
    assert watcher.failure is None, watcher.failure
    assert watcher.checks > 0
    after = observe(out)
    if killed and before_commit:
        assert after == old_id and _digest(out) == before, f"killed at {point}"
    if after is None:  # killed during the moves: the committed stage is finished by a reader
        assert any((s / COMMIT_MARKER).exists() for s in _stages(out))
        run = EmbeddedStore(out).latest_run()
        assert run is not None and run.meta["input"] == str(worlds["B"])
        assert observe(out) == run.run_id and not _stages(out)
    # the next run completes whatever was left
    proc = _link(worlds["B"], out)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    final = observe(out)
    assert final not in (None, old_id) and not _stages(out)
    assert _read_meta(out)["input"] == str(worlds["B"])  # type: ignore[index]


# --- in-process faults of the commit itself -------------------------------------------


def _write(store: EmbeddedStore, run: RunTables) -> None:
    store.write_run(run)


def test_a_crash_between_the_moves_is_finished_by_the_next_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.replace fails after two files (a crash half-way through the moves, which a
    SIGKILL hits too rarely to test): OUT shows no run, then the reader finishes it."""
    store = EmbeddedStore(tmp_path / "out")
    _write(store, constant_run("old", 0.2))
    real_replace = os.replace
    calls: list[str] = []

    def crash_after_two(src: object, dst: object) -> None:
        calls.append(str(dst))
        if len(calls) > 2:
            raise KeyboardInterrupt("killed")  # not an OSError: nothing may catch it
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr("graph_store.embedded.os.replace", crash_after_two)
    with pytest.raises(KeyboardInterrupt, match="killed"):
        _write(store, constant_run("new", 0.8))
    monkeypatch.setattr("graph_store.embedded.os.replace", real_replace)
    assert observe(store.root) is None  # no run.json beside half-moved files
    assert store.latest_run_id() is None
    run = EmbeddedStore(store.root).latest_run()
    assert run is not None and run.run_id == "new" and observe(store.root) == "new"
    assert not _stages(store.root)


def test_an_error_inside_a_staged_write_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "out")
    _write(store, constant_run("old", 0.2))
    before = _digest(store.root)
    with pytest.raises(RuntimeError, match="pipeline failed"), store.staged() as stage:
        (stage / "rejected.csv").write_text("file,row\n")
        store.write_run(constant_run("new", 0.8))
        raise RuntimeError("pipeline failed")
    assert _digest(store.root) == before and not _stages(store.root)


def test_a_second_writer_is_refused_while_one_writes(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "out")
    with store.staged():
        with pytest.raises(StoreWriteError, match="another process is writing a run to"):
            _write(EmbeddedStore(tmp_path / "out"), constant_run("other", 0.5))
        store.write_run(constant_run("mine", 0.5))
    assert store.latest_run_id() == "mine"


def test_files_the_new_run_does_not_have_are_removed_with_the_old_run(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "out")
    with store.staged(owned=["risk.png"]) as stage:
        (stage / "risk.png").write_bytes(b"png of the old run")
        store.write_run(constant_run("old", 0.2))
    with store.staged(owned=["risk.png"]):
        store.write_run(constant_run("new", 0.8))
    assert not (store.root / "risk.png").exists() and store.latest_run_id() == "new"


# --- a full disk --------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted in tmp_path (needs root: skipped with the reason otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command: a full disk cannot be made for real here")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs (root only): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` up to ``leave`` free bytes."""
    with open(disk / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))


def test_a_full_disk_is_one_line_naming_out_and_the_previous_run_stays(
    worlds: dict[str, Path], small_disk: Path
) -> None:
    out = small_disk / "out"
    proc = _link(worlds["A"], out)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    before, old_id = _digest(out), observe(out)
    _fill(small_disk, leave=48 * 1024)  # room for less than the new run's files
    proc = _link(worlds["B"], out)
    output, _ = proc.communicate(timeout=300)
    lines = [line for line in output.splitlines() if line.strip()]
    assert proc.returncode != 0
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert lines[0].startswith("error: disk full writing the run to " + str(out)), output
    assert "previous run is intact" in lines[0]
    assert _digest(out) == before and observe(out) == old_id and not _stages(out)
