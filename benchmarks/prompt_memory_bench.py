"""Peak memory of the prompt stage: streamed in batches vs the whole table in memory.

Usage: python benchmarks/prompt_memory_bench.py [--prompts 1000000] [--replays 1 2 4]

One generated world supplies about ``--prompts`` prompts (account_id, ts, text). Each
replay factor k writes a prompts file holding that traffic k times over (later
timestamps), so the number of prompts grows k-fold while the distinct texts do not:
the streamed stage's memory should stay flat, the in-memory stage's should grow.
Each measurement is its own subprocess (its own peak RSS). Prints a table and writes
benchmarks/results/prompt_memory.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"


def _world_prompts(n: int, seed: int) -> Path:
    path = CACHE / f"world-prompts-{n}-{seed}.parquet"
    if path.exists():
        return path
    from synth import generate_world

    accounts = max(2_000, n // 11)
    world = generate_world(accounts, seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    world.prompts[["account_id", "ts", "text"]].head(n).to_parquet(path)
    return path


def _replayed(base: Path, k: int) -> Path:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = CACHE / f"{base.stem}-x{k}.parquet"
    if path.exists():
        return path
    frame = pd.read_parquet(base)
    span = pd.Timedelta(days=120)
    with pq.ParquetWriter(path, pa.Schema.from_pandas(frame, preserve_index=False)) as writer:
        for i in range(k):
            part = frame.assign(ts=frame["ts"] + i * span)
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))
    return path


def worker(mode: str, path: Path, batch_rows: int) -> dict[str, float]:
    import pandas as pd

    from linker.ingest.dataset import PromptStream
    from linker.prompts.families import PromptAccumulator, analyse

    start = time.perf_counter()
    if mode == "memory":
        prompts = pd.read_parquet(path)
        n = len(prompts)
        result = analyse(prompts, batch_rows=len(prompts))
        texts = -1
    else:
        known = pd.Index(pd.read_parquet(path, columns=["account_id"])["account_id"].unique())
        acc = PromptAccumulator()
        for batch in PromptStream(path, known, batch_rows=batch_rows):
            acc.add(batch)
        n, texts = acc.n_prompts, acc.n_texts
        result = acc.finish()
    return {
        "prompts": n,
        "distinct_texts": texts,
        "seconds": time.perf_counter() - start,
        "templates": len(result.templates),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1_000_000)
    parser.add_argument("--replays", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PATH"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), args.batch_rows)))
        return
    base = _world_prompts(args.prompts, args.seed)
    rows = []
    for k in args.replays:
        path = _replayed(base, k)
        for mode in ("stream", "memory"):
            batch = ["--batch-rows", str(args.batch_rows)]
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, str(path), *batch],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1]) | {"mode": mode, "replay": k}
            rows.append(r)
            print(
                f"x{k} {mode:>6}: {r['prompts']:>10,} prompts {r['seconds']:6.1f}s "
                f"({r['prompts'] / r['seconds']:>8,.0f}/s) peak RSS {r['peak_rss_mb']:>7,.0f} MB "
                f"templates {r['templates']}"
            )
    out_path = ROOT / "benchmarks" / "results" / "prompt_memory.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"batch_rows": args.batch_rows, "runs": rows}, indent=2))
    print(f"written {out_path}")


if __name__ == "__main__":
    main()
