"""The keys sub-app and serve's refusals, through typer as the main CLI registers them."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from api.cli import keys_app, serve
from api.keys import list_keys

cli = typer.Typer()
cli.add_typer(keys_app, name="keys")
cli.command()(serve)
runner = CliRunner()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    created = runner.invoke(
        cli,
        ["keys", "create", "--name", "soc", "--scope", "risk:read", "--scope", "labels:write",
         "--keys-file", str(path)],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    (record,) = list_keys(path)
    assert key.startswith(f"sl_{record.key_id}_")
    listed = runner.invoke(cli, ["keys", "list", "--keys-file", str(path)])
    assert record.key_id in listed.output and "risk:read,labels:write" in listed.output
    assert key not in listed.output
    revoked = runner.invoke(cli, ["keys", "revoke", record.key_id, "--keys-file", str(path)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(cli, ["keys", "list", "--keys-file", str(path)]).output


def test_keys_create_with_an_unknown_scope_fails(tmp_path: Path) -> None:
    result = runner.invoke(
        cli,
        ["keys", "create", "--name", "x", "--scope", "root", "--keys-file", str(tmp_path / "k")],
    )
    assert result.exit_code == 2 and "unknown scope 'root'" in result.output


def test_serve_refuses_to_start_without_keys(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["serve", str(tmp_path), "--keys-file", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no active API key" in result.output and "--insecure-no-auth" in result.output


def test_insecure_mode_is_loopback_only(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["serve", str(tmp_path), "--insecure-no-auth", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback" in result.output
