"""Terminal output shared by the CLI commands: one rich console, progress, tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from linker.ingest import TableCounts

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
