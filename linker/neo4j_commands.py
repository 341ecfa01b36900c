"""``sybil-linker neo4j ...``: the local Neo4j server (install, start, stop, status) and
the bulk import of an input directory into it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from graph_store.base import GraphStoreError
from linker.errors import LinkerError
from linker.report.console import console, fail, stage_progress

neo4j_app = typer.Typer(
    help="Install, start, stop and check the local Neo4j server; bulk-import an input.",
    no_args_is_help=True,
)


def _server_call(action: str) -> None:
    from graph_store.neo4j import server

    try:
        if action == "install":
            console.print(f"Neo4j {server.NEO4J_VERSION} installed in {server.install()}")
            return
        result = getattr(server, action)()
    except server.Neo4jServerError as err:
        raise fail(err) from err
    if action == "stop":
        console.print("stopped" if result else "not running")
        return
    console.print(result.message)
    console.print(f"  bolt: {result.bolt_uri}  browser: {result.http_url}/browser/")
    if action == "status" and not result.running:
        raise typer.Exit(code=3)


@neo4j_app.command("install")
def neo4j_install() -> None:
    """Resolve the Neo4j Community jars with Maven into the cache folder."""
    _server_call("install")


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the server on 127.0.0.1 (Bolt 7687, HTTP 7474) and wait until it answers."""
    _server_call("start")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the server cleanly."""
    _server_call("stop")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Tell whether the server runs and answers (exit 3 when it does not)."""
    _server_call("status")


@neo4j_app.command("import")
def neo4j_import(
    data: Annotated[Path, typer.Argument(help="Input directory (accounts, signals, ...).")],
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace a database that holds data (its input graph, runs and verdicts).",
        ),
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="Settings file (TOML), as for `link`.")
    ] = None,
    prompts: Annotated[
        bool | None,
        typer.Option("--prompts/--no-prompts", help="Template memberships too (default: on)."),
    ] = None,
) -> None:
    """Bulk-import DATA's input graph into the local server's database with neo4j-admin
    (a first load of millions; stops and restarts the server). Then `link --store`."""
    from dataclasses import replace

    from graph_store.neo4j import server
    from graph_store.neo4j.bulk import bulk_import
    from graph_store.neo4j.server.common import resolve_password
    from graph_store.neo4j.server.config import configured_ports
    from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
    from linker.ingest.dataset import load_dataset
    from linker.pipeline import build_link_input
    from linker.settings import LinkSettings, load_settings

    home = server.default_home()
    uri = f"bolt://{server.HOST}:{configured_ports(home)[0]}"
    store = Neo4jStore(Neo4jConfig(uri=uri, password=resolve_password(None)))
    began = time.perf_counter()
    try:
        settings = load_settings(config) if config is not None else LinkSettings()
        if prompts is not None:
            settings = replace(settings, use_prompts=prompts)
        with stage_progress() as progress:
            task = progress.add_task("ingest", total=None)

            def say(message: str) -> None:
                progress.update(task, description=message)

            dataset = load_dataset(data, stream_prompts=settings.use_prompts)
            inp = build_link_input(dataset, settings, {}, say)
            stats = bulk_import(inp.to_tables(), store, home, overwrite, progress=say)
    except (LinkerError, GraphStoreError, server.Neo4jServerError) as err:
        first, _, rest = str(err).partition("\n")
        if rest:
            console.print(rest, style="dim", highlight=False, markup=False)
        raise fail(LinkerError(first)) from err
    finally:
        store.close()
    seconds = time.perf_counter() - began
    rows = stats.rows
    console.print(
        f"imported {rows.get('accounts', 0):,} accounts, {rows.get('identifiers', 0):,} "
        f"identifiers and {rows.get('memberships', 0):,} observations in {seconds:.1f} s "
        f"(import {stats.seconds.get('import', 0):.1f} s) into {uri}; "
        f"next: sybil-linker link {data} --store {uri}"
    )
