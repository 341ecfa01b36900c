"""The Neo4j GraphStore: the signal graph and the runs live in a Neo4j server.

Writes are batched with UNWIND and sent through ``execute_write`` (the driver retries
transient errors such as deadlocks and leader switches; a retried batch is rolled back
first, so it never applies twice). Loading MERGEs accounts and identifiers on their
keys and gets their element ids back; memberships then find both ends by id and are
sent as plain lists, sorted by identifier so a hub's relationships go out together.
A membership whose account or identifier was created by the same load cannot exist
yet and is CREATEd; every other one is MERGEd, so re-loading the same data changes
nothing.

A run is written under its own run id and published by one transaction that moves
the ``latest`` pointer, once the store holds exactly the run's clusters, scores and
links, so readers see either the old run or the new one. A run that fails half-way is
marked ``failed`` and deleted; the published run is untouched. Only the latest run and
the one before it are kept; a run is marked ``deleting`` before its parts go, and a
reader that finds its run so marked (or gone) after reading it reads the new one.

Faults: ``load_input`` and ``write_run`` survive the server going away. The driver
retries a transaction that did not commit for ``retry_seconds``; when the connection is
still lost after that (or was lost during a commit, which the driver cannot retry
safely), the whole load or write waits up to ``reconnect_seconds`` for the server and
starts over (``attempts`` in all): a load MERGEs onto what an earlier attempt left, a
write deletes its half-written run first. A writer renews a lease on its run while it
writes; a ``writing`` run whose lease ran out (its writer died or gave up) is deleted by
the next write.

Loads of the same accounts must not run concurrently (the pipeline runs one job at a
time): two overlapping loads could both CREATE the same membership.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from graph_store.base import (
    ACCOUNT_COLUMNS,
    VERDICT_COLUMNS,
    InputTables,
    RunTables,
)
from graph_store.neo4j import faults, schema
from graph_store.neo4j import queries as q
from graph_store.neo4j.rows import (
    LoadStats,
    Neo4jStoreError,
    account_rows,
    batches,
    check_run,
    check_written,
    cluster_rows,
    clusters_frame,
    fingerprint,
    input_tables,
    learned_columns,
    lists,
    membership_rows,
    node_map,
    prefixes,
    records,
    score_rows,
    scores_frame,
)

if TYPE_CHECKING:
    import neo4j

DEFAULT_URI = "neo4j://127.0.0.1:7687"
log = logging.getLogger("sybil_linker.neo4j")
T = TypeVar("T")


@dataclass(frozen=True)
class Neo4jConfig:
    """Where the server is and how to write to it."""

    uri: str = DEFAULT_URI
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    batch_size: int = 5000
    #: concurrent transactions for membership batches (the bulk of a load)
    writers: int = 2
    #: how long the driver retries a transaction that did not commit (lost connection,
    #: deadlock, a database still starting)
    retry_seconds: float = 30.0
    #: how long ``latest_run_id`` retries (the API's poll: it fails fast, the next poll
    #: tries again)
    poll_retry_seconds: float = 1.0
    #: after the server was lost, how long a load or a run write waits for it before it
    #: starts over, and how many times in all it runs
    reconnect_seconds: float = 120.0
    attempts: int = 3
    #: a run being written whose writer has not renewed its lease for this long is
    #: deleted by the next write (renewed every quarter of it)
    lease_seconds: float = 60.0


class Neo4jStore:
    """A GraphStore (and InputGraphStore) backed by a Neo4j server.

    The driver is created on first use, not in the constructor.
    """

    def __init__(self, config: Neo4jConfig):
        self.config = config
        self._driver: Any = None
        self.load_stats = LoadStats()
        # sessions in flight; close() waits for them (the API reads from a thread)
        self._in_flight = 0
        self._lock = threading.Condition()

    # --- plumbing -------------------------------------------------------------------
    @property
    def driver(self) -> Any:
        """The neo4j driver (created lazily, once, whichever thread asks first)."""
        with self._lock:
            if self._driver is None:
                import neo4j

                # The server sends no notifications ("property ... does not exist" and
                # the like): the driver would log them as warnings, and with no logging
                # configured Python prints those on stderr in the middle of `link`.
                self._driver = neo4j.GraphDatabase.driver(
                    self.config.uri,
                    auth=(self.config.user, self.config.password),
                    notifications_min_severity="OFF",
                )
            return self._driver

    def close(self, timeout: float = 30.0) -> None:
        """Close the driver once the queries in flight (up to ``timeout`` seconds) are
        done; a later call opens a new one."""
        with self._lock:
            self._lock.wait_for(lambda: self._in_flight == 0, timeout)
            driver, self._driver = self._driver, None
            if driver is not None:
                driver.close()

    @contextmanager
    def _session(self, retry_seconds: float | None = None) -> Iterator[neo4j.Session]:
        driver = self.driver
        retry = self.config.retry_seconds if retry_seconds is None else retry_seconds
        with self._lock:
            self._in_flight += 1
        try:
            with driver.session(
                database=self.config.database, max_transaction_retry_time=retry
            ) as session:
                yield session
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def _write(
        self, query: str, retry_seconds: float | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in tx.run(query, **params)]

        with self._session(retry_seconds) as session:
            return session.execute_write(work)

    def _read(
        self, query: str, retry_seconds: float | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in tx.run(query, **params)]

        with self._session(retry_seconds) as session:
            return session.execute_read(work)

    # --- faults (graph_store/neo4j/faults.py) -------------------------------------------
    def _resilient(self, what: str, job: Callable[[int], T]) -> T:
        """``job(attempt)``, run again from the start when the server is lost during it
        (:func:`faults.resilient`). Raises Neo4jStoreError when the server does not
        come back."""
        return faults.resilient(
            what,
            job,
            self.config.uri,
            self.config.attempts,
            self.config.reconnect_seconds,
            ping=lambda: self._read("RETURN 1 AS ok", retry_seconds=0),
        )

    def _lease(self, run_id: str) -> AbstractContextManager[None]:
        """Renews the lease of run ``run_id`` while the block runs."""
        seconds = self.config.lease_seconds

        def renew() -> None:
            self._write(q.RENEW_LEASE, retry_seconds=0, run_id=run_id, lease=seconds)

        return faults.lease(renew, seconds / 4)

    def _write_rows(self, query: str, rows: list[Any], **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for batch in batches(rows, self.config.batch_size):
            out += self._write(query, rows=batch, **params)
        return out

    def _write_rows_concurrently(
        self, query: str, rows: list[Any], **params: Any
    ) -> list[dict[str, Any]]:
        """Like ``_write_rows`` with ``config.writers`` concurrent transactions (the
        server works on one batch while the next is packed and sent); answers in batch
        order. Only for batches that touch disjoint keys or relationships, so they
        neither conflict nor depend on each other. The first error is raised."""
        if self.config.writers <= 1 or len(rows) <= self.config.batch_size:
            return self._write_rows(query, rows, **params)
        with ThreadPoolExecutor(self.config.writers, thread_name_prefix="neo4j-load") as pool:
            futures = [
                pool.submit(self._write, query, rows=batch, **params)
                for batch in batches(rows, self.config.batch_size)
            ]
            return [row for future in futures for row in future.result()]

    def ensure_schema(self) -> None:
        """Create constraints and indexes (idempotent); called before any load."""
        for statement in schema.statements():
            self._write(statement)

    def set_captions(self) -> None:
        """Set the Browser caption of every Account and identifier node, as a load does
        (for a graph written by the bulk importer, which knows no Cypher)."""
        for query in q.caption_queries(self.config.batch_size):
            with self._session() as session:
                session.run(query).consume()  # IN TRANSACTIONS: auto-commit only

    def mark_input(self, inp: InputTables, by: str) -> None:
        """Record that the graph holds ``inp`` whole (its fingerprint), so that a load
        of the same input writes nothing; ``by`` says what loaded it."""
        mem = len(inp.memberships)
        self._write(
            q.SET_INPUT_MARK,
            fingerprint=fingerprint(inp),
            accounts=len(inp.accounts),
            memberships=mem,
            by=by,
        )

    def node_count(self) -> int:
        """How many nodes the database holds (from the count store: cheap)."""
        return int(self._read(q.COUNT_ALL_NODES)[0]["n"])

    def counts(self) -> dict[str, int]:
        """Node counts per label and relationship counts per type."""
        nodes = {r["label"]: r["n"] for r in self._read(q.COUNT_NODES)}
        rels = {r["type"]: r["n"] for r in self._read(q.COUNT_RELS)}
        return {**nodes, **rels}

    # --- the input graph ---------------------------------------------------------------
    def load_input(self, inp: InputTables) -> None:
        """Load accounts, identifiers, memberships, IP windows and IP ranges of ``inp``
        (idempotent: a re-load MERGEs onto what is there). Memberships of accounts that
        are not in ``inp.accounts`` are skipped. Timings go to ``self.load_stats``.

        Raises Neo4jStoreError when the server is lost and does not come back (see the
        module's docstring); what was loaded stays, and a re-load completes it.
        """
        self._resilient("loading the input graph", lambda _attempt: self._load_once(inp))

    def _load_once(self, inp: InputTables) -> None:
        # a new tag on every attempt: nodes an earlier attempt created are not "fresh",
        # so their memberships are MERGEd, never CREATEd twice
        stats = self.load_stats = LoadStats()
        load = time.time_ns()  # tags the nodes this load creates
        self.ensure_schema()
        stats.lap("schema", 0)
        marks = self._read(q.READ_INPUT_MARK)
        if marks and marks[0]["fingerprint"] == fingerprint(inp):  # bulk-imported as is
            stats.lap("unchanged", 0)
            return
        if marks:  # this load may change what the mark vouches for
            self._write(q.DELETE_INPUT_MARK)
        # labels that hold no node yet (a first load): their nodes are CREATEd
        empty = {n for n in q.INPUT_LABELS if not self._read(q.label_count(n))[0]["n"]}
        with ThreadPoolExecutor(1, thread_name_prefix="neo4j-prepare") as pool:
            # the memberships are prepared while the accounts go out
            prepared = pool.submit(membership_rows, inp)
            accounts = self._load_accounts(inp, load, "Account" in empty)
            stats.lap("accounts", len(accounts))
            if inp.ip_info is not None and not inp.ip_info.empty:
                ranges = inp.ip_info.rename(columns={"ip": "cidr"})[["cidr", "asn", "category"]]
                ranges = ranges.drop_duplicates("cidr", keep="last")  # as MERGE then SET
                query = q.ip_range_query(create="IPRange" in empty)
                self._write_rows_concurrently(query, records(ranges))
                stats.lap("ip_ranges", len(ranges))
            mem = prepared.result()
        stats.lap("prepare", 0)
        for kind, group in mem.groupby("kind", sort=True):
            create = q.label_of(str(kind))[0] in empty
            nodes = self._load_identifiers(str(kind), group, inp, load, create)
            stats.lap("identifiers", len(nodes))
            self._load_memberships(str(kind), group, accounts, nodes)
            stats.lap("memberships", len(group))

    def _load_accounts(self, inp: InputTables, load: int, create: bool) -> pd.DataFrame:
        """MERGE (or CREATE) the accounts; ``account_id -> (node, fresh)``."""
        rows = records(account_rows(inp).drop_duplicates("account_id", keep="last"))
        query = q.account_query(create=create)
        nodes = node_map(self._write_rows_concurrently(query, rows, load=load))
        check_written("accounts", len(nodes), inp.accounts["account_id"].nunique())
        return nodes

    def _load_identifiers(
        self, kind: str, group: pd.DataFrame, inp: InputTables, load: int, create: bool
    ) -> pd.DataFrame:
        """MERGE (or CREATE) the identifiers of one kind; ``value -> (node, fresh)``."""
        idents = pd.DataFrame({"kind": kind, "value": group["value"].unique()})
        if kind == "ip":
            idents["prefix"] = prefixes(idents["value"])
        elif kind in q.KIND_LABELS:
            idents["example"] = idents["value"].map(inp.template_examples)
        rows = records(idents)
        query = q.merge_identifiers(kind, create=create)
        nodes = node_map(self._write_rows_concurrently(query, rows, load=load))
        check_written(f"{kind} identifiers", len(nodes), len(idents))
        return nodes

    def _load_memberships(
        self, kind: str, group: pd.DataFrame, accounts: pd.DataFrame, nodes: pd.DataFrame
    ) -> None:
        acc = accounts.reindex(group["account_id"].to_numpy())
        ident = nodes.reindex(group["value"].to_numpy())
        known = acc["node"].notna().to_numpy() & ident["node"].notna().to_numpy()
        fresh = acc["fresh"].eq(True).to_numpy() | ident["fresh"].eq(True).to_numpy()
        cols = ["a", "n", "n_obs", "first_ts", "last_ts", "strength"]
        cols += ["windows"] if kind == "ip" else []
        rows = group.assign(a=acc["node"].to_numpy(), n=ident["node"].to_numpy()).loc[known]
        rows = rows.astype({"a": np.int64, "n": np.int64})  # node ids, not floats
        fresh = fresh[known]
        created = rows.loc[fresh, cols]
        answers = []
        if not created.empty:
            query = q.membership_query(kind, fresh=True)
            answers += self._write_rows_concurrently(query, lists(created))
        # MERGE batches go one at a time: concurrent MERGEs that create relationships on
        # the same dense identifier deadlock (the retries made a load twice as slow)
        merged = rows.loc[~fresh, cols]
        if not merged.empty:
            answers += self._write_rows(q.membership_query(kind, fresh=False), lists(merged))
        written = sum(int(a["written"]) for a in answers)
        check_written(f"{kind} memberships", written, len(rows))

    def read_input(self) -> InputTables:
        """Read back a InputTables equal to the one loaded (accounts sorted by id,
        memberships by account, kind and value): everything the graph holds."""
        return input_tables(
            self._read(q.READ_ACCOUNTS),
            self._read(q.READ_MEMBERSHIPS),
            self._read(q.READ_IP_RANGES),
            self._read(q.READ_TEMPLATES),
        )

    # --- runs ------------------------------------------------------------------------
    def write_run(self, run: RunTables) -> None:
        """Write ``run`` under its id, publish it in one transaction, drop stale runs.

        A failed, superseded or half-written run of the same id is replaced, and so is
        a run whose writer's lease ran out. Raises Neo4jStoreError if the run id is the
        published run's, an account refers to a cluster that is not in the run, or the
        server is lost and does not come back; if writing fails, the run is deleted (or
        left to the next write, when the server is gone) and the published run stays as
        it was.
        """
        check_run(run)
        self._resilient(
            f"writing run {run.run_id}", lambda attempt: self._write_run_once(run, attempt)
        )

    def _write_run_once(self, run: RunTables, attempt: int) -> None:
        self.ensure_schema()
        rows = self._read(q.RUN_STATUS, run_id=run.run_id)
        status, latest = (rows[0]["status"], rows[0]["latest"]) if rows else (None, None)
        if latest == run.run_id:
            if attempt > 1:  # published just before the connection was lost
                self._drop_stale_runs()
                return
            raise Neo4jStoreError(f"run {run.run_id} is the published run; use a new run id")
        if status is not None:
            self.delete_run(run.run_id)
        with self._lease(run.run_id):
            try:
                self._write_run_parts(run)
            except BaseException:
                self._abandon(run.run_id)
                raise
        self._drop_stale_runs()

    def _drop_stale_runs(self) -> None:
        for row in self._read(q.STALE_RUNS):
            self.delete_run(row["run_id"])

    def _write_run_parts(self, run: RunTables) -> None:
        learned = learned_columns(run)
        self._write(
            q.CREATE_RUN,
            run_id=run.run_id,
            meta=json.dumps(run.meta, default=str),
            lease=self.config.lease_seconds,
            learned_accounts=learned["accounts"],
            learned_clusters=learned["clusters"],
        )
        self._write_rows(q.CREATE_CLUSTERS, cluster_rows(run.clusters), run_id=run.run_id)
        accounts = score_rows(run.accounts)
        self._write_rows(q.CREATE_SCORES, records(accounts), run_id=run.run_id)
        links = run.edges[["a", "b", "weight", "n_shared", "evidence"]]
        self._write_rows(q.CREATE_LINKS, records(links), run_id=run.run_id)
        held = self._read(q.COUNT_RUN_PARTS, run_id=run.run_id)
        wanted = {"clusters": len(run.clusters), "scores": len(accounts), "links": len(links)}
        if not held or held[0] != wanted:
            raise Neo4jStoreError(
                f"run {run.run_id} is not whole in the store ({held[0] if held else 'gone'}, "
                f"written {wanted}); not published"
            )
        published = self._write(q.PUBLISH_RUN, run_id=run.run_id)
        if not published:
            raise Neo4jStoreError(f"run {run.run_id} vanished before it was published")

    def _abandon(self, run_id: str) -> None:
        """Mark a half-written run failed and try to delete it (best effort, without
        waiting for a lost server: a run left behind is deleted by the next write, once
        its lease runs out). A run that was published after all is kept."""
        try:
            self._write(q.MARK_RUN_FAILED, retry_seconds=0, run_id=run_id)
            if self.latest_run_id() != run_id:
                self.delete_run(run_id)
        except Exception as err:  # the original error is the one to report
            log.debug("run %s not cleaned up: %s", run_id, err)

    def delete_run(self, run_id: str) -> None:
        """Delete one run's clusters, scores and links in batches, then the run; first
        marks it ``deleting`` so that a reader of it reads again. Raises
        Neo4jStoreError for the published run."""
        marked = self._write(q.MARK_RUN_DELETING, run_id=run_id)[0]["marked"]
        if not marked and self.latest_run_id() == run_id:
            raise Neo4jStoreError(f"run {run_id} is the published run; it is not deleted")
        for query in (q.DELETE_CLUSTERS_BATCH, q.DELETE_SCORES_BATCH, q.DELETE_LINKS_BATCH):
            while self._write(query, run_id=run_id, batch=self.config.batch_size)[0]["deleted"]:
                pass
        self._write(q.DELETE_RUN_NODE, run_id=run_id)

    def latest_run_id(self) -> str | None:
        """The id of the published run, or None. Retries only ``poll_retry_seconds``:
        the API polls it, and the next poll tries again."""
        rows = self._read(q.LATEST_RUN_ID, retry_seconds=self.config.poll_retry_seconds)
        return rows[0]["run_id"] if rows else None

    def latest_run(self) -> RunTables | None:
        """The published run, read under its run id. A published run's parts never
        change; if it is superseded and marked for deletion while it is read, the new
        one is read instead. Raises Neo4jStoreError if that keeps happening."""
        for _ in range(5):
            rows = self._read(q.LATEST_RUN_ID)
            if not rows:
                return None
            run = self._read_run(rows[0]["run_id"])
            if run is not None:
                return run
        raise Neo4jStoreError(f"the published run of {self.config.uri} kept changing while read")

    def _read_run(self, run_id: str) -> RunTables | None:
        """Run ``run_id`` if it is complete before and after its parts are read."""
        found = self._read(q.READ_RUN, run_id=run_id)
        if not found or found[0]["status"] != "complete":
            return None
        meta = json.loads(found[0]["meta"])
        accounts = scores_frame(
            self._read(q.READ_RUN_ACCOUNTS, run_id=run_id), found[0]["learned_accounts"]
        )
        clusters = clusters_frame(
            self._read(q.READ_RUN_CLUSTERS, run_id=run_id), found[0]["learned_clusters"]
        )
        edges = pd.DataFrame(
            self._read(q.READ_RUN_LINKS, run_id=run_id),
            columns=["a", "b", "weight", "n_shared", "evidence"],
        )
        after = self._read(q.RUN_STATUS, run_id=run_id)
        if not after or after[0]["status"] != "complete":
            return None
        return RunTables(
            run_id=run_id, accounts=accounts, clusters=clusters, edges=edges, meta=meta
        )

    def previous_assignment(self) -> pd.DataFrame | None:
        """(account_id, cluster_id) of the published run's linked members (accounts
        attached by a template family alone do not carry ids over), or None."""
        run_id = self.latest_run_id()
        if run_id is None:
            return None
        rows = pd.DataFrame(self._read(q.READ_RUN_ACCOUNTS, run_id=run_id), columns=ACCOUNT_COLUMNS)
        return rows.loc[~rows["attached"].astype(bool), ["account_id", "cluster_id"]]

    def read_verdicts(self) -> pd.DataFrame:
        """The analysts' verdicts recorded in the graph (Verdict nodes, written by the
        Browser guide's queries), oldest first, with ``VERDICT_COLUMNS``."""
        verdicts = pd.DataFrame(self._read(q.READ_VERDICTS), columns=list(VERDICT_COLUMNS))
        verdicts["created_at"] = pd.to_datetime(verdicts["created_at"], utc=True, format="ISO8601")
        return verdicts
