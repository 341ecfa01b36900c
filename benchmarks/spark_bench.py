"""The embedded and the Spark engine side by side: ``sybil-linker link`` on the same
world with ``--engine embedded`` and ``--engine spark`` (local mode), one after the
other, on 20k and 100k accounts by default.

Worlds are generated once into ``--data`` (default benchmarks/.cache/scale/, shared with
benchmarks/scale.py). Each run is a fresh process, as a user runs it; its stage times
come from its run.json, its wall time and peak memory from the process (the peak is the
largest single process: the Python driver, or Spark's JVM when larger). The two runs'
flagged accounts are compared. Writes benchmarks/results/spark.json and prints the
figures (docs/scaling.md quotes them).

    python benchmarks/spark_bench.py --accounts 20000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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


def run_link(world: Path, out: Path, engine: str, extra: list[str]) -> dict[str, Any]:
    """One ``sybil-linker link`` in a child process; wall seconds, the run's stage
    timings, its peak RSS (MB, the largest process of the run) and the flagged set."""
    import pandas as pd

    cmd = [str(CLI), "link", str(world), "--out", str(out), "--engine", engine, *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    meta = json.loads((out / "run.json").read_text())
    accounts = pd.read_parquet(out / "accounts.parquet", columns=["account_id", "flagged"])
    evaluation = meta.get("evaluation") or {}
    return {
        "engine": engine,
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "peak_mb": round(after.ru_maxrss / 1024, 0),
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
