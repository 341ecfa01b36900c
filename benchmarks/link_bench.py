"""End-to-end `link` timings and quality on generated worlds.

Usage: python benchmarks/link_bench.py [--accounts 20000 100000] [--seeds 1 2 3]
       [--no-prompts | --semantic]

Each run is a subprocess (its own peak RSS), one after the other. Prints a table and
writes benchmarks/results/link.json (the worlds measured are replaced, the others kept);
with ``--semantic``, every world is linked without and with the semantic stage
(``link --semantic``) side by side and the results go to
benchmarks/results/link_semantic.json instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(accounts: int, seed: int, prompts: bool, semantic: bool = False) -> dict[str, object]:
    from graph_store.embedded import EmbeddedStore
    from linker.pipeline import link
    from linker.scoring.evaluate import evaluate
    from linker.settings import LinkSettings
    from synth import generate_world, write_world

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "world", Path(tmp) / "out"
        start = time.perf_counter()
        write_world(generate_world(accounts, seed), data)
        generate_s = time.perf_counter() - start
        settings = LinkSettings(use_prompts=prompts, semantic=semantic)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        result = link(data, EmbeddedStore(out), settings, out_dir=out)
        link_s = time.perf_counter() - start
        ev = evaluate(result.run.accounts, result.dataset.labels)
    return {
        "accounts": accounts,
        "seed": seed,
        "prompts": prompts,
        "semantic": semantic,
        "semantic_stage": result.run.meta.get("semantic"),
        # the machine is shared: its 1-minute load average before and after the run
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
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
    parser.add_argument(
        "--semantic", action="store_true", help="without and with the semantic stage"
    )
    parser.add_argument("--worker", nargs=4, metavar=("ACCOUNTS", "SEED", "PROMPTS", "SEMANTIC"))
    args = parser.parse_args()
    if args.worker:
        n, seed, prompts, semantic = args.worker
        print(json.dumps(worker(int(n), int(seed), prompts == "1", semantic == "1")))
        return
    if args.no_prompts and args.semantic:
        parser.error("--semantic needs prompts; pass one of --no-prompts and --semantic")
    results = []
    variants = [(True, False), (False, False)] if args.no_prompts else [(True, False)]
    if args.semantic:
        variants = [(True, False), (True, True)]
    for n in args.accounts:
        for seed in args.seeds:
            for prompts, semantic in variants:
                flags = [str(int(prompts)), str(int(semantic))]
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", str(n), str(seed), *flags],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(r)
                worst = max(r["flagged_by_group"].items(), key=lambda kv: kv[1]["flagged_share"])
                hydra = r["recall_by_tier"].get("hydra", {}).get("recall", float("nan"))
                print(
                    f"{n:>7,} seed {seed} prompts={prompts!s:<5} semantic={semantic!s:<5} "
                    f"link {r['link_s']:6.1f}s P {r['precision']:.3f} R {r['recall']:.3f} "
                    f"hydra {hydra:.3f} worst benign "
                    f"{worst[0]} {100 * worst[1]['flagged_share']:.1f}% "
                    f"peak {r['peak_rss_mb']:,.0f} MB",
                    flush=True,
                )
    name = "link_semantic.json" if args.semantic else "link.json"
    path = ROOT / "benchmarks" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    # a run replaces the worlds it measured and keeps the others (a 100k run does not
    # drop the 20k figures)
    old = json.loads(path.read_text()) if path.is_file() else []
    key = ("accounts", "seed", "prompts", "semantic")
    done = {tuple(r.get(k, False) for k in key) for r in results}
    kept = [r for r in old if tuple(r.get(k, False) for k in key) not in done]
    path.write_text(json.dumps(kept + results, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
