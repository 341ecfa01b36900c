"""The GraphStore protocol that the pipeline and the API use.

A store receives the results of a linkage run as plain tables and gives back the
latest completed run. Stores know nothing of how the tables are computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd


class GraphStoreError(Exception):
    """A store cannot be read or written: no consistent run, an unreachable server, a
    run that contradicts itself. Callers show the message; it names the store."""


#: columns of the per-run tables every store writes and reads back
ACCOUNT_COLUMNS = ["account_id", "cluster_id", "risk", "flagged", "own_risk", "attached"]
CLUSTER_COLUMNS = ["cluster_id", "size", "risk", "flagged", "reasons"]
#: account columns of a run that learned from labels (docs/learning.md), each present
#: only then: a run without labels has none of them, and a store gives back those the
#: run had
LEARNED_ACCOUNT_COLUMNS = (
    "unsupervised_risk",
    "proximity_sybil",
    "proximity_benign",
    "proximity_path",
    "learned_reasons",
    "analyst_label",
    "label_influence",
)
#: the same for clusters (clusters keep every column as a property anyway)
LEARNED_CLUSTER_COLUMNS = ("unsupervised_risk", "analyst_label")
EDGE_COLUMNS = ["a", "b", "weight", "n_shared", "evidence"]
MEMBERSHIP_COLUMNS = ("account_id", "kind", "value", "n_obs", "first_ts", "last_ts", "strength")
#: columns of analyst verdicts (the API's labels, a VerdictStore's verdicts)
VERDICT_COLUMNS = ("target_type", "target_id", "label", "author", "reason", "created_at")


@dataclass
class RunTables:
    """Everything one linkage run produced, as tables plus run metadata."""

    run_id: str
    accounts: pd.DataFrame
    clusters: pd.DataFrame
    edges: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class InputTables:
    """The account-identifier graph as tables, in a form every store can hold and give
    back (the linker's ``LinkInput`` converts to and from it).

    - ``accounts``: account_id, created_at and attributes, sorted by account_id;
    - ``memberships``: one row per (account_id, kind, value) with n_obs, first_ts,
      last_ts (signals and prompt templates alike);
    - ``ip_windows``: distinct (account_id, value, window) of IP use, ``window`` being
      the number of the ``sync_window_minutes`` slot since the epoch;
    - ``ip_info``: the IP intelligence table, or None;
    - ``prompt_features``: per account_id, from the prompt stage, or None;
    - ``template_examples``: template id -> masked example.
    """

    accounts: pd.DataFrame
    memberships: pd.DataFrame
    ip_windows: pd.DataFrame
    ip_info: pd.DataFrame | None = None
    prompt_features: pd.DataFrame | None = None
    template_examples: dict[str, str] = field(default_factory=dict)


class GraphStore(Protocol):
    """Where runs are written and read. Implementations: embedded, Neo4j."""

    def write_run(self, run: RunTables) -> None:
        """Replace the latest run with ``run``; readers see the old run or the new one,
        never a mix."""

    def latest_run(self) -> RunTables | None:
        """The latest completed run, or None if there is none."""

    def previous_assignment(self) -> pd.DataFrame | None:
        """(account_id, cluster_id) of the latest run, for stable cluster ids."""

    def latest_run_id(self) -> str | None:
        """The id of the latest completed run without reading its tables (cheap: the
        API polls it), or None if there is none."""

    def close(self) -> None:
        """Release connections (a no-op for stores that hold none)."""


@runtime_checkable
class InputGraphStore(GraphStore, Protocol):
    """A store that also holds the account-identifier graph (Neo4j): the pipeline
    loads the projection's input into it (and computes the projection from the same rows
    in memory); ``read_input`` gives back everything the store holds."""

    def load_input(self, inp: InputTables) -> None:
        """Load (idempotently) accounts, identifiers and observations of ``inp``."""

    def read_input(self) -> InputTables:
        """Read back everything the projection needs, in the pipeline's input form."""


@runtime_checkable
class VerdictStore(Protocol):
    """A store in which analysts record verdicts themselves (Neo4j, from the Browser's
    guide); the pipeline reads them like the API's labels. Optional: the embedded store
    has none."""

    def read_verdicts(self) -> pd.DataFrame:
        """Every recorded verdict, oldest first, with ``VERDICT_COLUMNS``
        (``created_at`` a UTC timestamp)."""
