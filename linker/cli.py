"""The ``sybil-linker`` command line."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from graph_store.base import GraphStoreError
from linker import __version__
from linker.errors import LinkerError
from linker.neo4j_commands import neo4j_app
from linker.report.console import console, counts_table, fail, link_summary, stage_progress

if TYPE_CHECKING:
    from graph_store.base import GraphStore
    from linker.pipeline import RunResult
    from linker.settings import LinkSettings

#: problems printed by ``validate``; the rest are counted ("and N more") and in rejected.csv
SHOWN_PROBLEMS = 5

app = typer.Typer(
    name="sybil-linker",
    help="Find coordinated Sybil account clusters from payment, IP, device and prompt signals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the world into.")],
    accounts: Annotated[int, typer.Option(help="Total number of accounts.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
) -> None:
    """Generate a synthetic world (benign confounders + distillation campaigns) with labels."""
    from synth import generate_world, write_world

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
    from linker.ingest.dataset import absorb_prompt_stream, load_dataset, write_rejected

    try:
        with stage_progress() as progress:
            task = progress.add_task("validating", total=None)
            dataset = load_dataset(
                data, progress=lambda m: progress.update(task, description=m), stream_prompts=True
            )
            if dataset.prompt_stream is not None:
                rows = 0
                for batch in dataset.prompt_stream:
                    rows += len(batch)
                    progress.update(task, description=f"validating prompts: {rows:,} valid rows")
                absorb_prompt_stream(dataset)
    except LinkerError as err:
        raise fail(err) from err
    console.print(counts_table(dataset.counts))
    path = write_rejected(dataset.rejected, out or data / "_validation")
    n_bad = len(dataset.rejected)
    if n_bad:
        console.print(
            f"[yellow]{n_bad:,} problems; rejected rows written to {escape(str(path))}[/]"
        )
        for row in dataset.rejected.head(SHOWN_PROBLEMS).itertuples():
            console.print(
                escape(f"  {row.file} row {row.row}, column {row.column!r}: {row.reason}"),
                soft_wrap=True,
                highlight=False,
            )
        if n_bad > SHOWN_PROBLEMS:
            console.print(
                escape(f"  ... and {n_bad - SHOWN_PROBLEMS:,} more in {path}"), soft_wrap=True
            )
    else:
        console.print(
            f"[green]all rows valid[/] (empty {escape(path.name)} written to "
            f"{escape(str(path.parent))})"
        )


def _link_settings(config: Path | None, **options: Any) -> LinkSettings:
    """The run's settings: the defaults, then ``config`` (a TOML file), then every
    command-line option that was given (``None``: not given)."""
    from linker.settings import LinkSettings, load_settings
    from linker.settings.options import with_options

    return with_options(load_settings(config) if config is not None else LinkSettings(), **options)


def open_store(spec: str, out: Path) -> GraphStore:
    """The store named by ``--store`` (:func:`graph_store.open_store`); raises
    :class:`LinkerError` for one it cannot open."""
    import graph_store

    try:
        return graph_store.open_store(spec, out)
    except graph_store.StoreSpecError as err:
        raise LinkerError(f"--store: {err}") from err


#: files of a run in OUT besides the tables and run.json; a new run replaces or removes them
RUN_OUTPUTS = ("rejected.csv", "risk.png", "risk_model.joblib")
#: the analyst labels the API appends to in OUT (read by the next run)
LABELS_FILE = "labels.jsonl"


def _link_staged(
    data: Path, out: Path, settings: LinkSettings, store_spec: str, labels: Path | None = None
) -> RunResult:
    """Link ``data`` into ``store_spec`` and OUT, with OUT's files appearing together:
    the tables, run.json (with the evaluation when the input has labels) and
    rejected.csv are written into a staging directory inside OUT and moved into place
    at the end, run.json last (``EmbeddedStore.staged``). A run that fails or is killed
    before that leaves OUT as it was. Raises LinkerError, GraphStoreError."""
    from graph_store.embedded import EmbeddedStore
    from linker.pipeline import link
    from linker.scoring.evaluate import evaluate

    files = EmbeddedStore(out)
    with files.staged(owned=RUN_OUTPUTS) as stage:
        store = open_store(store_spec, out)
        if isinstance(store, EmbeddedStore) and store.root.resolve() == out.resolve():
            store = files  # writes into the stage, reads the previous run from OUT
        if (out / LABELS_FILE).is_file():  # the pipeline reads labels beside rejected.csv
            shutil.copyfile(out / LABELS_FILE, stage / LABELS_FILE)
        try:
            with stage_progress() as progress:
                task = progress.add_task("linking", total=None)
                result = link(
                    data,
                    store,
                    settings,
                    out_dir=stage,
                    progress=lambda m: progress.update(task, description=m),
                    labels_file=labels,
                )
        finally:
            store.close()
        (stage / LABELS_FILE).unlink(missing_ok=True)  # OUT's own file stays the API's
        if store is not files:
            files.write_run(result.run)  # the same files as an embedded run
        if result.dataset.labels is not None:
            result.evaluation = evaluate(result.run.accounts, result.dataset.labels)
            meta = dict(result.run.meta, evaluation=result.evaluation)
            (stage / "run.json").write_text(json.dumps(meta, indent=2, default=str))
    return result


def _run_link(
    data: Path,
    out: Path,
    settings: LinkSettings,
    top: int,
    store_spec: str = "embedded",
    labels: Path | None = None,
) -> RunResult:
    from linker.report.outputs import remove_stale_outputs

    try:
        result = _link_staged(data, out, settings, store_spec, labels)
        remove_stale_outputs(out, result.run.run_id)  # pictures of an earlier run
    except (LinkerError, GraphStoreError) as err:
        raise fail(err) from err
    except Exception as err:  # the driver's errors: unreachable server, bad password
        if type(err).__module__.startswith("neo4j"):
            raise fail(LinkerError(f"Neo4j store {store_spec}: {err}")) from err
        raise
    summary = link_summary(
        result.run, result.dataset.counts, result.evaluation, result.timings, top
    )
    for part in summary:
        console.print(part)
    console.print(f"results in {out}")
    return result


@app.command("link")
def link_cmd(
    data: Annotated[Path, typer.Argument(help="Input directory (accounts, signals, ...).")],
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("out"),
    config: Annotated[
        Path | None,
        typer.Option(
            help="Settings file (TOML, sections as in run.json's settings: [linkage], "
            "[community], [risk], [prompt], [semantic_stage], [engine]); options given here win.",
        ),
    ] = None,
    resolution: Annotated[
        float | None, typer.Option(help="Leiden/Louvain resolution [default: 1.0].")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Risk at or above which to flag [default: 0.5].")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="leiden, louvain or components [default: leiden].")
    ] = None,
    min_edge_weight: Annotated[
        float | None, typer.Option(help="Weakest edge kept [default: 0.2].")
    ] = None,
    max_degree: Annotated[
        int | None, typer.Option(help="Supernode size: no pairs above it [default: 5000].")
    ] = None,
    prompts: Annotated[
        bool | None,
        typer.Option("--prompts/--no-prompts", help="Use prompt template overlap [default: on]."),
    ] = None,
    semantic: Annotated[
        bool | None,
        typer.Option(
            "--semantic/--no-semantic",
            help="Also join prompt families by meaning (sentence embeddings; needs the "
            "'semantic' extra: make semantic) [default: off].",
        ),
    ] = None,
    attach_share: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="An account in no cluster joins the cluster holding at least this share "
            "of the senders of a template family it sends (0: off; docs/linkage.md) "
            "[default: 0.5].",
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="How many clusters to show.")] = 10,
    store: Annotated[
        str, typer.Option(help="'embedded' or a Neo4j URI such as neo4j://127.0.0.1:7687.")
    ] = "embedded",
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Labels to learn from (account_id, label sybil|benign; optional created_at, "
            "author, reason), merged with the API's and the Browser's verdicts."
        ),
    ] = None,
    learn_from_input_labels: Annotated[
        bool | None,
        typer.Option(help="Learn from the input's labels table too [default: off]."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="embedded or spark (docs/scaling.md) [default: embedded].")
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            envvar="SYBIL_LINKER_SPARK_MASTER",
            help="Spark master URL for --engine spark [default: local[2]].",
        ),
    ] = None,
    spark_communities: Annotated[
        str | None,
        typer.Option(
            help="With --engine spark: driver (Leiden, as embedded), or propagation or "
            "components inside Spark (coarser: docs/scaling.md) [default: driver]."
        ),
    ] = None,
) -> None:
    """Link accounts into clusters and score them; writes accounts/clusters/edges parquet.
    With labels (--labels, the API's, the Browser's), learns a calibrated risk."""
    from linker.pipeline import check_settings

    try:
        settings = _link_settings(
            config,
            resolution=resolution,
            threshold=threshold,
            method=method,
            min_edge_weight=min_edge_weight,
            max_degree=max_degree,
            use_prompts=prompts,
            semantic=semantic,
            attach_share=attach_share,
            input_labels=learn_from_input_labels,
            engine=engine,
            spark_master=spark_master,
            spark_communities=spark_communities,
        )
        check_settings(settings)  # a missing extra fails here, before any work
    except LinkerError as err:
        raise fail(err) from err
    _run_link(data, out, settings, top, store, labels)


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="Results directory of `link --out`.")],
    labels: Annotated[
        Path, typer.Option(help="Labels file (account_id, label sybil|benign, ...).")
    ],
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines/--no-baselines",
            help="Also score the connected-components recipe and Louvain on the same input.",
        ),
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="The run's input directory (default: the one in run.json)."),
    ] = None,
    store: Annotated[
        str, typer.Option(help="'embedded' (RUN) or the Neo4j URI the run was linked into.")
    ] = "embedded",
    out: Annotated[
        Path | None, typer.Option(help="Where to write evaluation.json and pictures (RUN).")
    ] = None,
) -> None:
    """Score a run against labels: precision/recall/F1, average precision, ROC AUC, recall
    at precision 0.95/0.99, adjusted Rand index, per tier and group; with --baselines the
    tutorial recipes side by side. Writes evaluation.json and two pictures."""
    import graph_store
    from linker.report.evaluation import comparison_table, evaluate_stored, write_evaluation

    try:
        evaluation = evaluate_stored(graph_store.open_store(store, run), labels, baselines, data)
    except (LinkerError, GraphStoreError, graph_store.StoreSpecError) as err:
        raise fail(err) from err
    console.print(comparison_table(evaluation))
    for path in write_evaluation(evaluation, out or run):
        console.print(f"wrote {path}", soft_wrap=True, highlight=False)


@app.command("clusters")
def clusters_cmd(
    run: Annotated[Path, typer.Argument(help="Results directory of `link --out`.")],
    store: Annotated[
        str, typer.Option(help="'embedded' (RUN) or the Neo4j URI the run was linked into.")
    ] = "embedded",
    flagged: Annotated[
        bool | None,
        typer.Option("--flagged/--not-flagged", help="Only flagged (or only unflagged) ones."),
    ] = None,
    min_risk: Annotated[float | None, typer.Option(help="Lowest risk shown.")] = None,
    min_size: Annotated[int | None, typer.Option(help="Fewest members.")] = None,
    max_size: Annotated[int | None, typer.Option(help="Most members.")] = None,
    limit: Annotated[int, typer.Option(help="How many to show (0: all).")] = 20,
) -> None:
    """List the run's clusters, riskiest first, with their strongest reason."""
    from linker.report.console import cluster_list_table
    from linker.report.explain import list_clusters
    from linker.report.investigate import ClusterFilter

    which = ClusterFilter(flagged, min_risk, min_size, max_size)
    try:
        stored, selected = list_clusters(run, which, store)
    except (LinkerError, GraphStoreError) as err:
        raise fail(err) from err
    console.print(cluster_list_table(selected, len(stored.clusters), limit, stored.run_id))


@app.command("explain")
def explain_cmd(
    target: Annotated[str, typer.Argument(help="A cluster id (c_...) or an account id.")],
    run: Annotated[Path, typer.Argument(help="Results directory of `link --out`.")],
    store: Annotated[
        str, typer.Option(help="'embedded' (RUN) or the Neo4j URI the run was linked into.")
    ] = "embedded",
    data: Annotated[
        Path | None,
        typer.Option(help="The run's input directory, for times (default: the one in run.json)."),
    ] = None,
    show_values: Annotated[
        bool, typer.Option("--show-values", help="Show identifier values unmasked.")
    ] = False,
    members: Annotated[int, typer.Option(help="How many members to list.")] = 15,
    picture: Annotated[
        bool,
        typer.Option("--picture/--no-picture", help="Draw RUN/explain/<run id>/<cluster id>.png."),
    ] = True,
) -> None:
    """Show the evidence behind a cluster or an account: reasons with their numbers,
    shared identifiers, template families, timeline, members; and draw the cluster."""
    from linker.report.console import account_renderables, explain_renderables
    from linker.report.explain import explain

    try:
        found = explain(run, target, store, data, show_values, picture)
    except (LinkerError, GraphStoreError) as err:
        raise fail(err) from err
    shown = [*(account_renderables(found.account) if found.account else [])]
    shown += explain_renderables(found.cluster, members) if found.cluster else []
    for part in shown:
        console.print(part)
    if found.picture is not None:
        console.print(f"picture: {found.picture}", soft_wrap=True, highlight=False)
    else:
        console.print(found.picture_note, soft_wrap=True, highlight=False)


@app.command()
def demo(
    accounts: Annotated[int, typer.Option(help="Accounts in the generated world.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the world.")] = 1,
    workdir: Annotated[Path, typer.Option(help="Where to put the world and results.")] = Path(
        "demo"
    ),
) -> None:
    """Generate a world, link it, show the top clusters and the scores against the truth."""
    generate(workdir / "world", accounts=accounts, seed=seed, fmt="parquet")
    result = _run_link(workdir / "world", workdir / "out", _link_settings(None), 10)
    from linker.report.outputs import run_picture_path

    try:
        from linker.report.plots import plot_run
    except ImportError:  # matplotlib is the 'plots' extra
        console.print("no picture: matplotlib is not installed (pip install 'sybil-linker[plots]')")
        return
    picture = plot_run(
        result.run,
        result.dataset.labels,
        run_picture_path(workdir / "out"),
        result.evaluation,
    )
    console.print(f"picture of the run: {picture}")


app.add_typer(neo4j_app, name="neo4j")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    """Entry point of the console script."""
    app()
