"""The ``sybil-linker`` command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from linker import __version__
from linker.console import console, counts_table, stage_progress
from linker.errors import LinkerError

app = typer.Typer(
    name="sybil-linker",
    help="Find coordinated Sybil account clusters from payment, IP, device and prompt signals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(err: Exception) -> typer.Exit:
    """Print a project error in one clear line and return the exit to raise."""
    console.print(f"[bold red]error:[/] {err}")
    return typer.Exit(code=2)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the world into.")],
    accounts: Annotated[int, typer.Option(help="Total number of accounts.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
) -> None:
    """Generate a synthetic world (benign confounders + distillation campaigns) with labels."""
    from linker.synth import generate_world, write_world

    if fmt not in ("parquet", "csv", "jsonl"):
        raise fail(LinkerError(f"--format must be parquet, csv or jsonl, not {fmt!r}"))
    start = time.perf_counter()
    with stage_progress() as progress:
        task = progress.add_task("generating world", total=None)

        def report(stage: str, _fraction: float) -> None:
            progress.update(task, description=f"generating world: {stage}")

        world = generate_world(accounts, seed, progress=report)
        progress.update(task, description="writing files")
        paths = write_world(world, out_dir, fmt=fmt)
    elapsed = time.perf_counter() - start
    n_sybil = int((world.labels["label"] == "sybil").sum())
    console.print(
        f"wrote {len(world.accounts):,} accounts ({n_sybil:,} sybil), "
        f"{len(world.signals):,} signals, {len(world.prompts):,} prompts "
        f"to {out_dir} in {elapsed:.1f}s"
    )
    for name, path in paths.items():
        console.print(f"  {name}: {path}")


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="Input directory (accounts, signals, ...).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write rejected.csv (default: DATA/_validation).")
    ] = None,
) -> None:
    """Read and validate an input directory; report counts and write the rejected rows."""
    from linker.ingest import load_dataset, write_rejected

    try:
        with stage_progress() as progress:
            task = progress.add_task("validating", total=None)
            dataset = load_dataset(data, progress=lambda m: progress.update(task, description=m))
    except LinkerError as err:
        raise fail(err) from err
    console.print(counts_table(dataset.counts))
    path = write_rejected(dataset.rejected, out or data / "_validation")
    n_bad = len(dataset.rejected)
    if n_bad:
        console.print(f"[yellow]{n_bad:,} problems; rejected rows written to {path}[/]")
        for row in dataset.rejected.head(5).itertuples():
            console.print(f"  {row.file} row {row.row}, column {row.column!r}: {row.reason}")
    else:
        console.print(f"[green]all rows valid[/] (empty {path.name} written to {path.parent})")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    """Entry point of the console script."""
    app()
