"""``serve --store``: the API opens its store with the same factory as ``link --store``
(graph_store.open_store), so it serves a run that lives in Neo4j. Against the test
run's own Neo4j instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app, open_store
from api.errors import ApiConfigError
from api.settings import ApiSettings
from graph_store.base import RunTables
from graph_store.embedded import EmbeddedStore
from graph_store.neo4j.store import Neo4jStore
from tests.api.conftest import auth
from tests.neo4j.fixtures import clear_database, instance_password


@pytest.mark.neo4j
@pytest.mark.xdist_group("neo4j")
def test_api_serves_a_run_from_neo4j_by_uri(
    neo4j_server,  # type: ignore[no-untyped-def]
    neo4j_driver,
    linked_run: RunTables,
    settings: ApiSettings,
    keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYBIL_NEO4J_PASSWORD", instance_password())
    clear_database(neo4j_driver)
    uri_settings = settings.model_copy(update={"store_uri": neo4j_server.bolt_uri})
    writer = open_store(uri_settings)
    assert isinstance(writer, Neo4jStore)
    writer.write_run(linked_run)
    writer.close()
    with TestClient(create_app(uri_settings)) as client:
        ready = client.get("/readyz", headers=auth(keys["reader"]))
        assert ready.status_code == 200, ready.text
        assert ready.json()["run_id"] == linked_run.run_id
        flagged = linked_run.accounts[linked_run.accounts["flagged"]].iloc[0]
        answer = client.get(
            f"/v1/accounts/{flagged['account_id']}/risk", headers=auth(keys["reader"])
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["cluster_id"] == flagged["cluster_id"]


def test_store_uri_factory(tmp_path: Path, settings: ApiSettings) -> None:
    assert isinstance(open_store(settings), EmbeddedStore)
    file_store = open_store(settings.model_copy(update={"store_uri": f"file://{tmp_path}"}))
    assert isinstance(file_store, EmbeddedStore) and file_store.root == tmp_path
    with pytest.raises(ApiConfigError, match="not 'mysql://x'"):
        open_store(settings.model_copy(update={"store_uri": "mysql://x"}))


def test_serve_refuses_an_unknown_store_in_one_line(tmp_path: Path) -> None:
    from api.cli import serve
    from linker.cli import app

    app.command()(serve)
    res = CliRunner().invoke(
        app, ["serve", str(tmp_path), "--store", "mysql://x", "--insecure-no-auth"]
    )
    assert res.exit_code != 0
    assert "mysql://x" in res.output
