"""Draws docs/img/graph-model.png: the labels and relationship types of the Neo4j graph.

    python docs/neo4j/graph_model.py [OUT.png]

``EDGES`` is the picture's content; tests/neo4j/test_cookbook.py checks it against the
(label, type, label) triples of a linked world in the real server, so the picture
cannot drift from what the store writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: (from label, relationship type, to label), as the store writes them
EDGES: list[tuple[str, str, str]] = [
    ("Account", "PAID_WITH", "PaymentInstrument"),
    ("Account", "USED_IP", "IP"),
    ("Account", "USED_DEVICE", "Device"),
    ("Account", "SENT_TEMPLATE", "PromptTemplate"),
    ("Account", "HAS_IDENTIFIER", "Identifier"),
    ("Account", "MEMBER_OF", "Cluster"),
    ("Account", "SCORED", "Run"),
    ("Account", "LINKED", "Account"),
    ("Cluster", "IN_RUN", "Run"),
]
#: labels without relationships (IPRange is matched to IP addresses by the linker, by
#: longest prefix, not by a relationship; RunPointer names runs by id)
LONE = ["IPRange", "RunPointer"]

#: label -> (x, y, colour of docs/neo4j/style.grass)
LAYOUT: dict[str, tuple[float, float, str]] = {
    "Account": (0.0, 0.0, "#4C8EDA"),
    "PaymentInstrument": (-2.3, 1.6, "#F79767"),
    "IP": (-2.9, 0.45, "#57C7E3"),
    "Device": (-2.9, -0.7, "#C990C0"),
    "PromptTemplate": (-2.3, -1.8, "#8DCC93"),
    "Identifier": (-0.6, -2.3, "#ECB5C9"),
    "Cluster": (2.2, 1.1, "#D9534F"),
    "Run": (2.6, -1.1, "#6C757D"),
    "IPRange": (-3.9, 1.6, "#FFE081"),
    "RunPointer": (4.3, -1.1, "#FFC454"),
}
NOTES = {
    "Account": "account_id, created_at,\nemail_domain, country, org_id,\ncluster_id, risk, flagged",
    "Cluster": "(run_id, cluster_id),\nsize, risk, flagged, reasons",
    "Run": "run_id, status, meta",
    "RunPointer": "name: 'latest',\nrun_id, previous",
    "IPRange": "cidr, asn, category",
    "IP": "value, prefix",
    "Identifier": "(kind, value)",
}


def draw(out: Path) -> Path:
    """Render the diagram to ``out`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.patches import FancyArrowPatch

    graph = nx.MultiDiGraph()
    graph.add_nodes_from(LAYOUT)
    for a, rel, b in EDGES:
        graph.add_edge(a, b, label=rel)
    pos = {label: (x, y) for label, (x, y, _) in LAYOUT.items()}
    fig, ax = plt.subplots(figsize=(13, 7.5), dpi=110)
    ax.set_axis_off()
    for a, b, data in graph.edges(data=True):
        if a == b:  # LINKED: a loop above Account
            x, y = pos[a]
            ax.add_patch(
                FancyArrowPatch(
                    (x - 0.25, y + 0.35),
                    (x + 0.25, y + 0.35),
                    connectionstyle="arc3,rad=-1.6",
                    arrowstyle="-|>",
                    mutation_scale=14,
                    color="#B52B27",
                    lw=1.6,
                )
            )
            ax.text(x, y + 1.05, "LINKED {run_id, weight, evidence}", ha="center", fontsize=9)
            continue
        ax.annotate(
            "",
            xy=pos[b],
            xytext=pos[a],
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555555",
                "lw": 1.4,
                "shrinkA": 34,
                "shrinkB": 48 if b == "Cluster" else 40,
                "mutation_scale": 14,
            },
        )
        (xa, ya), (xb, yb) = pos[a], pos[b]
        at = 0.45 if b == "Cluster" else 0.62  # clear of the arrow heads and LINKED
        ax.text(
            xa + at * (xb - xa),
            ya + at * (yb - ya) + 0.1,
            data["label"],
            ha="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    for label, (x, y, colour) in LAYOUT.items():
        ax.scatter(
            [x],
            [y],
            s=3600 if label in ("Account", "Cluster") else 2600,
            c=colour,
            edgecolors="#333333",
            linewidths=1.2,
            zorder=3,
        )
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=9 if len(label) < 12 else 7.5,
            fontweight="bold",
            zorder=4,
        )
        if label in NOTES:
            above = label == "Cluster"  # below it, the note would hide MEMBER_OF's arrow
            ax.text(
                x,
                y + 0.45 if above else y - 0.42,
                NOTES[label],
                ha="center",
                va="bottom" if above else "top",
                fontsize=7.5,
                color="#333333",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
            )
    (xp, yp), (xr, yr) = pos["RunPointer"], pos["Run"]
    ax.annotate(
        "",
        xy=(xr, yr),
        xytext=(xp, yp),
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#999999",
            "lw": 1.2,
            "ls": "--",
            "shrinkA": 30,
            "shrinkB": 34,
            "mutation_scale": 12,
        },
    )
    ax.text(
        (xp + xr) / 2,
        yp + 0.12,
        "run_id / previous\n(by value)",
        ha="center",
        fontsize=8,
        color="#666666",
    )
    ax.text(
        -2.2,
        -3.05,
        "identifier relationships carry n_obs, first_seen, last_seen, "
        "strength (and windows for IPs)",
        fontsize=8.5,
        color="#333333",
    )
    ax.set_xlim(-4.8, 5.2)
    ax.set_ylim(-3.3, 2.5)
    ax.set_title("Sybil Linker graph model in Neo4j", fontsize=13)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "img" / "graph-model.png"
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
