"""Pictures of a run (``risk.png``: cluster risk against the flag threshold) and of one
cluster (``explain``: its members and links, what they share, when they signed up and
were active). Each picture says what it shows: a title, a legend, the numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from graph_store.base import RunTables
from linker.report.investigate import KIND_ORDER, TEMPLATE_KIND, ClusterEvidence, busiest_window
from linker.scoring.reasons import shorten

#: one colour per identifier kind, as in the Neo4j Browser style (docs/neo4j/style.grass)
KIND_COLOURS = {
    "payment": "#f28e2b",
    "device": "#9467bd",
    "phone": "#8c564b",
    "email": "#e377c2",
    "ip": "#17becf",
    "ip_prefix": "#76d7e0",
    TEMPLATE_KIND: "#59a14f",
    "other": "#bab0ac",
}
RISK_CMAP = "coolwarm"
#: the most members and links a cluster picture draws (the most linked are kept)
MAX_DRAWN_MEMBERS = 400
MAX_DRAWN_EDGES = 4000
#: the most bars of shared identifiers and families
MAX_SHARED_BARS = 14
#: reasons in a cluster picture's header, and the characters of a header line
MAX_REASONS = 6
HEADER_CHARS = 165
DPI = 110
#: the seed of the network layout (a cluster is drawn the same way every time)
LAYOUT_SEED = 17


def _save(fig: Any, path: Path, title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Title": title, "Software": "sybil-linker"})
    plt.close(fig)
    return path


def _run_summary(run: RunTables, evaluation: dict[str, Any] | None) -> str:
    acc, clusters = run.accounts, run.clusters
    text = (
        f"{len(clusters):,} clusters, {int(clusters['flagged'].sum()):,} flagged; "
        f"{int(acc['flagged'].sum()):,} of {len(acc):,} accounts flagged"
    )
    if evaluation:
        text += (
            f"\nagainst the labels: precision {evaluation['precision']:.3f}, recall "
            f"{evaluation['recall']:.3f} ({evaluation['flagged']:,} flagged, "
            f"{evaluation['sybil']:,} sybil)"
        )
    return text


def plot_run(
    run: RunTables,
    labels: pd.DataFrame | None,
    path: Path,
    evaluation: dict[str, Any] | None = None,
) -> Path:
    """Save a two-panel PNG of ``run``: how cluster risk is distributed against the flag
    threshold, and cluster size against risk; coloured by the labels' verdict when
    ``labels`` exist, else by the flag. ``evaluation`` (precision, recall, flagged,
    sybil) goes into the header. Returns ``path``."""
    clusters = run.clusters
    threshold = float(run.meta.get("settings", {}).get("risk", {}).get("threshold", 0.5))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.6))
    bins = np.linspace(0, 1, 26)
    risk = clusters["risk"].to_numpy(float)
    if labels is not None:
        acc = run.accounts.dropna(subset=["cluster_id"]).merge(labels, on="account_id")
        sybil_share = (acc["label"] == "sybil").groupby(acc["cluster_id"]).mean()
        colour = clusters["cluster_id"].map(sybil_share).fillna(0).to_numpy(float)
        groups = [risk[colour < 0.5], risk[colour >= 0.5]]
        names = ["mostly benign members (labels)", "mostly sybil members (labels)"]
    else:
        flagged = clusters["flagged"].to_numpy(bool)
        colour = flagged.astype(float)
        groups = [risk[~flagged], risk[flagged]]
        names = ["not flagged", "flagged"]
    left.hist(groups, bins=bins, stacked=True, label=names, color=["tab:blue", "tab:red"])
    for ax in (left, right):
        ax.axvline(threshold, color="k", ls="--", lw=1.2, label=f"flag threshold {threshold:.2f}")
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("cluster risk")
    left.set_yscale("log")
    left.set_ylabel("clusters (log scale)")
    left.set_title("How many clusters at each risk")
    left.legend(loc="upper center", fontsize=9)
    points = right.scatter(
        risk, clusters["size"], c=colour, cmap=RISK_CMAP, vmin=0, vmax=1, s=14, alpha=0.75
    )
    right.set_yscale("log")
    right.set_ylabel("cluster size (accounts, log scale)")
    right.set_title("Size against risk: one dot per cluster")
    if labels is not None:
        fig.colorbar(points, ax=right, label="share of members labelled sybil")
        right.legend(loc="upper left", fontsize=9)
    else:
        handles = [
            Line2D([], [], ls="", marker="o", color=plt.get_cmap(RISK_CMAP)(v), label=name)
            for v, name in ((0.0, "not flagged"), (1.0, "flagged"))
        ]
        handles.append(Line2D([], [], color="k", ls="--", label=f"flag threshold {threshold:.2f}"))
        right.legend(handles=handles, loc="upper left", fontsize=9)
    title = "Cluster risk in a Sybil Linker run"
    fig.suptitle(
        f"{title}: which clusters cross the flag threshold", fontsize=14, weight="bold", y=0.98
    )
    fig.text(
        0.5,
        0.925,
        f"run {run.run_id}: " + _run_summary(run, evaluation),
        ha="center",
        va="top",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.87))
    return _save(fig, path, f"{title} {run.run_id}")


# --- one cluster ---------------------------------------------------------------------


def _drawn(evidence: ClusterEvidence) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The members and edges the network panel draws (the most linked, and the account
    asked about)."""
    members = evidence.members.sort_values(["links", "account_id"], ascending=[False, True])
    if evidence.focus is not None:
        mine = members["account_id"] == evidence.focus
        members = pd.concat([members[mine], members[~mine]])
    members = members.head(MAX_DRAWN_MEMBERS).reset_index(drop=True)
    keep = set(members["account_id"])
    edges = evidence.edges[evidence.edges["a"].isin(keep) & evidence.edges["b"].isin(keep)]
    edges = edges.sort_values("weight", ascending=False).head(MAX_DRAWN_EDGES)
    return members, edges


def _layout(n: int, pairs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Node positions, the same on every call for the same graph (igraph's layout draws
    from its random generator: a seeded one is lent to it, then the default restored)."""
    import random

    import igraph as ig

    if n == 1:
        return np.zeros((1, 2))
    graph = ig.Graph(n=n, edges=pairs.tolist())
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    seed = np.column_stack([np.cos(angle), np.sin(angle)]) * np.sqrt(n)
    ig.set_random_number_generator(random.Random(LAYOUT_SEED))
    try:
        layout = graph.layout_fruchterman_reingold(
            weights=weights.tolist() if len(weights) else None, seed=seed.tolist(), niter=600
        )
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(layout.coords, dtype=float)


def _network(ax: Axes, evidence: ClusterEvidence, fig: Any) -> None:
    members, edges = _drawn(evidence)
    index = {a: i for i, a in enumerate(members["account_id"])}
    pairs = np.array(
        [[index[a], index[b]] for a, b in zip(edges["a"], edges["b"], strict=True)], dtype=int
    ).reshape(-1, 2)
    pos = _layout(len(members), pairs, edges["weight"].to_numpy(float))
    kinds = edges["kind"].to_numpy()
    if len(pairs):
        segments = np.stack([pos[pairs[:, 0]], pos[pairs[:, 1]]], axis=1)
        colours = [KIND_COLOURS.get(k, KIND_COLOURS["other"]) for k in kinds]
        widths = 0.4 + 2.0 * edges["weight"].to_numpy(float)
        ax.add_collection(
            LineCollection(list(segments), colors=colours, linewidths=widths, alpha=0.45)
        )
    attached = members["attached"].to_numpy(bool)
    risk = members["risk"].to_numpy(float)
    points = ax.scatter(
        pos[~attached, 0],
        pos[~attached, 1],
        c=risk[~attached],
        cmap=RISK_CMAP,
        vmin=0,
        vmax=1,
        s=46,
        edgecolors="k",
        linewidths=0.4,
        zorder=3,
    )
    if attached.any():
        ax.scatter(
            pos[attached, 0],
            pos[attached, 1],
            facecolors="white",
            s=46,
            zorder=3,
            edgecolors=plt.get_cmap(RISK_CMAP)(risk[attached]),
            linewidths=1.6,
        )
    if evidence.focus is not None and evidence.focus in index:
        i = index[evidence.focus]
        ax.scatter(pos[i, 0], pos[i, 1], marker="*", s=420, c="gold", edgecolors="k", zorder=4)
        ax.annotate(evidence.focus, pos[i], xytext=(8, 8), textcoords="offset points", fontsize=9)
    bar = ax.inset_axes((0.62, 0.03, 0.34, 0.025))
    fig.colorbar(points, cax=bar, orientation="horizontal")
    bar.set_title("member's risk", fontsize=8.5)
    bar.tick_params(labelsize=8)
    present = [k for k in KIND_ORDER if k in set(kinds)]
    present += sorted(set(kinds) - set(present))
    handles = [
        Line2D([], [], color=KIND_COLOURS.get(k, KIND_COLOURS["other"]), lw=3, label=k)
        for k in present
    ]
    handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="k", label="attached member"))
    if evidence.focus is not None:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="*",
                ms=14,
                mfc="gold",
                mec="k",
                label="the account asked about",
            )
        )
    ax.legend(
        handles=handles,
        loc="upper left",
        fontsize=8,
        title="a link shares...",
        title_fontsize=8.5,
        framealpha=0.85,
    )
    drawn = (
        ""
        if len(members) == len(evidence.members)
        else (f" ({len(members):,} of {len(evidence.members):,} drawn: the most linked)")
    )
    ax.set_title(
        f"Members (dots) and their links (lines){drawn}\na link is coloured by the first "
        "kind in the legend that the pair shares; thicker: stronger",
        fontsize=10,
    )
    ax.set_axis_off()
    ax.autoscale()
    ax.margins(0.06)
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.12 * (high - low), high)  # room for the colour bar below the nodes


def _shared_bars(ax: Axes, evidence: ClusterEvidence) -> None:
    n = len(evidence.members)
    rows = [
        (str(r["kind"]), f"{r['kind']}  {r['value']}", int(r["members"]), r["all_accounts"])
        for r in evidence.shared.to_dict("records")
    ] + [
        (
            TEMPLATE_KIND,
            f"template  '{shorten(r['example'] or r['template_id'], 34)}'",
            int(r["members"]),
            np.nan,
        )
        for r in evidence.families.to_dict("records")
    ]
    rows = sorted(rows, key=lambda r: -r[2])[:MAX_SHARED_BARS]
    if not rows:
        ax.text(
            0.5,
            0.5,
            "no value shared by two or more members was recorded",
            ha="center",
            va="center",
            fontsize=10,
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [r[2] for r in rows], color=[KIND_COLOURS.get(r[0], "#bab0ac") for r in rows])
    ax.set_yticks(y, [r[1] for r in rows], fontsize=9)
    for yi, (_, _, k, everyone) in zip(y, rows, strict=True):
        note = f"{k:,} of {n:,}" + ("" if pd.isna(everyone) else f"  ({int(everyone):,} in all)")
        ax.text(k, yi, "  " + note, va="center", fontsize=8.5)
    ax.set_xlim(0, max(r[2] for r in rows) * 1.5)
    ax.set_xlabel(f"members sharing it (of {n:,})")
    masked = "values masked" if evidence.masked else "values shown"
    ax.set_title(f"What the members share ({masked}; 'in all': accounts in the input)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def _timeline(ax: Axes, evidence: ClusterEvidence) -> None:
    if not evidence.has_activity:
        ax.text(
            0.5,
            0.5,
            textwrap.fill(f"No activity over time: {evidence.activity_note}", 110),
            ha="center",
            va="center",
            fontsize=10,
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return
    members = evidence.members.dropna(subset=["created_at"]).sort_values("created_at")
    created = pd.to_datetime(members["created_at"], utc=True).dt.tz_localize(None)
    first = pd.to_datetime(members["first_seen"], utc=True).dt.tz_localize(None)
    last = pd.to_datetime(members["last_seen"], utc=True).dt.tz_localize(None)
    y = np.arange(len(members))
    spans = first.notna() & last.notna()
    ax.hlines(
        y[spans.to_numpy()],
        first[spans],
        last[spans],
        color="0.45",
        lw=float(np.clip(250 / max(len(members), 1), 0.4, 1.5)),
        alpha=0.55,
        label="active: first to last use of an identifier",
    )
    ax.scatter(
        created,
        y,
        c=members["risk"],
        cmap=RISK_CMAP,
        vmin=0,
        vmax=1,
        s=18,
        edgecolors="k",
        linewidths=0.3,
        zorder=3,
        label="signup (colour: account risk)",
    )
    n, start, _ = busiest_window(members["created_at"])
    if n >= 2 and start is not None:
        ax.axvline(
            start.tz_localize(None),
            color="tab:red",
            ls=":",
            lw=1.5,
            label=f"busiest 2 hours: {n:,} of {len(members):,} signups ({start:%Y-%m-%d})",
        )
    if evidence.focus is not None:
        mine = (members["account_id"] == evidence.focus).to_numpy()
        if mine.any():
            ax.scatter(
                created[mine],
                y[mine],
                marker="*",
                s=260,
                c="gold",
                edgecolors="k",
                zorder=4,
                label=f"{evidence.focus}",
            )
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("members, by signup")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("When the members signed up and were active (UTC)", fontsize=10)
    ax.legend(loc="best", fontsize=8.5, framealpha=0.9)
    ax.spines[["top", "right"]].set_visible(False)


def _reason_text(evidence: ClusterEvidence) -> list[str]:
    """The header's lines: the run, then each reason wrapped (at most ``MAX_REASONS``)."""
    lines = [f"Why (run {evidence.run_id}):"]
    for reason in evidence.reasons[:MAX_REASONS]:
        lines += textwrap.wrap(f"• {reason.text}", HEADER_CHARS, subsequent_indent="   ")
    if len(evidence.reasons) > MAX_REASONS:
        lines.append(f"   and {len(evidence.reasons) - MAX_REASONS} more (sybil-linker explain)")
    return lines


def _header(fig: Any, evidence: ClusterEvidence, lines: list[str]) -> None:
    c = evidence.cluster
    attached = int(c.get("n_attached", 0) or 0)
    flag = "FLAGGED" if c["flagged"] else "not flagged"
    fig.suptitle(
        f"Cluster {evidence.cluster_id}: risk {c['risk']:.2f}, {flag} "
        f"(threshold {evidence.threshold:.2f}); {len(evidence.members):,} members"
        + (f", {attached:,} attached by template alone" if attached else ""),
        fontsize=15,
        weight="bold",
        color="tab:red" if c["flagged"] else "k",
        y=0.985,
    )
    fig.text(0.02, 0.945, "\n".join(lines), ha="left", va="top", fontsize=10.5, linespacing=1.45)


def plot_cluster(evidence: ClusterEvidence, path: Path) -> Path:
    """Save a picture of one cluster: a header with its risk and reasons, its members
    and their links (coloured by risk and by what each pair shares), the identifiers
    and template families they share, and their signups and activity over time.
    Returns ``path``."""
    lines = _reason_text(evidence)
    top = 0.9 - 0.0185 * len(lines)  # a line of the header is about 0.0185 of the height
    fig = plt.figure(figsize=(16, 11.5))
    grid = fig.add_gridspec(
        2,
        2,
        height_ratios=[1.35, 1],
        width_ratios=[1, 1],
        top=top,
        bottom=0.05,
        left=0.04,
        right=0.98,
        hspace=0.22,
        wspace=0.45,
    )
    _header(fig, evidence, lines)
    _network(fig.add_subplot(grid[0, 0]), evidence, fig)
    _shared_bars(fig.add_subplot(grid[0, 1]), evidence)
    _timeline(fig.add_subplot(grid[1, :]), evidence)
    return _save(fig, path, f"Cluster {evidence.cluster_id} of run {evidence.run_id}")
