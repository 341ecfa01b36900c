"""The typed hand-offs between the pipeline's stages.

Each stage returns one of these; each is checked once, where it is built, so a consumer
never guesses at columns:

- ingest -> :class:`linker.ingest.dataset.Dataset` (validated tables, rejected rows);
- prompts + ingest -> :class:`LinkInput` (this module: the account-identifier graph);
- evidence -> :class:`linker.evidence.projection.Projection` (identifiers, memberships,
  weighted edges);
- clustering -> one label per account (numpy array, -1: no cluster) and stable ids;
- scoring + pipeline -> :class:`graph_store.base.RunTables` (accounts, clusters, edges,
  run metadata), which every store writes.

A store that holds the graph (Neo4j) keeps a :class:`LinkInput` as
:class:`graph_store.base.InputTables`; :meth:`LinkInput.to_tables` and
:meth:`LinkInput.from_tables` convert, so the store knows nothing of the linker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from graph_store.base import MEMBERSHIP_COLUMNS, InputTables
from linker.errors import LinkerError

#: columns every table of a LinkInput must have (others may follow)
ACCOUNT_COLUMNS = ("account_id", "created_at")
IP_WINDOW_COLUMNS = ("account_id", "value", "window")


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Raise :class:`LinkerError` naming ``what`` and the first missing column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LinkerError(f"{what} lacks column {missing[0]!r} (has {list(frame.columns)})")


@dataclass(frozen=True)
class LinkInput:
    """Everything the projection needs.

    - ``accounts``: account_id, created_at and attributes, sorted by account_id;
    - ``memberships``: one row per (account_id, kind, value) with n_obs, first_ts,
      last_ts and strength (signals and prompt templates alike);
    - ``ip_windows``: distinct (account_id, value, window) of IP use, ``window`` being
      the number of the ``sync_window_minutes`` slot since the epoch;
    - ``ip_info``: the IP intelligence table, or None;
    - ``prompt_features``: per account_id, from the prompt stage, or None;
    - ``template_examples``: template id -> masked example;
    - ``kind_roles``: input kind -> ``address`` | ``instrument``.
    """

    accounts: pd.DataFrame
    memberships: pd.DataFrame
    ip_windows: pd.DataFrame
    ip_info: pd.DataFrame | None = None
    prompt_features: pd.DataFrame | None = None
    template_examples: dict[str, str] = field(default_factory=dict)
    #: what the linker made of each identifier kind of the input: ``address`` (linked
    #: as IP addresses, recognised from the values) or ``instrument``; for run.json
    kind_roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_columns(self.accounts, ACCOUNT_COLUMNS, "link input: accounts")
        require_columns(self.memberships, MEMBERSHIP_COLUMNS, "link input: memberships")
        require_columns(self.ip_windows, IP_WINDOW_COLUMNS, "link input: ip_windows")

    def to_tables(self) -> InputTables:
        """The same tables in the store's form."""
        return InputTables(
            accounts=self.accounts,
            memberships=self.memberships,
            ip_windows=self.ip_windows,
            ip_info=self.ip_info,
            prompt_features=self.prompt_features,
            template_examples=dict(self.template_examples),
        )

    @classmethod
    def from_tables(cls, tables: InputTables) -> LinkInput:
        """A LinkInput from a store's tables (checked like any other)."""
        return cls(
            accounts=tables.accounts,
            memberships=tables.memberships,
            ip_windows=tables.ip_windows,
            ip_info=tables.ip_info,
            prompt_features=tables.prompt_features,
            template_examples=dict(tables.template_examples),
        )
