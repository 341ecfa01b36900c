"""`clusters` and `explain` reading the run from Neo4j (the test run's own instance):
the same evidence as from the embedded store, times from the store's input graph."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.report.explain import explain
from tests.linker.test_report import PNG, _cli, _flagged_cluster
from tests.neo4j.fixtures import clear_database, instance_password


@pytest.mark.neo4j
@pytest.mark.xdist_group("neo4j")
def test_clusters_and_explain_from_neo4j(
    neo4j_server: Any,
    neo4j_driver: Any,
    small_world: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = small_world
    monkeypatch.setenv("SYBIL_NEO4J_PASSWORD", instance_password())
    clear_database(neo4j_driver)
    uri = neo4j_server.bolt_uri
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["link", str(world), "--out", str(out), "--store", uri],
        env={"COLUMNS": "200", "SYBIL_NEO4J_PASSWORD": instance_password()},
    )
    assert res.exit_code == 0, res.output
    stored = EmbeddedStore(out).latest_run()
    assert stored is not None
    cid = _flagged_cluster(stored)
    listed = _cli("clusters", str(tmp_path / "elsewhere"), "--store", uri, "--flagged")
    assert listed.exit_code == 0, listed.output
    assert cid in listed.output and stored.run_id in listed.output
    # the store's input graph gives the times: no input directory needed
    shutil.move(str(world), str(tmp_path / "moved"))
    try:
        found = explain(tmp_path / "pictures", cid, store_spec=uri)
    finally:
        shutil.move(str(tmp_path / "moved"), str(world))
    assert found.run_id == stored.run_id and found.cluster is not None
    assert found.cluster.has_activity and "input graph" in found.cluster.activity_note
    embedded = explain(out, cid, picture=False).cluster
    assert embedded is not None
    assert found.cluster.shared.drop(columns="all_accounts").equals(
        embedded.shared.drop(columns="all_accounts")
    )
    assert [r.text for r in found.cluster.reasons] == [r.text for r in embedded.reasons]
    assert [r.features for r in found.cluster.reasons] == [r.features for r in embedded.reasons]
    assert found.picture is not None and found.picture.read_bytes().startswith(PNG)
    res = _cli("explain", cid, str(tmp_path / "pictures"), "--store", uri, "--no-picture")
    assert res.exit_code == 0, res.output
    assert "from: " in res.output and "signups:" in res.output
    assert os.environ.get("SYBIL_NEO4J_PASSWORD") == instance_password()
