"""Draws docs/img/architecture.png: the stages of a link run, what each hands to the
next, the stores and what reads them.

    python docs/architecture_diagram.py [OUT.png]

The picture is drawn from the tables below (``STAGES``, ``HANDOFFS``); docs/architecture.md
explains every box. Needs matplotlib (the ``plots`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

#: the stage row, left to right: (title, package, what it does, settings section)
STAGES: list[tuple[str, str, str, str]] = [
    (
        "input files",
        "DATA/",
        "accounts, signals,\nprompts, ip_info, labels\n(csv, jsonl, parquet, .gz)",
        "",
    ),
    (
        "ingest",
        "linker/ingest/",
        "validate against the\ncontract, normalise,\nkeep rejected rows,\nstream prompts",
        "",
    ),
    (
        "prompts",
        "linker/prompts/",
        "mask, MinHash/LSH\ntemplate families, intent;\noptional join by meaning",
        "[prompt]\n[semantic_stage]",
    ),
    (
        "evidence",
        "linker/evidence/",
        "identifier table,\ncapped pairs, time,\ncorroboration, noisy-OR",
        "[linkage]",
    ),
    (
        "clustering",
        "linker/clustering/",
        "Leiden / Louvain / comp.\n(linker/graph.py),\nattachment, stable ids",
        "[community]",
    ),
    (
        "scoring",
        "linker/scoring/",
        "cluster features, risk\nmodel, account risk,\nreasons",
        "[risk]",
    ),
]
#: the hand-off on the arrow from stage i to stage i + 1
HANDOFFS: list[str] = [
    "files",
    "Dataset",
    "Prompt-\nAnalysis",
    "Projection",
    "labels,\ncluster ids",
]

# colours
LINKER = "#EAF2FB"
STORE = "#FDF1E4"
CONSUMER = "#EEF7EE"
BOX = "white"
EDGE = "#33475B"
INK = "#1B1B1B"
MUTED = "#5A6B7B"
ACCENT = "#2E6DB4"

# geometry (data units; the axes are 20 x 11.25, 16:9)
LEFT, RIGHT = 0.4, 19.6
BOX_W = 2.1
GAP = (RIGHT - LEFT - len(STAGES) * BOX_W) / (len(STAGES) - 1)
ROW_Y, ROW_H = 7.05, 2.55


def _stage_x(i: int) -> float:
    return LEFT + i * (BOX_W + GAP)


def draw(out: Path) -> Path:
    """Render the diagram to ``out`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig = plt.figure(figsize=(16, 9), dpi=150)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 20)
    ax.set_ylim(0, 11.25)
    ax.axis("off")

    def band(y0: float, y1: float, colour: str, title: str) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (0.15, y0),
                19.7,
                y1 - y0,
                boxstyle="round,pad=0,rounding_size=0.15",
                facecolor=colour,
                edgecolor="none",
                zorder=0,
            )
        )
        ax.text(0.35, y1 - 0.12, title, ha="left", va="top", fontsize=10.5, color=MUTED)

    def box(
        x: float,
        y: float,
        w: float,
        h: float,
        title: str,
        package: str = "",
        body: str = "",
        foot: str = "",
        dashed: bool = False,
    ) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=BOX,
                edgecolor=EDGE,
                linewidth=1.4,
                linestyle="--" if dashed else "-",
                zorder=2,
            )
        )
        cx = x + w / 2
        ax.text(
            cx,
            y + h - 0.22,
            title,
            ha="center",
            va="top",
            fontsize=12.5,
            fontweight="bold",
            color=INK,
            zorder=3,
        )
        if package:
            ax.text(
                cx,
                y + h - 0.62,
                package,
                ha="center",
                va="top",
                fontsize=9.5,
                family="monospace",
                color=ACCENT,
                zorder=3,
            )
        if body:
            ax.text(
                cx,
                y + h - 0.98,
                body,
                ha="center",
                va="top",
                fontsize=8.6,
                color=INK,
                linespacing=1.3,
                zorder=3,
            )
        if foot:
            ax.text(
                cx,
                y + 0.14,
                foot,
                ha="center",
                va="bottom",
                fontsize=8.2,
                family="monospace",
                color=MUTED,
                zorder=3,
            )

    def arrow(
        start: tuple[float, float],
        end: tuple[float, float],
        label: str = "",
        label_at: tuple[float, float] | None = None,
        dashed: bool = False,
        both: bool = False,
        ha: str = "center",
    ) -> None:
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="<|-|>" if both else "-|>",
                mutation_scale=16,
                linewidth=1.6,
                linestyle="--" if dashed else "-",
                color=EDGE,
                shrinkA=2,
                shrinkB=2,
                zorder=1,
            )
        )
        if label:
            lx, ly = label_at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12)
            ax.text(
                lx,
                ly,
                label,
                ha=ha,
                va="bottom",
                fontsize=9.2,
                fontweight="bold",
                color=ACCENT,
                linespacing=1.15,
                zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85},
            )

    ax.text(
        10,
        11.0,
        "Sybil Linker: one link run",
        ha="center",
        va="top",
        fontsize=16,
        fontweight="bold",
        color=INK,
    )

    # -- linker: the stage row and the settings strip --------------------------------
    band(
        5.25,
        10.5,
        LINKER,
        "linker/   pipeline.py: link(data_dir, store, settings) -> RunResult   "
        "(cli.py: sybil-linker generate | validate | link | demo | neo4j)",
    )
    mid = ROW_Y + ROW_H / 2
    for i, (title, package, body, foot) in enumerate(STAGES):
        box(_stage_x(i), ROW_Y, BOX_W, ROW_H, title, package, body, foot, dashed=i == 0)
    for i, label in enumerate(HANDOFFS):
        x0 = _stage_x(i) + BOX_W
        arrow((x0, mid), (x0 + GAP, mid), label, (x0 + GAP / 2, mid + 0.14))
    # inside evidence: LinkInput -> Projection
    ev = _stage_x(3)
    ax.text(
        ev + BOX_W / 2,
        ROW_Y + 0.55,
        "LinkInput -> Projection",
        ha="center",
        va="bottom",
        fontsize=8.2,
        family="monospace",
        color=ACCENT,
        zorder=3,
    )

    box(0.4, 5.4, 9.9, 1.4, "")
    ax.text(
        0.6,
        6.62,
        "linker/settings.py",
        ha="left",
        va="top",
        fontsize=10.5,
        family="monospace",
        color=ACCENT,
        fontweight="bold",
    )
    ax.text(
        0.6,
        6.2,
        "LinkSettings = [linkage] [community] [risk] [prompt] [semantic_stage]:\n"
        "defaults, then link --config FILE.toml, then the CLI options given;\n"
        "unknown keys are errors; recorded whole in run.json",
        ha="left",
        va="top",
        fontsize=8.8,
        color=INK,
        linespacing=1.3,
    )

    # -- graph_store: the protocol and the two stores --------------------------------
    band(2.65, 5.05, STORE, "graph_store/")
    box(
        0.4,
        2.85,
        7.4,
        1.75,
        "GraphStore protocol",
        "graph_store/base.py",
        "write_run, latest_run, latest_run_id, previous_assignment, close;\n"
        "InputGraphStore (Neo4j): load_input, read_input (InputTables);\n"
        "open_store('embedded' | file:///dir | neo4j://...)",
    )
    neo_x, neo_w = ev - 0.35, BOX_W + 0.7
    box(
        neo_x,
        2.85,
        neo_w,
        1.75,
        "Neo4j",
        "graph_store/neo4j/",
        "signal graph + runs,\nlatest pointer moved\natomically",
    )
    emb_x, emb_w = 15.0, 4.6
    box(
        emb_x,
        2.85,
        emb_w,
        1.75,
        "embedded (default)",
        "graph_store/embedded.py",
        "OUT/accounts|clusters|edges.parquet\n+ run.json (written last)",
    )

    # scoring -> stores: RunTables
    sc = _stage_x(5) + BOX_W / 2
    arrow((sc, ROW_Y), (sc, 4.6), "RunTables\nwrite_run()", (sc + 0.1, 4.75), ha="left")
    arrow((sc, 5.02), (neo_x + neo_w, 4.35))
    ax.text(
        14.05,
        4.25,
        "--store\nneo4j://",
        ha="center",
        va="top",
        fontsize=8.2,
        family="monospace",
        color=MUTED,
    )
    # evidence <-> Neo4j: the input graph goes through the store
    arrow((ev + 0.55, ROW_Y), (ev + 0.55, 4.6), dashed=True, both=True)
    ax.text(
        ev + 0.7,
        6.1,
        "Neo4j only: load_input /\nread_input, LinkInput <->\nInputTables",
        ha="left",
        va="center",
        fontsize=8.2,
        color=ACCENT,
        fontweight="bold",
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85},
    )

    # -- consumers --------------------------------------------------------------------
    band(0.15, 2.45, CONSUMER, "readers of a run")
    box(
        neo_x - 0.6,
        0.3,
        3.0,
        1.75,
        "Neo4j Browser",
        "docs/analyst-guide.md",
        "Cypher cookbook,\nstyle file",
    )
    box(
        13.1,
        0.3,
        3.3,
        1.75,
        "API",
        "api/",
        "create_app(settings, store):\nlatest_run() -> Snapshot",
    )
    box(16.9, 0.3, 2.7, 1.75, "CLI", "linker/cli.py", "report/: tables,\nevaluation, risk.png")
    arrow((neo_x + 0.95, 2.85), (neo_x + 0.95, 2.05), "Cypher", (neo_x + 1.05, 2.25), ha="left")
    arrow((neo_x + neo_w - 0.3, 2.85), (13.6, 2.05))
    arrow((emb_x + 0.6, 2.85), (15.3, 2.05))
    arrow((emb_x + 3.4, 2.85), (18.25, 2.05), "RunResult", (18.4, 2.25), ha="left")

    ax.text(
        0.4,
        1.75,
        "Imports flow one way:  api  ->  linker  ->  graph_store,\n"
        "and inside linker each stage imports only the ones before it\n"
        "(import-linter contracts in pyproject.toml [tool.importlinter],\n"
        "run by tests/test_architecture.py). synth/ is imported only by\n"
        "the CLI's generate and demo, the tests and the benchmarks.",
        ha="left",
        va="top",
        fontsize=9.2,
        color=INK,
        linespacing=1.4,
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150, facecolor="white")
    plt.close(fig)
    return out


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parent / "img" / "architecture.png"
    out = Path(argv[1]) if len(argv) > 1 else default
    print(draw(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
