"""Graph stores: where linkage results (and, for Neo4j, the signal graph) live."""

from graph_store.base import GraphStore, RunTables
from graph_store.embedded import EmbeddedStore

__all__ = ["EmbeddedStore", "GraphStore", "RunTables"]
