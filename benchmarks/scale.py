"""`link` at scale, stage by stage, each stage side by side with a plain reference.

Usage: python benchmarks/scale.py [--accounts 100000 300000 1000000] [--seed 1]
       [--data DIR] [--tag NAME] [--no-doc]

For each size: the world is generated once with ``sybil-linker generate`` and kept under
``--data`` (default benchmarks/.cache/scale/; a re-run skips generation); then one
subprocess runs ``linker.pipeline.link`` on it, exactly as ``sybil-linker link`` does,
and splits the run at the pipeline's own progress calls into stages (ingest, prompts,
identifier table, pair expansion, time evidence, projection, community detection,
scoring, output), each with its wall time and the peak RSS of the process while it ran
(``VmHWM``, reset at each stage start through ``/proc/self/clear_refs``). In the same
subprocess, right after the run, the references are timed on the same data:

- ingest: a plain ``pyarrow.parquet.read_table`` of the same files (the tables ingest
  reads whole; the prompts table is streamed by the prompt stage);
- prompts: rensa alone, ``RMinHash.digest_matrix_from_token_sets`` over the word sets of
  the prompts table's distinct raw texts (read with pyarrow, deduplicated with
  ``pyarrow.compute.unique``), 64 permutations as the project uses;
- projection (pair expansion + time evidence + projection): the plain sparse product
  ``B @ B.T`` (scipy, upper triangle) of the capped incidence matrix: memberships of
  identifiers shared by 2 to ``supernode`` accounts;
- community detection: the bare ``igraph.Graph.community_leiden`` call (modularity,
  the run's resolution and number of passes) on the run's own edge list.

The Neo4j load of the same world against ``neo4j-admin database import`` of the same
rows is benchmarks/neo4j_scale.py (the second command of ``make bench-scale``).
Writes benchmarks/results/scale.json (rows of the sizes and tag measured are replaced,
others kept) and, unless ``--no-doc``, the table and a log-log growth plot into
docs/benchmarks.md (between markers) and docs/img/scale.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".cache" / "scale"
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "img" / "scale.png"

STAGES = (
    "ingest",
    "prompts",
    "identifier table",
    "pair expansion",
    "time evidence",
    "projection",
    "communities",
    "scoring",
    "output",
)
#: the pipeline's progress messages -> the stage they start
STAGE_OF = {
    "ingest": "ingest",
    "prompts": "prompts",
    "identifiers": "identifier table",
    "projection": "identifier table",
    "projection: identifier table": "identifier table",
    "projection: pair expansion": "pair expansion",
    "projection: time evidence": "time evidence",
    "projection: edges": "projection",
    "projection: corroboration": "projection",
    "communities": "communities",
    "risk": "scoring",
    "shared_values": "output",
    "write": "output",
}
#: the issue's targets (issue 15): 1M accounts end to end, ratios, growth 100k -> 1M
TARGETS = {
    "total_s": 600.0,
    "peak_mb": 12 * 1024.0,
    "communities_ratio": 1.5,
    "projection_ratio": 3.0,
    "growth_time": 12.0,
    "growth_memory": 11.0,
}


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the prompt
    stage's intent worker ends with the stage)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _reset_peak() -> None:
    """Make the kernel's peak RSS of this process (VmHWM) its current RSS."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    """Peak RSS since the last :func:`_reset_peak` (ru_maxrss where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StageMeter:
    """A ``progress`` callback for ``link`` that cuts the run into :data:`STAGES`.

    A stage entered more than once (the projection's two passes) adds up its times and
    keeps its largest peak."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self.peak_mb = dict.fromkeys(STAGES, 0.0)
        self.current: str | None = None
        self.started = self.cpu_started = 0.0

    def __call__(self, message: str) -> None:
        stage = STAGE_OF.get(message)
        if stage is None and message.startswith("prompts"):
            stage = "prompts"
        if stage is None or stage == self.current:
            return
        self.close()
        self.current, self.started = stage, time.perf_counter()
        self.cpu_started = _cpu()
        _reset_peak()

    def close(self) -> None:
        if self.current is not None:
            self.seconds[self.current] += time.perf_counter() - self.started
            self.cpu[self.current] += _cpu() - self.cpu_started
            self.peak_mb[self.current] = max(self.peak_mb[self.current], _peak_mb())
        self.current = None


def ensure_world(accounts: int, seed: int, data: Path) -> Path:
    """The world's directory under ``data``, generated by the CLI unless already there."""
    world = data / f"accounts-{accounts}-seed-{seed}"
    done = world / ".complete"
    if not done.exists():
        world.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "linker", "generate", str(world)]
        cmd += ["--accounts", str(accounts), "--seed", str(seed)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        done.write_text(f"{time.perf_counter() - start:.1f} s\n")
    return world


def _timed(func: Any, *args: Any) -> tuple[tuple[float, float], Any]:
    """((wall seconds, CPU seconds), result) of ``func(*args)``."""
    start, cpu = time.perf_counter(), _cpu()
    out = func(*args)
    return (time.perf_counter() - start, _cpu() - cpu), out


def ref_ingest(world: Path) -> tuple[float, float]:
    """Wall and CPU seconds for a plain pyarrow read of the tables ingest reads whole."""
    import pyarrow.parquet as pq

    def read() -> int:
        files = [p for p in sorted(world.glob("*.parquet")) if p.stem != "prompts"]
        return sum(pq.read_table(p).num_rows for p in files)

    return _timed(read)[0]


def ref_prompts(world: Path, num_perm: int, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds for rensa alone over the word sets of the distinct raw prompt texts."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import rensa

    def fingerprint() -> int:
        texts = pc.unique(pq.read_table(world / "prompts.parquet", columns=["text"])["text"])
        rows = 0
        for i in range(0, len(texts), 100_000):
            words = pc.utf8_split_whitespace(texts.slice(i, 100_000)).to_pylist()
            matrix = rensa.RMinHash.digest_matrix_from_token_sets(
                [w or [""] for w in words], num_perm=num_perm, seed=seed
            )
            rows += matrix.len()
        return rows

    return _timed(fingerprint)[0]


def ref_projection(projection: Any) -> tuple[tuple[float, float], int]:
    """Wall and CPU seconds for ``triu(B @ B.T)`` of the capped incidence matrix, and its pairs."""
    import numpy as np
    from scipy import sparse

    mem, ident = projection.memberships, projection.identifiers
    capped = (ident["degree"].to_numpy() >= 2) & ~ident["supernode"].to_numpy(bool)
    rows = (mem["strength"].to_numpy(float) > 0) & capped[mem["ident"].to_numpy()]
    acc, idn = mem["account"].to_numpy()[rows], mem["ident"].to_numpy()[rows]

    def product() -> int:
        b = sparse.csr_matrix(
            (np.ones(len(acc), np.float32), (acc, idn)),
            shape=(len(projection.accounts), len(ident)),
        )
        return int(sparse.triu(b @ b.T, k=1).nnz)

    return _timed(product)


def ref_communities(projection: Any, resolution: float, iterations: int) -> tuple[float, float]:
    """Wall and CPU seconds for the bare igraph Leiden call on the run's edge list."""
    import igraph as ig
    import numpy as np

    edges = projection.edges
    graph = ig.Graph(
        n=len(projection.accounts),
        edges=np.column_stack([edges["a"], edges["b"]]).tolist(),
        directed=False,
    )
    graph.es["weight"] = edges["weight"].to_numpy(float).tolist()
    return _timed(
        lambda: graph.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=resolution,
            n_iterations=iterations,
        )
    )[0]


def worker(accounts: int, seed: int, world: Path) -> dict[str, Any]:
    """Link ``world`` stage by stage, then time the references on the same data."""
    from graph_store.embedded import EmbeddedStore
    from linker.pipeline import link
    from linker.settings import LinkSettings

    settings = LinkSettings()
    meter = StageMeter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        start, cpu_start = time.perf_counter(), _cpu()
        meter("ingest")
        result = link(world, EmbeddedStore(out), settings, out_dir=out, progress=meter)
        meter.close()
        total, cpu = time.perf_counter() - start, _cpu() - cpu_start
    # resetting VmHWM resets ru_maxrss too: the run's peak is its stages' largest
    peak = max(max(meter.peak_mb.values()), _peak_mb())
    load_after = os.getloadavg()[0]
    counts = result.run.meta["counts"]
    n_clusters = int(result.run.meta["n_clusters"])
    projection = result.projection
    del result  # the references need the projection alone
    print(f"link: {total:.1f} s, {cpu:.1f} s CPU, peak {peak:.0f} MB", file=sys.stderr)
    print(json.dumps({"seconds": meter.seconds, "cpu": meter.cpu}), file=sys.stderr, flush=True)
    refs: dict[str, tuple[float, float]] = {}
    n_pairs = None
    jobs = {
        "ingest": lambda: ref_ingest(world),
        "prompts": lambda: ref_prompts(world, settings.prompt.num_perm, settings.prompt.seed),
        "projection": lambda: ref_projection(projection),
        "communities": lambda: ref_communities(
            projection, settings.community.resolution, settings.community.iterations
        ),
    }
    for name, job in jobs.items():
        try:
            out = job()
        except (MemoryError, ValueError, OverflowError) as err:  # a reference too large
            print(f"reference {name} failed: {err!r}", file=sys.stderr, flush=True)
            continue
        if name == "projection":
            out, n_pairs = out
        refs[name] = out
        print(f"reference {name}: {out}", file=sys.stderr, flush=True)
    s = meter.seconds
    projection_stages = ("pair expansion", "time evidence", "projection")
    ours = {k: (s[k], meter.cpu[k]) for k in ("ingest", "prompts", "communities")}
    ours["projection"] = (
        sum(s[k] for k in projection_stages),
        sum(meter.cpu[k] for k in projection_stages),
    )
    return {
        "accounts": accounts,
        "seed": seed,
        "rows": {name: c["kept"] for name, c in counts.items()},
        "edges": len(projection.edges),
        "clusters": n_clusters,
        "load_avg": [round(load_before, 2), round(load_after, 2)],
        "total_s": round(total, 2),
        # the machine is shared: CPU seconds (all threads) say what wall time hides
        "cpu_s": round(cpu, 2),
        "peak_mb": round(peak, 1),
        "stages": {
            k: {
                "s": round(s[k], 2),
                "cpu_s": round(meter.cpu[k], 2),
                "peak_mb": round(meter.peak_mb[k], 1),
            }
            for k in STAGES
        },
        "reference_s": {k: round(v[0], 2) for k, v in refs.items()},
        "reference_cpu_s": {k: round(v[1], 2) for k, v in refs.items()},
        "ratio": {k: round(ours[k][0] / max(refs[k][0], 1e-9), 2) for k in refs},
        # the machine is shared: the ratio of CPU seconds is the steadier figure
        "ratio_cpu": {k: round(ours[k][1] / max(refs[k][1], 1e-9), 2) for k in refs},
        "reference_pairs": n_pairs,
    }


def run_size(accounts: int, seed: int, data: Path) -> dict[str, Any]:
    """One size in its own process (its own peak RSS); its log goes to
    ``data/worker-<accounts>-seed-<seed>.log``. Raises SystemExit when it fails."""
    world = ensure_world(accounts, seed, data)
    cmd = [sys.executable, __file__, "--worker", str(accounts), str(seed), str(world)]
    log = data / f"worker-{accounts}-seed-{seed}.log"
    with log.open("w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise SystemExit(f"{accounts:,} accounts failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _commit() -> str:
    """The tree measured: its short commit id, ``+`` when linker/ has uncommitted edits."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "linker"], cwd=ROOT)
    return head + ("+" if dirty.returncode else "")


def print_row(row: dict[str, Any]) -> None:
    print(
        f"\n{row['accounts']:,} accounts (seed {row['seed']}): {row['total_s']:.1f} s, "
        f"peak {row['peak_mb'] / 1024:.2f} GB, load {row['load_avg']}"
    )
    for name in STAGES:
        st = row["stages"][name]
        print(
            f"  {name:<17}{st['s']:>9.1f} s {st['cpu_s']:>9.1f} s CPU "
            f"{st['peak_mb'] / 1024:>7.2f} GB"
        )
    for name, ratio in row["ratio"].items():
        print(
            f"  {name:<17}{ratio:>9.2f} x reference ({row['reference_s'][name]:.1f} s), "
            f"CPU {row['ratio_cpu'][name]:.2f} x ({row['reference_cpu_s'][name]:.1f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DATA, help="where worlds are kept")
    parser.add_argument("--tag", default="current", help="label of this tree's figures")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/ alone")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        n, seed, world = args.worker
        print(json.dumps(worker(int(n), int(seed), Path(world))))
        return
    from benchmarks.scale_report import merge_rows, write_doc

    kept = []
    for accounts in sorted(args.accounts):
        row = {**run_size(accounts, args.seed, args.data), "tag": args.tag, "commit": _commit()}
        print_row(row)
        sys.stdout.flush()
        kept = merge_rows(RESULTS, [row])  # each size is kept as soon as it is measured
    if not args.no_doc:
        write_doc(kept, DOC, PLOT, " ".join(["python benchmarks/scale.py", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
