"""Prompt fingerprinting and LSH throughput: rensa (the project's path) vs datasketch.

Usage: python benchmarks/prompts_bench.py [--prompts 1000000] [--seed 1]

Prompts come from the synthetic world generator. Each library runs in its own
subprocess so that its peak RSS is its own. Prints a table and writes
benchmarks/results/prompts.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"


def _prompts(n: int, seed: int) -> Path:
    path = CACHE / f"prompts-{n}-{seed}.parquet"
    if path.exists():
        return path
    from synth import generate_world

    accounts = 20_000
    while True:
        world = generate_world(accounts, seed)
        if len(world.prompts) >= n or accounts >= 400_000:
            break
        accounts = int(accounts * n / max(len(world.prompts), 1) * 1.1)
    CACHE.mkdir(parents=True, exist_ok=True)
    world.prompts.head(n)[["text"]].to_parquet(path)
    return path


def _distinct_masked(path: Path) -> pa.Array:
    """The distinct masked texts of the benchmark's prompts (shared by both libraries)."""
    import numpy as np
    import pandas as pd

    from linker.prompts.masking import mask as _mask

    texts = pd.read_parquet(path)["text"]
    _, raw = pd.factorize(texts)
    masked = _mask(pa.array(np.asarray(raw, dtype=object), type=pa.string()))
    _, uniques = pd.factorize(masked.to_numpy(zero_copy_only=False))
    return pa.array(np.asarray(uniques, dtype=object), type=pa.string())


def run_rensa(path: Path) -> dict[str, float]:
    from linker.prompts.families import lsh_families, signatures
    from linker.settings import PromptSettings

    settings = PromptSettings()
    start = time.perf_counter()
    uniques = _distinct_masked(path)
    sig = signatures(uniques, settings)
    t_sig = time.perf_counter() - start
    start = time.perf_counter()
    families = lsh_families(sig, settings)
    t_lsh = time.perf_counter() - start
    return {
        "fingerprint_s": t_sig,
        "lsh_s": t_lsh,
        "unique_texts": len(uniques),
        "families": len(set(families.tolist())),
    }


def run_datasketch(path: Path) -> dict[str, float]:
    from datasketch import MinHash, MinHashLSH

    from linker.settings import PromptSettings

    settings = PromptSettings()
    start = time.perf_counter()
    uniques = _distinct_masked(path).to_pylist()
    tokens = []
    for text in uniques:
        words = text.split()
        grams = [" ".join(words[i : i + 2]) for i in range(max(len(words) - 1, 1))]
        tokens.append([g.encode() for g in grams])
    hashes = MinHash.bulk(tokens, num_perm=settings.num_perm, seed=settings.seed)
    t_sig = time.perf_counter() - start
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    with lsh.insertion_session() as session:
        for i, mh in enumerate(hashes):
            session.insert(i, mh, check_duplication=False)
    for mh in hashes:
        lsh.query(mh)
    t_lsh = time.perf_counter() - start
    return {"fingerprint_s": t_sig, "lsh_s": t_lsh, "unique_texts": len(uniques)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", choices=["rensa", "datasketch"])
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.worker:
        result = (run_rensa if args.worker == "rensa" else run_datasketch)(Path(args.path))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    path = _prompts(args.prompts, args.seed)
    results = {"prompts": args.prompts}
    for lib in ("rensa", "datasketch"):
        out = subprocess.run(
            [sys.executable, __file__, "--worker", lib, "--path", str(path)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["fingerprint_prompts_per_s"] = args.prompts / r["fingerprint_s"]
        r["lsh_prompts_per_s"] = args.prompts / r["lsh_s"]
        results[lib] = r
        print(
            f"{lib:>10}: fingerprint {r['fingerprint_prompts_per_s']:>10,.0f} prompts/s "
            f"({r['fingerprint_s']:.1f}s), LSH {r['lsh_prompts_per_s']:>10,.0f} prompts/s "
            f"({r['lsh_s']:.1f}s), unique texts {r['unique_texts']:,}, "
            f"peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
    out_path = ROOT / "benchmarks" / "results" / "prompts.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2))
    print(f"written {out_path}")


if __name__ == "__main__":
    main()
