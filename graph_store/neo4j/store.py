"""The Neo4j GraphStore: the signal graph and the runs live in a Neo4j server.

Writes are batched with UNWIND and sent through ``execute_write`` (the driver retries
transient errors such as deadlocks and leader switches). Membership batches are
sorted by identifier so a hub's relationships go out together instead of contending
for its lock from every batch. Every load is a MERGE, so re-loading the same data
changes nothing. A run is written under its own run id and published by one small
transaction that moves the ``latest`` pointer, so readers see either the old run or
the new one.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import MEMBERSHIP_COLUMNS, LinkInput, RunTables
from graph_store.neo4j import queries as q

DEFAULT_URI = "neo4j://127.0.0.1:7687"
#: Account property -> per-account prompt feature column
PROMPT_PROPS = {
    "prompt_n": "n_prompts",
    "prompt_templates": "n_templates",
    "prompt_intent": "intent",
    "prompt_top_share": "top_share",
    "prompt_top_template": "top_template",
    "prompt_top_variety": "top_variety",
}


@dataclass(frozen=True)
class Neo4jConfig:
    """Where the server is and how to write to it."""

    uri: str = DEFAULT_URI
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    batch_size: int = 5000


def _prefix(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) prefix of an address, for analysts' queries."""
    bits = 48 if ":" in ip else 24
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _clean(value: Any) -> Any:
    """Python/numpy/pandas scalars to Bolt-friendly values (NaN/NaT -> None)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = list(frame.columns)
    return [
        {c: _clean(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _epoch_ns(series: pd.Series) -> pd.Series:
    """Timestamps as integer nanoseconds (exact round trip), None where missing."""
    ts = pd.to_datetime(series, utc=True)
    ns = ts.to_numpy("datetime64[ns]").astype(np.int64).astype(object)
    ns[ts.isna().to_numpy()] = None
    return pd.Series(ns, index=series.index, dtype=object)


class Neo4jStore:
    """A GraphStore (and InputGraphStore) backed by a Neo4j server.

    The driver is created on first use, not in the constructor.
    """

    def __init__(self, config: Neo4jConfig):
        self.config = config
        self._driver: Any = None

    # --- plumbing -------------------------------------------------------------------
    @property
    def driver(self) -> Any:
        """The neo4j driver (created lazily)."""
        if self._driver is None:
            import neo4j

            self._driver = neo4j.GraphDatabase.driver(
                self.config.uri, auth=(self.config.user, self.config.password)
            )
        return self._driver

    def close(self) -> None:
        """Close the driver."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(query, **params)]

        with self.driver.session(database=self.config.database) as session:
            return session.execute_write(work)  # type: ignore[no-any-return]

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(query, **params)]

        with self.driver.session(database=self.config.database) as session:
            return session.execute_read(work)  # type: ignore[no-any-return]

    def _write_rows(self, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
        for batch in _batches(rows, self.config.batch_size):
            self._write(query, rows=batch, **params)

    def ensure_schema(self) -> None:
        """Create constraints and indexes (idempotent); called before any load."""
        for statement in (*q.CONSTRAINTS, *q.INDEXES):
            self._write(statement)

    def counts(self) -> dict[str, int]:
        """Node counts per label and relationship counts per type."""
        nodes = {r["label"]: r["n"] for r in self._read(q.COUNT_NODES)}
        rels = {r["type"]: r["n"] for r in self._read(q.COUNT_RELS)}
        return {**nodes, **rels}

    # --- the input graph ---------------------------------------------------------------
    def load_input(self, inp: LinkInput) -> None:
        """Load accounts, identifiers, memberships, IP windows and IP ranges of ``inp``
        (idempotent MERGEs)."""
        self.ensure_schema()
        self._write_rows(q.MERGE_ACCOUNTS, _records(_account_rows(inp)))
        if inp.ip_info is not None and not inp.ip_info.empty:
            ranges = inp.ip_info.rename(columns={"ip": "cidr"})[["cidr", "asn", "category"]]
            self._write_rows(q.MERGE_IP_RANGES, _records(ranges))
        mem = _membership_rows(inp)
        for kind, group in mem.groupby("kind", sort=True):
            idents = group[["kind", "value"]].drop_duplicates()
            if kind == "ip":
                idents = idents.assign(prefix=idents["value"].map(_prefix))
            elif kind in q.KIND_LABELS:
                idents = idents.assign(example=idents["value"].map(inp.template_examples))
            self._write_rows(q.merge_identifiers(str(kind)), _records(idents))
            rows = group.sort_values(["value", "account_id"])
            self._write_rows(q.merge_memberships(str(kind)), _records(rows))

    def read_input(self) -> LinkInput:
        """Read back a LinkInput equal to the one loaded."""
        acc = pd.DataFrame(self._read(q.READ_ACCOUNTS))
        acc["created_at"] = pd.to_datetime(acc["created_at"].astype("int64"), utc=True)
        acc = acc.sort_values("account_id", ignore_index=True)
        mem = pd.DataFrame(self._read(q.READ_MEMBERSHIPS))
        if mem.empty:
            mem = pd.DataFrame(columns=[*MEMBERSHIP_COLUMNS, "windows"])
        for col in ("first_ts", "last_ts"):
            mem[col] = pd.to_datetime(mem[col].astype("Int64"), utc=True)
        mem["n_obs"] = mem["n_obs"].astype(np.int64)
        mem["strength"] = mem["strength"].astype(float)
        mem = mem.sort_values(["account_id", "kind", "value"], ignore_index=True)
        windows = mem.loc[mem["kind"] == "ip", ["account_id", "value", "windows"]].explode(
            "windows"
        )
        windows = windows.dropna(subset=["windows"]).rename(columns={"windows": "window"})
        windows["window"] = windows["window"].astype(np.int64)
        ip_info = pd.DataFrame(self._read(q.READ_IP_RANGES))
        prompt_cols = list(PROMPT_PROPS)
        prompt_features = None
        if acc["prompt_n"].notna().any():
            pf = acc.dropna(subset=["prompt_n"]).set_index("account_id")[prompt_cols]
            prompt_features = pd.DataFrame(
                {
                    "n_prompts": pf["prompt_n"].astype(np.int64),
                    "n_templates": pf["prompt_templates"].astype(np.int64),
                    "intent": pf["prompt_intent"].astype(float),
                    "top_share": pf["prompt_top_share"].astype(float),
                    "top_template": pf["prompt_top_template"].astype(object),
                    "top_variety": pf["prompt_top_variety"].astype(float),
                }
            )
        examples = {r["value"]: r["example"] for r in self._read(q.READ_TEMPLATES) if r["example"]}
        return LinkInput(
            accounts=acc.drop(columns=prompt_cols),
            memberships=mem[list(MEMBERSHIP_COLUMNS)],
            ip_windows=windows.reset_index(drop=True),
            ip_info=None if ip_info.empty else ip_info,
            prompt_features=prompt_features,
            template_examples=examples,
        )

    # --- runs ------------------------------------------------------------------------
    def write_run(self, run: RunTables) -> None:
        """Write ``run`` under its id, publish it in one transaction, drop stale runs."""
        self.ensure_schema()
        self._write(q.CREATE_RUN, run_id=run.run_id, meta=json.dumps(run.meta, default=str))
        self._write_rows(q.CREATE_CLUSTERS, _cluster_rows(run.clusters), run_id=run.run_id)
        self._write_rows(q.CREATE_SCORES, _records(run.accounts), run_id=run.run_id)
        links = run.edges[["a", "b", "weight", "n_shared", "evidence"]]
        self._write_rows(q.CREATE_LINKS, _records(links), run_id=run.run_id)
        self._write(q.PUBLISH_RUN, run_id=run.run_id)
        for row in self._read(q.STALE_RUNS):
            self.delete_run(row["run_id"])

    def delete_run(self, run_id: str) -> None:
        """Delete one run's clusters, scores and links in batches, then the run."""
        for query in (q.DELETE_RUN_BATCH, q.DELETE_SCORES_BATCH, q.DELETE_LINKS_BATCH):
            while self._write(query, run_id=run_id, batch=self.config.batch_size)[0]["deleted"]:
                pass
        self._write(q.DELETE_RUN_NODE, run_id=run_id)

    def latest_run_id(self) -> str | None:
        """The id of the published run, or None."""
        rows = self._read(q.LATEST_RUN_ID)
        return rows[0]["run_id"] if rows else None

    def latest_run(self) -> RunTables | None:
        """The published run, read consistently under its run id."""
        run_id = self.latest_run_id()
        if run_id is None:
            return None
        meta = json.loads(self._read(q.READ_RUN, run_id=run_id)[0]["meta"])
        accounts = pd.DataFrame(self._read(q.READ_RUN_ACCOUNTS, run_id=run_id))
        accounts = accounts.sort_values("account_id", ignore_index=True)
        clusters = _clusters_frame(self._read(q.READ_RUN_CLUSTERS, run_id=run_id))
        edges = pd.DataFrame(
            self._read(q.READ_RUN_LINKS, run_id=run_id),
            columns=["a", "b", "weight", "n_shared", "evidence"],
        )
        return RunTables(
            run_id=run_id, accounts=accounts, clusters=clusters, edges=edges, meta=meta
        )

    def previous_assignment(self) -> pd.DataFrame | None:
        """(account_id, cluster_id) of the published run, or None."""
        run_id = self.latest_run_id()
        if run_id is None:
            return None
        rows = self._read(q.READ_RUN_ACCOUNTS, run_id=run_id)
        return pd.DataFrame(rows)[["account_id", "cluster_id"]]


def _account_rows(inp: LinkInput) -> pd.DataFrame:
    acc = inp.accounts
    known = ["account_id", "created_at", "email_domain", "country", "org_id"]
    rows = pd.DataFrame({c: acc.get(c) for c in known})
    rows["created_at"] = _epoch_ns(acc["created_at"])
    extra = [c for c in acc.columns if c not in known]
    rows["attributes"] = (
        acc[extra].astype(str).apply(lambda r: json.dumps(r.to_dict()), axis=1) if extra else None
    )
    pf = inp.prompt_features
    for col, src in PROMPT_PROPS.items():
        rows[col] = (
            acc["account_id"].map(pf[src]).astype(object).to_numpy() if pf is not None else None
        )
    return rows


def _membership_rows(inp: LinkInput) -> pd.DataFrame:
    mem = inp.memberships.copy()
    mem["first_ts"] = _epoch_ns(mem["first_ts"])
    mem["last_ts"] = _epoch_ns(mem["last_ts"])
    win = inp.ip_windows.groupby(["account_id", "value"])["window"].apply(
        lambda w: sorted(int(x) for x in w)
    )
    key = pd.MultiIndex.from_frame(mem[["account_id", "value"]])
    mem["windows"] = np.where(mem["kind"].to_numpy() == "ip", win.reindex(key).to_numpy(), None)
    return mem


def _cluster_rows(clusters: pd.DataFrame) -> list[dict[str, Any]]:
    props = clusters.drop(columns=["cluster_id", "reasons"])
    records = _records(props)
    return [
        {"cluster_id": cid, "reasons": list(reasons), "props": rec}
        for cid, reasons, rec in zip(
            clusters["cluster_id"], clusters["reasons"], records, strict=True
        )
    ]


def _clusters_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    props = pd.DataFrame([r["props"] for r in rows])
    props = props.drop(columns=["run_id", "reasons"], errors="ignore")
    props["cluster_id"] = [r["cluster_id"] for r in rows]
    props["reasons"] = [list(r["reasons"] or []) for r in rows]
    if props.empty:
        return props
    return props.sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True], ignore_index=True
    )
