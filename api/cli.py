"""Command line of the API: ``keys create|list|revoke`` and ``serve``.

The main CLI registers them as ``sybil-linker keys ...`` (``app.add_typer(keys_app,
name="keys")``) and ``sybil-linker serve`` (``app.command()(serve)``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from api.errors import ApiConfigError
from api.keys import SCOPES, create_key, list_keys, revoke_key
from api.settings import default_keys_file

keys_app = typer.Typer(
    name="keys",
    help="Manage the API keys of `sybil-linker serve` (stored hashed, file mode 0600).",
    no_args_is_help=True,
    add_completion=False,
)

KeysFile = Annotated[
    Path | None,
    typer.Option(
        "--keys-file",
        envvar="SYBIL_KEYS_FILE",
        help="Keys file (default: $XDG_CONFIG_HOME/sybil-linker/api-keys.json).",
    ),
]


def _fail(err: Exception) -> typer.Exit:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)}.")],
    keys_file: KeysFile = None,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    path = keys_file or default_keys_file()
    try:
        record, key = create_key(path, name, scope)
    except ApiConfigError as err:
        raise _fail(err) from err
    typer.echo(f"created key {record.key_id} ({record.name}; {', '.join(record.scopes)}) in {path}")
    typer.echo("the key, shown only now:")
    typer.echo(key)


@keys_app.command("list")
def list_cmd(keys_file: KeysFile = None) -> None:
    """List the keys (ids, names, scopes, state); never the keys themselves."""
    path = keys_file or default_keys_file()
    try:
        keys = list_keys(path)
    except ApiConfigError as err:
        raise _fail(err) from err
    if not keys:
        typer.echo(f"no keys in {path}")
    for k in keys:
        state = "active" if k.active else f"revoked {k.revoked_at}"
        typer.echo(f"{k.key_id}  {k.name}  {','.join(k.scopes)}  created {k.created_at}  {state}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")],
    keys_file: KeysFile = None,
) -> None:
    """Revoke a key; a running server stops accepting it within its refresh interval."""
    path = keys_file or default_keys_file()
    try:
        record = revoke_key(path, key_id)
    except ApiConfigError as err:
        raise _fail(err) from err
    typer.echo(f"revoked key {record.key_id} ({record.name}) at {record.revoked_at}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    results: Annotated[Path, typer.Argument(help="Results directory of `link --out`.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    store: Annotated[
        str,
        typer.Option(
            help="Where the run lives: 'embedded' (RESULTS) or the Neo4j URI it was linked "
            "into, such as neo4j://127.0.0.1:7687 (the same stores as `link --store`).",
        ),
    ] = "embedded",
    keys_file: KeysFile = None,
    metrics_public: Annotated[bool, typer.Option(help="Serve /metrics without a key.")] = False,
    refresh_seconds: Annotated[
        float, typer.Option(help="Check for a new run and key changes this often.")
    ] = 10.0,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth", help="Development only: no keys needed (loopback only)."
        ),
    ] = False,
) -> None:
    """Serve the cluster-risk API over the latest run in RESULTS (see docs/api.md)."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    if insecure_no_auth and not _is_loopback(host):
        raise _fail(ApiConfigError("--insecure-no-auth is allowed on a loopback host only"))
    settings = ApiSettings(
        results_dir=results,
        store_uri=store,
        keys_file=keys_file or default_keys_file(),
        metrics_public=metrics_public,
        refresh_seconds=refresh_seconds,
        insecure_no_auth=insecure_no_auth,
    )
    try:
        app = create_app(settings)
    except ApiConfigError as err:
        raise _fail(err) from err
    uvicorn.run(app, host=host, port=port, log_level="info")


def main() -> None:
    """Entry point of ``sybil-linker``: the linker's commands plus ``keys`` and ``serve``.

    The API package is the composition root (imports flow api -> linker), so the full
    command line is assembled here rather than in ``linker.cli``.
    """
    from linker.cli import app

    app.add_typer(keys_app, name="keys")
    app.command()(serve)
    app()
