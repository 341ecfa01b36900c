"""Fit the unsupervised risk model's weights on some world families and compare them
with the hand-set weights on the others (issue 13: "weights are fitted, not hand-set:
fit them on some families and report on the others").

    python benchmarks/fit_weights.py [--accounts 20000] [--train a:1 no_ts:1]
        [--test b:2 b:3 no_org:2 no_ts:2 no_ip_info:1 heavy_hubs:3] [--prior 0 0.01]
        [--no-doc]

Each training world is linked with the default settings; its clusters with labelled
members are the fitting data (linker/scoring/fit.py: binomial likelihood per cluster,
each weight keeping the hand-set weight's sign, ``--prior`` pulling toward the hand-set
weights). Each test world is then linked with the hand-set weights and with each fitted
set, and scored on its labels as ``make quality`` does. Writes
benchmarks/results/fit_weights.json and, unless ``--no-doc``, a table into
docs/quality.md (between markers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.quality import FAMILY_NAMES, measure  # noqa: E402
from benchmarks.variants import family_world  # noqa: E402
from graph_store.embedded import EmbeddedStore  # noqa: E402
from linker.pipeline import link  # noqa: E402
from linker.scoring.fit import cluster_rows, fit_weights  # noqa: E402
from linker.settings import LinkSettings  # noqa: E402
from synth import generate_world, write_world  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "fit_weights.json"
DOC = ROOT / "docs" / "quality.md"
BEGIN, END = "<!-- fit-weights:begin -->", "<!-- fit-weights:end -->"


def world(spec: str, accounts: int, tmp: Path) -> Path:
    """The world of ``family:seed`` under ``tmp`` (the generated base shared by seed)."""
    family, seed_text = spec.split(":")
    seed = int(seed_text)
    base = tmp / f"a{seed}"
    if not base.exists():
        write_world(generate_world(accounts, seed), base)
    out = tmp / f"{family}{seed}"
    if family != "a" and not out.exists():
        family_world(base, family, out, seed)
    return base if family == "a" else out


def with_weights(weights: dict[str, float]) -> LinkSettings:
    s = LinkSettings()
    return dataclasses.replace(s, risk=dataclasses.replace(s.risk, weights=dict(weights)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--train", nargs="+", default=["a:1", "no_ts:1"])
    parser.add_argument(
        "--test",
        nargs="+",
        default=["b:2", "b:3", "no_org:2", "no_ts:2", "no_ip_info:1", "heavy_hubs:3"],
    )
    parser.add_argument("--prior", type=float, nargs="+", default=[0.0, 0.01])
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    hand = LinkSettings().risk.weights
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        parts = []
        for spec in args.train:
            path = world(spec, args.accounts, tmp)
            result = link(path, EmbeddedStore(tmp / f"out-{spec}"))
            assert result.dataset.labels is not None
            run = result.run
            parts.append(
                cluster_rows(run.clusters, run.accounts, result.dataset.labels, LinkSettings().risk)
            )
            print(f"train {spec}: {len(parts[-1][0])} labelled clusters", flush=True)
        rows = pd.concat([p[0] for p in parts]).fillna(0.0)
        sybil = np.concatenate([p[1] for p in parts])
        members = np.concatenate([p[2] for p in parts])
        fitted = {f"prior {p:g}": fit_weights(rows, sybil, members, hand, p) for p in args.prior}
        tests: list[dict[str, Any]] = []
        for spec in args.test:
            path = world(spec, args.accounts, tmp)
            row: dict[str, Any] = {"world": spec}
            for name, weights in [("hand", hand), *fitted.items()]:
                got = measure(path, tmp / f"test-{spec}-{name}", with_weights(weights))
                got.pop("partition")
                row[name] = {
                    k: got[k] for k in ("precision", "recall", "average_precision", "worst_benign")
                }
                row[name]["hydra"] = got["recall_by_tier"].get("hydra")
                print(f"test {spec} {name}: {_cell(row[name])}", flush=True)
            tests.append(row)
    report = {
        "accounts": args.accounts,
        "train": args.train,
        "hand": hand,
        "fitted": {k: {n: round(v, 3) for n, v in w.items()} for k, w in fitted.items()},
        "tests": tests,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if not args.no_doc:
        _write_doc(report)


def _cell(m: dict[str, Any]) -> str:
    hydra = "-" if m["hydra"] is None else f"{m['hydra']:.2f}"
    return (
        f"{m['precision']:.3f} / {m['recall']:.3f} / {m['average_precision']:.3f} / {hydra} "
        f"/ {m['worst_benign'][0]} {100 * m['worst_benign'][1]:.1f}%"
    )


def _name(spec: str) -> str:
    family, seed = spec.split(":")
    return f"{FAMILY_NAMES[family]} seed {seed}"


def _write_doc(report: dict[str, Any]) -> None:
    sets = ["hand", *report["fitted"]]
    train = ", ".join(_name(s) for s in report["train"])
    lines = [
        BEGIN,
        f"_Generated by `python benchmarks/fit_weights.py`; figures in "
        f"benchmarks/results/fit_weights.json. Fitted on {train} "
        f"({report['accounts']:,} accounts each); each cell: precision / recall / AP / hydra "
        f"recall / worst benign group._",
        "",
        "| weight | hand | " + " | ".join(f"fitted, {k}" for k in report["fitted"]) + " |",
        "|---|---:|" + "---:|" * len(report["fitted"]),
    ]
    for name, value in report["hand"].items():
        fitted = " | ".join(f"{w[name]:.2f}" for w in report["fitted"].values())
        lines.append(f"| `{name}` | {value:.2f} | {fitted} |")
    lines += ["", "| held-out world | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for row in report["tests"]:
        lines.append(f"| {_name(row['world'])} | " + " | ".join(_cell(row[s]) for s in sets) + " |")
    lines.append(END)
    text = DOC.read_text()
    block = "\n".join(lines)
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
