"""Fixtures: a real linked run, a store holding it (one parameter per store kind), API
keys of every scope, and the app under test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from graph_store.base import GraphStore, RunTables
from graph_store.embedded import EmbeddedStore
from linker.pipeline import link
from tests.helpers import ts, write_input

#: store implementations the route tests run against; the Neo4j ones share one worker
#: with the other tests that write to the real server
STORE_KINDS = [
    "embedded",
    pytest.param("neo4j", marks=[pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]),
]

#: scopes of the test keys, by role
ROLES = {
    "reader": ["risk:read"],
    "analyst": ["risk:read", "identifiers:read"],
    "labeller": ["labels:write"],
    "admin": ["risk:read", "identifiers:read", "labels:write"],
}

RING_CARD = "4111111111111111"


def _world(root: Path) -> Path:
    """A ring of 8 sharing one card and two devices (two of them an e-mail address too),
    a family of 3 sharing a card, and 5 accounts with nothing in common."""
    ring = [f"ring{i}" for i in range(8)]
    family = [f"fam{i}" for i in range(3)]
    alone = [f"solo{i}" for i in range(5)]
    signals: list[tuple[str, str, str, str | None]] = []
    for i, account in enumerate(ring):
        signals += [
            (account, "payment", RING_CARD, ts(i)),
            (account, "device", f"dev-R{i % 2}", ts(i)),
        ]
    signals += [(account, "email", "ringleader@example.com", ts(0)) for account in ring[:2]]
    signals += [(account, "payment", "card-F", ts(0)) for account in family]
    signals += [(account, "device", f"d-{account}", ts(0)) for account in alone]
    return write_input(root, ring + family + alone, signals)


@pytest.fixture(scope="session")
def linked_run(tmp_path_factory: pytest.TempPathFactory) -> RunTables:
    """The run the linker makes of the world (with the shared values it records)."""
    root = tmp_path_factory.mktemp("world")
    out = root / "out"
    return link(_world(root / "in"), EmbeddedStore(out), out_dir=out).run


@pytest.fixture
def ring_cluster(linked_run: RunTables) -> str:
    """The id of the ring's cluster."""
    return str(linked_run.accounts.set_index("account_id").loc["ring0", "cluster_id"])


@pytest.fixture(params=STORE_KINDS)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A store of each kind, holding no run (the Neo4j one on the real local server,
    its database cleared first)."""
    if request.param == "embedded":
        yield EmbeddedStore(tmp_path / "store")
        return
    if request.param == "neo4j":
        from graph_store.neo4j.server import DEFAULT_PASSWORD, ENV_PASSWORD, USER
        from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
        from tests.neo4j.fixtures import clear_database

        status = request.getfixturevalue("neo4j_server")
        driver = request.getfixturevalue("neo4j_driver")
        clear_database(driver)
        password = os.environ.get(ENV_PASSWORD) or DEFAULT_PASSWORD
        store = Neo4jStore(Neo4jConfig(uri=status.bolt_uri, user=USER, password=password))
        yield store
        store.close()
        return
    raise ValueError(f"unknown store kind {request.param}")


@pytest.fixture
def store(empty_store: GraphStore, linked_run: RunTables) -> GraphStore:
    """A store holding the linked run."""
    empty_store.write_run(linked_run)
    return empty_store


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    """Where the test keys live."""
    return tmp_path / "keys" / "api-keys.json"


@pytest.fixture
def keys(keys_file: Path) -> dict[str, str]:
    """One key per role of ROLES."""
    return {role: create_key(keys_file, role, scopes)[1] for role, scopes in ROLES.items()}


@pytest.fixture
def settings(tmp_path: Path, keys_file: Path, keys: dict[str, str]) -> ApiSettings:
    """Settings checking the store and the keys file on every request."""
    return ApiSettings(results_dir=tmp_path / "results", keys_file=keys_file, refresh_seconds=0)


@pytest.fixture
def make_client(settings: ApiSettings) -> Iterator[Callable[..., TestClient]]:
    """Builds a started TestClient over ``create_app(settings, store)``."""
    clients: list[TestClient] = []

    def make(store: GraphStore, **overrides: object) -> TestClient:
        app = create_app(settings.model_copy(update=overrides), store)
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        return client.__enter__()

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def app(settings: ApiSettings, store: GraphStore) -> FastAPI:
    """The app over the store holding the linked run, not started."""
    return create_app(settings, store)


@pytest.fixture
def client(make_client: Callable[..., TestClient], store: GraphStore) -> TestClient:
    """The app over the store holding the linked run."""
    return make_client(store)


def auth(key: str) -> dict[str, str]:
    """Request headers carrying ``key``."""
    return {"X-API-Key": key}
