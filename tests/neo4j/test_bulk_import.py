"""The bulk import (``neo4j-admin database import full``) against a REAL server: the
graph it makes is the graph a batch load makes, ``link`` on top of it gives the same
clusters, a database with data is refused without overwrite, a failed import says so
in one line and leaves a server that a new import repairs.

The import stops and starts its server, so this module runs on a server of its OWN
(not the session's shared instance): its own home in a temporary folder, the installed
jars linked, two free loopback ports; stopped when the module is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph_store.neo4j import server as srv
from graph_store.neo4j.bulk import bulk_import, imported_counts, write_import_files
from graph_store.neo4j.rows import Neo4jStoreError
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
from linker.ingest.dataset import load_dataset
from linker.model import LinkInput
from linker.pipeline import RunResult, build_link_input, link
from linker.settings import LinkSettings
from tests.neo4j import instance
from tests.neo4j.fixtures import instance_password

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j-bulk")]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[srv.ServerStatus]:
    """A Neo4j server of this module alone, stopped and removed at its end."""
    if srv.find_java() is None:
        pytest.skip("java not found")
    home = tmp_path_factory.mktemp("bulk-neo4j").resolve()
    (home / "lib").symlink_to(instance.shared_jars(instance.test_root()), target_is_directory=True)
    user_home = srv.default_home()
    avoid = set(instance.USER_PORTS) | set(instance.configured_ports(user_home))
    bolt = instance.free_port(avoid)
    http = instance.free_port(avoid | {bolt})
    instance._guard(home, (bolt, http))
    st = srv.start(
        home,
        password=instance_password(),
        bolt_port=bolt,
        http_port=http,
        heap=instance.HEAP,
        pagecache=instance.PAGECACHE,
        timeout=instance.START_TIMEOUT,
        extra_config=instance.EXTRA_CONFIG,
    )
    try:
        yield st
    finally:
        srv.stop(home)


@pytest.fixture(scope="module")
def store(own_server: srv.ServerStatus) -> Iterator[Neo4jStore]:
    st = Neo4jStore(Neo4jConfig(uri=own_server.bolt_uri, password=instance_password()))
    yield st
    st.close()


@pytest.fixture(scope="module")
def link_input(small_world: Path) -> LinkInput:
    return build_link_input(load_dataset(small_world), LinkSettings(), {}, None)


def _graph(store: Neo4jStore) -> dict[str, Any]:
    """Counts per label and type, and every node's and relationship's properties but
    the load tag, in a stable order."""
    nodes = store._read(
        "MATCH (n) WHERE NOT n:InputLoad RETURN labels(n) AS labels, properties(n) AS props "
        "ORDER BY labels(n)[0], coalesce(n.account_id, n.cidr, n.kind + ':' + n.value)"
    )
    rels = store._read(
        "MATCH (a:Account)-[r]->(n) RETURN type(r) AS type, a.account_id AS a, "
        "n.kind + ':' + n.value AS n, properties(r) AS props ORDER BY a, type, n"
    )
    for row in nodes:
        row["props"].pop("first_load", None)
    return {"counts": _input_counts(store), "nodes": nodes, "rels": rels}


def _input_counts(store: Neo4jStore) -> dict[str, int]:
    """Counts per label and type, the bulk import's mark aside."""
    return {k: v for k, v in store.counts().items() if k != "InputLoad"}


def _clear(store: Neo4jStore) -> None:
    for query in ("MATCH ()-[r]->() DELETE r", "MATCH (n) DELETE n"):
        store._write(query)


@pytest.fixture(scope="module")
def batch_graph(store: Neo4jStore, link_input: LinkInput) -> dict[str, Any]:
    store.load_input(link_input.to_tables())
    return _graph(store)


def test_files_are_typed_as_the_driver_sends(link_input: LinkInput, tmp_path: Path) -> None:
    files = write_import_files(link_input.to_tables(), tmp_path, 7)
    assert files.rows["memberships"] == len(link_input.memberships)
    assert files.rows["accounts"] == len(link_input.accounts)
    header = {p.name: p.read_text().splitlines()[0] for _, p in files.nodes + files.relationships}
    assert header["accounts.csv"].startswith('"account_id:ID(Account)","created_at:long"')
    ip = next(h for name, h in header.items() if name.startswith("rels_") and "(IP)" in h)
    assert '"windows:long[]"' in ip and '"first_seen:long"' in ip


def test_imported_counts_reads_the_summary() -> None:
    out = "IMPORT DONE in 2s 5ms.\nImported:\n  1234 nodes\n  5678 relationships\n  9 properties"
    assert imported_counts(out) == {"nodes": 1234, "relationships": 5678}


def test_database_with_data_is_refused_without_overwrite(
    store: Neo4jStore, own_server: srv.ServerStatus, link_input: LinkInput, batch_graph: Any
) -> None:
    with pytest.raises(Neo4jStoreError, match=r"holds .* nodes; the bulk import replaces"):
        bulk_import(link_input.to_tables(), store, own_server.home)
    assert _input_counts(store) == batch_graph["counts"]  # nothing changed


def test_cli_refuses_a_database_with_data_in_one_line(
    own_server: srv.ServerStatus,
    small_world: Path,
    batch_graph: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from linker.cli import app

    monkeypatch.setenv(srv.ENV_HOME, str(own_server.home))  # the CLI's default home
    result = CliRunner().invoke(app, ["neo4j", "import", str(small_world)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "holds" in errors[0] and "--overwrite" in errors[0]


@pytest.fixture(scope="module")
def bulk_graph(
    store: Neo4jStore, own_server: srv.ServerStatus, link_input: LinkInput, batch_graph: Any
) -> dict[str, Any]:
    stats = bulk_import(link_input.to_tables(), store, own_server.home, overwrite=True)
    assert stats.rows["memberships"] == len(link_input.memberships)
    return _graph(store)


def test_bulk_import_makes_the_batch_graph(
    batch_graph: dict[str, Any], bulk_graph: dict[str, Any]
) -> None:
    assert bulk_graph["counts"] == batch_graph["counts"]
    assert bulk_graph["nodes"] == batch_graph["nodes"]  # captions included
    assert bulk_graph["rels"] == batch_graph["rels"]


def test_link_on_the_imported_graph_gives_the_same_clusters(
    store: Neo4jStore, small_world: Path, bulk_graph: Any, tmp_path: Path
) -> None:
    from graph_store.embedded import EmbeddedStore

    ours: RunResult = link(small_world, store)
    assert "unchanged" in store.load_stats.seconds  # the imported input is not loaded again
    embedded = link(small_world, EmbeddedStore(tmp_path))
    cols = ["account_id", "cluster_id", "risk", "flagged"]
    pd.testing.assert_frame_equal(
        ours.run.accounts[cols].sort_values("account_id", ignore_index=True),
        embedded.run.accounts[cols].sort_values("account_id", ignore_index=True),
    )
    assert store.counts()["Account"] == bulk_graph["counts"]["Account"]


def test_failed_import_says_so_and_a_new_import_repairs(
    store: Neo4jStore,
    own_server: srv.ServerStatus,
    link_input: LinkInput,
    batch_graph: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from graph_store.neo4j import bulk

    def broken(inp: Any, folder: Path, tag: int) -> bulk.ImportFiles:
        files = write_import_files(inp, folder, tag)
        with files.nodes[0][1].open("a") as handle:  # accounts.csv: a time that is no number
            handle.write('"acct-broken","not a time"\n')
        return files

    tables = link_input.to_tables()
    monkeypatch.setattr(bulk, "write_import_files", broken)
    failed = r"^neo4j-admin database import failed .*incomplete: import again"
    with pytest.raises(srv.Neo4jServerError, match=failed):
        bulk_import(tables, store, own_server.home, overwrite=True)
    assert srv.status(own_server.home).running  # started again
    monkeypatch.undo()
    bulk_import(tables, store, own_server.home, overwrite=True)
    assert _input_counts(store) == batch_graph["counts"]


def test_a_changed_input_is_loaded_and_clears_the_mark(
    store: Neo4jStore, own_server: srv.ServerStatus, link_input: LinkInput
) -> None:
    tables = link_input.to_tables()
    bulk_import(tables, store, own_server.home, overwrite=True)
    store.load_input(tables)
    assert "unchanged" in store.load_stats.seconds
    fewer = replace(tables, memberships=tables.memberships.iloc[1:])
    store.load_input(fewer)
    assert "memberships" in store.load_stats.seconds  # loaded (MERGEd onto the graph)
    assert "InputLoad" not in store.counts()
    store.load_input(tables)
    assert "unchanged" not in store.load_stats.seconds  # no mark any more: loaded again


def test_cli_imports_with_overwrite(
    store: Neo4jStore,
    own_server: srv.ServerStatus,
    small_world: Path,
    batch_graph: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from linker.cli import app

    monkeypatch.setenv(srv.ENV_HOME, str(own_server.home))  # the CLI's default home
    result = CliRunner().invoke(app, ["neo4j", "import", str(small_world), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "imported 1,500 accounts" in result.output
    assert _input_counts(store) == batch_graph["counts"]
    assert srv.status(own_server.home).running
