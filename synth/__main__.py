"""``python -m synth``: generate a world, write it, report timings and the
naive-linker baseline.

    python -m synth --n 20000 --seed 1 --out /tmp/world --fmt parquet --naive
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .world import generate_world, write_world


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth", description=__doc__)
    ap.add_argument("--n", type=int, default=20_000, help="number of accounts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="output directory (omit: do not write)")
    ap.add_argument("--fmt", choices=["parquet", "csv", "jsonl"], default="parquet")
    ap.add_argument("--naive", action="store_true", help="also report the naive linker baseline")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    def progress(stage: str, frac: float) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:6.2f}s] {frac:4.0%} {stage}", file=sys.stderr)

    t0 = time.perf_counter()
    world = generate_world(args.n, args.seed, progress=progress)
    report: dict[str, object] = {"generate_s": round(time.perf_counter() - t0, 2)}
    if args.out is not None:
        t1 = time.perf_counter()
        paths = write_world(world, args.out, args.fmt)
        report["write_s"] = round(time.perf_counter() - t1, 2)
        report["paths"] = {k: str(v) for k, v in paths.items()}
    report["total_s"] = round(time.perf_counter() - t0, 2)
    report["summary"] = world.summary()
    if args.naive:
        from .naive import naive_report

        report["naive"] = {
            "payment+ip+device": naive_report(world),
            "payment": naive_report(world, kinds=("payment",)),
            "device": naive_report(world, kinds=("device",)),
            "ip": naive_report(world, kinds=("ip",)),
        }
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
