"""End-to-end `link` timings and quality on generated worlds.

Usage: python benchmarks/link_bench.py [--accounts 20000 100000] [--seeds 1 2 3]

Each run is a subprocess (its own peak RSS). Prints a table and writes
benchmarks/results/link.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(accounts: int, seed: int, prompts: bool) -> dict[str, object]:
    from graph_store.embedded import EmbeddedStore
    from linker.evaluate import evaluate
    from linker.pipeline import LinkSettings, link
    from linker.synth import generate_world, write_world

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "world", Path(tmp) / "out"
        start = time.perf_counter()
        write_world(generate_world(accounts, seed), data)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        result = link(data, EmbeddedStore(out), LinkSettings(use_prompts=prompts), out_dir=out)
        link_s = time.perf_counter() - start
        ev = evaluate(result.run.accounts, result.dataset.labels)
    return {
        "accounts": accounts,
        "seed": seed,
        "prompts": prompts,
        "generate_s": generate_s,
        "link_s": link_s,
        "stages_s": result.timings,
        "precision": ev["precision"],
        "recall": ev["recall"],
        "recall_by_tier": ev["recall_by_tier"],
        "flagged_by_group": ev["flagged_by_group"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-prompts", action="store_true", help="also run without prompts")
    parser.add_argument("--worker", nargs=3, metavar=("ACCOUNTS", "SEED", "PROMPTS"))
    args = parser.parse_args()
    if args.worker:
        n, seed, prompts = args.worker
        print(json.dumps(worker(int(n), int(seed), prompts == "1")))
        return
    results = []
    variants = [True, False] if args.no_prompts else [True]
    for n in args.accounts:
        for seed in args.seeds:
            for prompts in variants:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", str(n), str(seed), str(int(prompts))],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(r)
                worst = max(r["flagged_by_group"].items(), key=lambda kv: kv[1]["flagged_share"])
                print(
                    f"{n:>7,} seed {seed} prompts={prompts!s:<5} link {r['link_s']:6.1f}s "
                    f"P {r['precision']:.3f} R {r['recall']:.3f} worst benign "
                    f"{worst[0]} {100 * worst[1]['flagged_share']:.1f}% "
                    f"peak {r['peak_rss_mb']:,.0f} MB"
                )
    path = ROOT / "benchmarks" / "results" / "link.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
