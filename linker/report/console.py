"""Terminal output shared by the CLI commands: one rich console, progress, tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from linker.ingest.dataset import TableCounts

console = Console(stderr=False)


@contextmanager
def stage_progress() -> Iterator[Progress]:
    """A spinner with the current stage's description and the elapsed time."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress


def counts_table(counts: dict[str, TableCounts]) -> Table:
    """A table of rows read, kept and rejected per input table."""
    table = Table(title="Input tables")
    for col in ("table", "file", "read", "kept", "rejected"):
        table.add_column(col, justify="right" if col in ("read", "kept", "rejected") else "left")
    for name, c in counts.items():
        style = "red" if c.rejected else ""
        table.add_row(name, c.file, f"{c.read:,}", f"{c.kept:,}", f"{c.rejected:,}", style=style)
    return table


def top_clusters_table(clusters: pd.DataFrame, top: int) -> Table:
    """The riskiest clusters with their reasons."""
    table = Table(title=f"Top {top} clusters by risk", show_lines=True)
    for col in ("cluster", "size", "risk", "flagged", "reasons"):
        table.add_column(col)
    for row in clusters.head(top).itertuples():
        table.add_row(
            str(row.cluster_id),
            f"{row.size:,}",
            f"{row.risk:.2f}",
            "[red]yes[/]" if row.flagged else "no",
            "\n".join(list(row.reasons)),  # type: ignore[arg-type]
        )
    return table


def evaluation_table(ev: dict[str, Any]) -> Table:
    """Precision and recall against the labels, per tier and per benign group."""
    table = Table(
        title=f"Against labels: precision {ev['precision']:.3f}, recall "
        f"{ev['recall']:.3f} ({ev['flagged']:,} flagged, {ev['sybil']:,} sybil)"
    )
    table.add_column("group")
    table.add_column("accounts", justify="right")
    table.add_column("flagged", justify="right")
    for tier, v in ev.get("recall_by_tier", {}).items():
        table.add_row(f"sybil: {tier}", f"{v['accounts']:,}", f"{100 * v['recall']:.1f}%")
    for group, v in ev.get("flagged_by_group", {}).items():
        table.add_row(f"benign: {group}", f"{v['accounts']:,}", f"{100 * v['flagged_share']:.1f}%")
    return table
