"""The embedded and the Spark engine side by side: ``sybil-linker link`` on the same
world with ``--engine embedded`` and ``--engine spark`` (local mode), one after the
other, on 20k and 100k accounts by default.

Worlds are generated once into ``--data`` (default benchmarks/.cache/scale/, shared with
benchmarks/scale.py). Each run is a fresh process, as a user runs it; its stage times
come from its run.json; its CPU time and memory are sampled every 0.2 s over the whole
process tree (the CLI, Spark's JVM and its Python workers: the JVM is never reaped by
the CLI, so resource.getrusage would miss it): CPU is the sum of each process's last
seen user + system time, the peak the largest sum of RSS at one sample. The two runs'
flagged accounts are compared. Writes benchmarks/results/spark.json and prints the
figures (docs/scaling.md quotes them).

    python benchmarks/spark_bench.py --accounts 20000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scale import DATA, ensure_world  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "spark.json"
CLI = Path(sys.executable).with_name("sybil-linker")


CLOCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> dict[int, tuple[float, float]]:
    """(CPU seconds, RSS MB) of ``root`` and every descendant, from /proc."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            stats[int(entry.name)] = text[text.rindex(")") + 2 :].split()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            f = stats[pid]
            out[pid] = ((int(f[11]) + int(f[12])) / CLOCK, int(f[21]) * PAGE / 2**20)
        todo.extend(children.get(pid, []))
    return out


def run_link(world: Path, out: Path, engine: str, extra: list[str]) -> dict[str, Any]:
    """One ``sybil-linker link`` in a child process (its terminal output to
    ``OUT.log``); wall and CPU seconds, the run's stage timings, its peak memory (MB,
    the process tree's) and the flagged set."""
    import pandas as pd

    cmd = [str(CLI), "link", str(world), "--out", str(out), "--engine", engine, *extra]
    start = time.perf_counter()
    cpu: dict[int, float] = {}
    peak = 0.0
    log = out.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink, subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=sink) as child:
        while child.poll() is None:
            seen = _tree(child.pid)
            cpu.update({pid: c for pid, (c, _) in seen.items()})
            peak = max(peak, sum(rss for _, rss in seen.values()))
            time.sleep(0.2)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{log.read_text()[-4000:]}")
    meta = json.loads((out / "run.json").read_text())
    accounts = pd.read_parquet(out / "accounts.parquet", columns=["account_id", "flagged"])
    evaluation = meta.get("evaluation") or {}
    return {
        "engine": engine,
        "wall_s": round(wall, 1),
        "cpu_s": round(sum(cpu.values()), 1),
        "peak_mb": round(peak),
        "timings_s": meta["timings_s"],
        "n_edges": meta["n_edges"],
        "n_flagged_accounts": meta["n_flagged_accounts"],
        "precision": evaluation.get("precision"),
        "recall": evaluation.get("recall"),
        "flagged": set(accounts["account_id"][accounts["flagged"]].tolist()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DATA, help="where worlds are kept")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".cache" / "spark")
    parser.add_argument("--spark-communities", default="driver")
    args = parser.parse_args()
    rows = []
    for n in args.accounts:
        world = ensure_world(n, args.seed, args.data)
        signals = pq.ParquetFile(world / "signals.parquet").metadata.num_rows
        runs = {}
        for engine in ("embedded", "spark"):
            extra = ["--spark-communities", args.spark_communities] if engine == "spark" else []
            out = args.work / f"{n}-{engine}"
            runs[engine] = run_link(world, out, engine, extra)
            print(
                f"{n:>9,} accounts {engine:>8}: {runs[engine]['wall_s']:7.1f} s wall, "
                f"{runs[engine]['cpu_s']:7.1f} s CPU, "
                f"projection {runs[engine]['timings_s']['projection']:6.1f} s, "
                f"peak {runs[engine]['peak_mb']:7.0f} MB, "
                f"{runs[engine]['n_flagged_accounts']:,} flagged",
                flush=True,
            )
        same = runs["embedded"]["flagged"] == runs["spark"]["flagged"]
        print(f"{n:>9,} accounts: the same flagged accounts: {same}")
        for r in runs.values():
            r.pop("flagged")
        rows.append(
            {"accounts": n, "signals": signals, "seed": args.seed, "same_flagged": same, **runs}
        )
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "spark_master": "local[2]",
                    "spark_communities": args.spark_communities,
                },
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
