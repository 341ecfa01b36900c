"""Graph stores: where linkage results (and, for Neo4j, the signal graph) live.

:func:`open_store` is the one factory: ``link --store`` and ``serve --store`` both use
it, so the API serves whatever store a run was written to.
"""

from __future__ import annotations

import os
from pathlib import Path

from graph_store.base import GraphStore, GraphStoreError, InputTables, RunTables
from graph_store.embedded import EmbeddedStore

__all__ = [
    "EmbeddedStore",
    "GraphStore",
    "GraphStoreError",
    "InputTables",
    "RunTables",
    "StoreSpecError",
    "open_store",
]

#: URI schemes of a Neo4j server
NEO4J_SCHEMES = ("neo4j://", "bolt://", "neo4j+s://", "bolt+s://", "neo4j+ssc://", "bolt+ssc://")


class StoreSpecError(ValueError):
    """A store specification names no store this package can open."""


def open_store(spec: str, results_dir: Path | str) -> GraphStore:
    """The store named by ``spec``:

    - ``embedded``: the embedded store in ``results_dir``;
    - ``file:///path``: the embedded store in that directory;
    - a Neo4j URI (``neo4j://127.0.0.1:7687``): the Neo4j store, with the password from
      ``SYBIL_NEO4J_PASSWORD`` (default: the local development one).

    The caller owns the store and closes it. Raises :class:`StoreSpecError` for anything
    else. Opening a Neo4j store does not connect: the first query does.
    """
    if spec == "embedded":
        return EmbeddedStore(results_dir)
    if spec.startswith("file://"):
        return EmbeddedStore(spec.removeprefix("file://"))
    if spec.startswith(NEO4J_SCHEMES):
        from graph_store.neo4j.server import DEFAULT_PASSWORD, ENV_PASSWORD
        from graph_store.neo4j.store import Neo4jConfig, Neo4jStore

        password = os.environ.get(ENV_PASSWORD, DEFAULT_PASSWORD)
        return Neo4jStore(Neo4jConfig(uri=spec, password=password))
    raise StoreSpecError(f"store must be 'embedded', file:///path or a neo4j:// URI, not {spec!r}")
