"""Measure `link` on world family (b), generated worlds re-texted with real prompts,
next to the original worlds of the same seeds.

Usage (from the repository root): python -m benchmarks.families.family_b
       [--accounts 20000] [--seeds 1 2 3]

For each seed: generate the world, re-text it (:func:`retext_world`, seed = the world's
seed), then link the original and the re-texted world one after the other with the
default settings and evaluate both against the labels. Prints one line per run and
writes benchmarks/results/family_b.json (the worlds measured are replaced, the others
kept).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .retext import retext_world

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "family_b.json"


def recall_by_campaign(accounts: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Flagged share of each campaign's accounts (with its tier and size)."""
    joined = accounts.merge(labels, on="account_id")
    sy = joined[joined["label"] == "sybil"]
    return {
        str(cid): {
            "tier": str(g["tier"].iloc[0]),
            "accounts": len(g),
            "recall": round(float(g["flagged"].astype(bool).mean()), 4),
        }
        for cid, g in sy.groupby("campaign_id")
    }


def link_and_evaluate(data: Path, out: Path) -> dict[str, Any]:
    """Link ``data`` into an embedded store at ``out``; the figures against its labels."""
    from graph_store.embedded import EmbeddedStore
    from linker.pipeline import link
    from linker.scoring.evaluate import evaluate

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    result = link(data, EmbeddedStore(out), out_dir=out)
    link_s = time.perf_counter() - start
    labels = result.dataset.labels
    if labels is None:
        raise ValueError(f"{data}: the world has no labels table")
    ev = evaluate(result.run.accounts, labels)
    keep = ("precision", "recall", "f1", "average_precision", "campaign_ari", "flagged")
    return {
        **{k: ev[k] for k in keep if k in ev},
        "recall_by_tier": ev["recall_by_tier"],
        "flagged_by_group": ev["flagged_by_group"],
        "recall_by_campaign": recall_by_campaign(result.run.accounts, labels),
        "link_s": round(link_s, 2),
        "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
        # the machine is shared: its 1-minute load average before and after the run
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def measure(accounts: int, seed: int) -> dict[str, Any]:
    """Original and re-texted figures of one generated world."""
    from synth import generate_world, write_world

    with tempfile.TemporaryDirectory() as tmp:
        original, retexted = Path(tmp) / "original", Path(tmp) / "retexted"
        start = time.perf_counter()
        write_world(generate_world(accounts, seed), original)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        summary = retext_world(original, retexted, seed)
        retext_s = time.perf_counter() - start
        figures = {
            name: link_and_evaluate(data, Path(tmp) / f"out_{name}")
            for name, data in (("original", original), ("retexted", retexted))
        }
    summary.pop("pools")
    return {
        "accounts": accounts,
        "seed": seed,
        "generate_s": round(generate_s, 2),
        "retext_s": round(retext_s, 2),
        **figures,
        "retext": summary,
    }


def _line(r: dict[str, Any], name: str) -> str:
    f = r[name]
    hydra = f["recall_by_tier"].get("hydra", {}).get("recall", float("nan"))
    worst = max(f["flagged_by_group"].items(), key=lambda kv: kv[1]["flagged_share"])
    return (
        f"{r['accounts']:>7,} seed {r['seed']} {name:<9} link {f['link_s']:6.1f}s "
        f"P {f['precision']:.3f} R {f['recall']:.3f} hydra {hydra:.3f} "
        f"worst benign {worst[0]} {100 * worst[1]['flagged_share']:.1f}%"
    )


def main() -> None:
    """Measure the seeds asked for and merge them into benchmarks/results/family_b.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        r = measure(args.accounts, seed)
        results.append(r)
        print(_line(r, "original"), _line(r, "retexted"), sep="\n", flush=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    done = {(r["accounts"], r["seed"]) for r in results}
    kept = [r for r in old if (r["accounts"], r["seed"]) not in done]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(kept + results, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
