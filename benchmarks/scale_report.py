"""The scale benchmark's JSON, table and growth plot (benchmarks/scale.py writes them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.scale import STAGES, TARGETS

BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"


def merge_rows(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write ``rows`` into the JSON at ``path``, replacing earlier rows of the same size,
    seed and tag and keeping the others. Returns everything the file now holds."""
    new = {(r["accounts"], r["seed"], r["tag"]) for r in rows}
    old = json.loads(path.read_text()) if path.exists() else []
    kept = [r for r in old if (r["accounts"], r["seed"], r.get("tag", "current")) not in new]
    out = sorted([*kept, *rows], key=lambda r: (r.get("tag", "current"), r["accounts"]))
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def _gb(mb: float) -> str:
    return f"{mb / 1024:.2f}"


def stage_table(rows: list[dict[str, Any]]) -> str:
    """Wall s / CPU s / peak GB per stage, one column group per size."""
    head = (
        "| stage | "
        + " | ".join(
            f"{r['accounts']:,}: s (CPU s), GB" + (f" [{r['commit']}]" if r.get("commit") else "")
            for r in rows
        )
        + " |"
    )
    out = [head, "|---|" + "---|" * len(rows)]
    for name in STAGES:
        cells = [
            f"{r['stages'][name]['s']:.1f} ({r['stages'][name]['cpu_s']:.1f}), "
            f"{_gb(r['stages'][name]['peak_mb'])}"
            for r in rows
        ]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    total = [f"**{r['total_s']:.1f} ({r['cpu_s']:.1f}), {_gb(r['peak_mb'])}**" for r in rows]
    out.append("| **link, end to end** | " + " | ".join(total) + " |")
    return "\n".join(out)


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """Each stage's time over its reference's, measured in the same process: wall
    time (the reference's in brackets) and CPU time."""
    refs = {
        "ingest": "pyarrow.parquet.read_table of the same files",
        "prompts": "rensa alone on the distinct raw texts",
        "projection": "scipy triu(B @ B.T), the capped incidence matrix",
        "communities": "bare igraph community_leiden, same graph",
    }
    head = "| stage | reference | " + " | ".join(f"{r['accounts']:,}" for r in rows) + " |"
    out = [head, "|---|---|" + "---|" * len(rows)]
    for name, what in refs.items():
        cells = [
            f"{r['ratio'][name]:.2f}x ({r['reference_s'][name]:.1f} s); "
            + (f"CPU {r['ratio_cpu'][name]:.2f}x" if "ratio_cpu" in r else "CPU not measured")
            if name in r["ratio"]
            else "reference failed (see the worker log)"
            for r in rows
        ]
        out.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(rows: list[dict[str, Any]]) -> str:
    """The issue's done criteria against the largest and smallest sizes measured."""
    big, small = rows[-1], rows[0]
    # CPU seconds: steadier on a shared machine; NaN where a reference failed
    ratio = {"communities": float("nan"), "projection": float("nan")}
    ratio.update(big.get("ratio_cpu", big["ratio"]))
    growth = big["accounts"] / small["accounts"]
    time_x = big["total_s"] / small["total_s"]
    mem_x = big["peak_mb"] / small["peak_mb"]

    def mark(ok: bool) -> str:
        if big["accounts"] < 1_000_000:
            return "not measured at 1,000,000"
        return "met" if ok else "**not met**"

    lines = [
        f"- {big['accounts']:,} accounts end to end: {big['total_s']:.0f} s "
        f"(target {TARGETS['total_s']:.0f} s at 1,000,000: "
        f"{mark(big['total_s'] <= TARGETS['total_s'])}), peak {_gb(big['peak_mb'])} GB "
        f"(target 12 GB: {mark(big['peak_mb'] <= TARGETS['peak_mb'])});",
        f"- community detection {ratio['communities']:.2f}x the bare Leiden call in CPU "
        f"time (target {TARGETS['communities_ratio']}x: "
        f"{mark(ratio['communities'] <= TARGETS['communities_ratio'])});",
        _projection_line(rows, mark),
        f"- growth {small['accounts']:,} → {big['accounts']:,} ({growth:.0f}x the accounts): "
        f"{time_x:.1f}x the time, {mem_x:.1f}x the memory (targets for 10x: "
        f"{TARGETS['growth_time']:.0f}x and {TARGETS['growth_memory']:.0f}x).",
    ]
    if big["accounts"] < 1_000_000:
        lines.append("- 1,000,000 accounts were not measured in this run.")
    return "\n".join(lines)


def _projection_line(rows: list[dict[str, Any]], mark: Any) -> str:
    """The projection target, at the largest size whose reference fitted in memory."""
    fitted = [r for r in rows if "projection" in r.get("ratio_cpu", r["ratio"])]
    big = rows[-1]
    if not fitted:
        return "- projection: the plain sparse product did not fit in memory at any size;"
    at = fitted[-1]
    ratio = at.get("ratio_cpu", at["ratio"])["projection"]
    line = (
        f"- projection {ratio:.2f}x the plain sparse product in CPU time at "
        f"{at['accounts']:,} accounts (target {TARGETS['projection_ratio']}x: "
        f"{'met' if ratio <= TARGETS['projection_ratio'] else '**not met**'})"
    )
    if at is not big:
        line += (
            f"; at {big['accounts']:,} the product itself ran out of memory (see the worker "
            f"log), while the projection took {_projection_s(big):.0f} s"
        )
    return line + ";"


def _projection_s(row: dict[str, Any]) -> float:
    return sum(row["stages"][k]["s"] for k in ("pair expansion", "time evidence", "projection"))


def plot(rows_by_tag: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Log-log time and peak RSS against accounts, per tag; main stages dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for tag, rows in rows_by_tag.items():
        n = [r["accounts"] for r in rows]
        style = "-" if tag == "current" else "--"
        ax_t.plot(n, [r["total_s"] for r in rows], style, marker="o", label=f"link ({tag})")
        ax_m.plot(n, [r["peak_mb"] / 1024 for r in rows], style, marker="o", label=tag)
        if tag == "current":
            ax_t.plot(n, [r["cpu_s"] for r in rows], "-.", marker="x", label="link, CPU s")
            for name in ("prompts", "pair expansion", "projection", "communities"):
                ax_t.plot(n, [max(r["stages"][name]["s"], 0.01) for r in rows], ":", label=name)
    for ax, ylabel in ((ax_t, "wall seconds"), (ax_m, "peak RSS, GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("accounts")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax_t.axhline(TARGETS["total_s"], color="grey", lw=0.8)
    ax_m.axhline(TARGETS["peak_mb"] / 1024, color="grey", lw=0.8)
    fig.suptitle("sybil-linker link: growth with accounts (grey: the 1M targets)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_doc(rows: list[dict[str, Any]], doc: Path, image: Path, command: str) -> None:
    """Replace the generated part of ``doc`` (between the markers) and draw ``image``."""
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_tag.setdefault(r.get("tag", "current"), []).append(r)
    current = by_tag.get("current") or next(iter(by_tag.values()))
    plot(by_tag, image)
    parts = [
        BEGIN,
        f"_Generated by `{command}`; figures in benchmarks/results/scale.json._\n",
        f"![time and memory against accounts]({image.relative_to(doc.parent).as_posix()})\n",
        "#### Stages: wall seconds (CPU seconds), peak RSS while the stage ran\n",
        stage_table(current),
        "\n#### Against the references, measured in the same process\n",
        ratio_table(current),
        "\n#### The issue's targets\n",
        targets(current),
    ]
    for tag, tagged in by_tag.items():
        if tag == "current":
            continue
        parts += [
            f"\n#### Rows tagged `{tag}` (`--tag {tag}`)\n",
            stage_table(tagged),
            "",
            ratio_table(tagged),
        ]
    parts.append(END)
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(head + "\n".join(parts) + tail)
