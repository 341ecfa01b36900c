"""Expanders by signature against random expanders as worlds grow: link each generated
world with ``expander_order`` = random and = signature and score both against the
labels, into benchmarks/results/expander_scale.json and docs/img/expander-scale.png.

Usage: python benchmarks/expander_scale.py WORLD [WORLD ...] [--orders random signature]

WORLD: a generated world directory, e.g. the scale benchmark's cached
benchmarks/.cache/scale/accounts-300000-seed-1 (``make bench-scale`` writes them). A
world and order already in the results file is measured again and replaced; the others
are kept, so the 1M world can be measured on its own (it takes about 14 GB and 25-30
minutes per order on the 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.quality import measure  # noqa: E402
from linker.settings import LinkSettings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "expander_scale.json"
PICTURE = ROOT / "docs" / "img" / "expander-scale.png"


def _load() -> list[dict[str, Any]]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else []


def draw(rows: list[dict[str, Any]]) -> None:
    """Recall and hydra-tier recall against accounts, one line per order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for order, style in (("random", "o--"), ("signature", "s-")):
        mine = sorted((r for r in rows if r["order"] == order), key=lambda r: r["accounts"])
        if not mine:
            continue
        x = [r["accounts"] for r in mine]
        axes[0].plot(x, [r["recall"] for r in mine], style, label=f"{order} recall")
        axes[0].plot(
            x, [r["precision"] for r in mine], style, alpha=0.5, label=f"{order} precision"
        )
        axes[1].plot(x, [r["recall_by_tier"].get("hydra", 0) for r in mine], style, label=order)
    for ax, title in zip(axes, ("all campaigns", "hydra tier (rotates everything)"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("accounts (family (a), seed 1)")
        ax.set_ylim(0, 1.02)
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[1].set_ylabel("recall")
    fig.suptitle("Expanders of large identifiers: random partners vs partners by signature")
    fig.tight_layout()
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PICTURE, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="+", type=Path)
    parser.add_argument("--orders", nargs="+", default=["random", "signature"])
    args = parser.parse_args()
    rows = _load()
    for world in args.worlds:
        for order in args.orders:
            base = LinkSettings()
            settings = replace(base, linkage=replace(base.linkage, expander_order=order))
            with tempfile.TemporaryDirectory() as tmp:
                got = measure(world, Path(tmp), settings)
            got.pop("partition", None)
            row = {"world": world.name, "accounts": _accounts(world), "order": order, **got}
            rows = [r for r in rows if (r["world"], r["order"]) != (world.name, order)]
            rows.append(row)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(rows, indent=1))
            print(
                f"{world.name} {order:<9}: P {got['precision']:.3f} R {got['recall']:.3f} "
                f"hydra {got['recall_by_tier'].get('hydra', 0):.3f} reseller "
                f"{got['recall_by_tier'].get('reseller', 0):.3f} worst {got['worst_benign']} "
                f"F1/CC {got['f1_vs_cc']} ({got['link_s']} s)",
                flush=True,
            )
    draw(rows)
    print(f"wrote {RESULTS} and {PICTURE}")


def _accounts(world: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(world / "accounts.parquet").num_rows)


if __name__ == "__main__":
    main()
