"""An investigation of a run: the cluster list with filters, and the evidence behind
one cluster or account (members, shared identifiers, template families, reasons with
the numbers behind them, activity over time), read from any store.

Everything here is data; ``console`` prints it and ``plots`` draws it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import GraphStore, GraphStoreError, RunTables
from linker.errors import LinkerError, StoreError
from linker.masking import mask_identifier
from linker.report.activity import InputActivity
from linker.scoring.reasons import Reason

#: shown as a template family, not as an identifier
TEMPLATE_KIND = "prompt_template"
#: the order kinds are listed and drawn in (the first kind an edge carries names it)
KIND_ORDER = ("payment", "device", "phone", "email", "ip", "ip_prefix", TEMPLATE_KIND)
_EVIDENCE = re.compile(r"([A-Za-z_]+):(\d+)")


@dataclass(frozen=True)
class ClusterFilter:
    """Which clusters to list (None: no bound)."""

    flagged: bool | None = None
    min_risk: float | None = None
    min_size: int | None = None
    max_size: int | None = None


@dataclass(frozen=True)
class ClusterEvidence:
    """Everything shown about one cluster.

    - ``cluster``: its row of the clusters table (features included);
    - ``members``: account_id, risk, own_risk, flagged, attached, links (edges inside
      the cluster), strongest (its strongest link), and with activity: created_at,
      first_seen, last_seen, n_obs;
    - ``reasons``: the reasons, each with the features behind its numbers (none for
      runs that did not record them, or for an analyst's verdict);
    - ``shared``: kind, value (masked unless asked), members, all_accounts (accounts
      of the whole input using the value; NaN without the input);
    - ``families``: template_id, members, example;
    - ``link_kinds``: kind, links (edges inside the cluster carrying it), share;
    - ``edges``: the edges inside the cluster: a, b, weight, kind (the first kind of
      :data:`KIND_ORDER` the pair shares);
    - ``focus``: the account asked about, if any.
    """

    run_id: str
    threshold: float
    cluster: dict[str, Any]
    members: pd.DataFrame
    reasons: list[Reason]
    shared: pd.DataFrame
    families: pd.DataFrame
    link_kinds: pd.DataFrame
    edges: pd.DataFrame
    activity_note: str
    masked: bool
    focus: str | None = None

    @property
    def cluster_id(self) -> str:
        """The cluster's id."""
        return str(self.cluster["cluster_id"])

    @property
    def has_activity(self) -> bool:
        """Whether signup and activity times are known."""
        return "created_at" in self.members


@dataclass(frozen=True)
class AccountEvidence:
    """One account: its row of the accounts table, its links (the other account,
    weight, evidence, that account's cluster; strongest first) and, with the input, its
    identifiers (kind, value, n_obs, first_ts, last_ts, other_accounts)."""

    account: dict[str, Any]
    links: pd.DataFrame
    identifiers: pd.DataFrame | None


@contextmanager
def opened_store(spec: str, results_dir: Path) -> Iterator[GraphStore]:
    """The store named by ``spec`` (``graph_store.open_store``), closed afterwards.
    Raises :class:`LinkerError` for a spec it cannot open and :class:`StoreError` for
    the Neo4j driver's errors (unreachable server, bad password)."""
    import graph_store

    try:
        store = graph_store.open_store(spec, results_dir)
    except graph_store.StoreSpecError as err:
        raise LinkerError(f"--store: {err}") from err
    try:
        yield store
    except Exception as err:
        if type(err).__module__.startswith("neo4j"):
            raise StoreError(f"Neo4j store {spec}: {err}") from err
        raise
    finally:
        store.close()


def read_run(store: GraphStore, where: str) -> RunTables:
    """The store's latest run. Raises :class:`StoreError` when it holds none or cannot
    be read; ``where`` names the store in the message."""
    try:
        run = store.latest_run()
    except (GraphStoreError, OSError, ValueError) as err:
        raise StoreError(f"cannot read the run in {where}: {err}") from err
    if run is None:
        raise StoreError(f"no run in {where}: run `sybil-linker link DATA --out DIR` first")
    return run


def select_clusters(clusters: pd.DataFrame, which: ClusterFilter) -> pd.DataFrame:
    """The clusters that pass ``which``, riskiest first (then largest, then by id)."""
    keep = np.ones(len(clusters), dtype=bool)
    if which.flagged is not None:
        keep &= clusters["flagged"].astype(bool).to_numpy() == which.flagged
    if which.min_risk is not None:
        keep &= clusters["risk"].to_numpy(float) >= which.min_risk
    if which.min_size is not None:
        keep &= clusters["size"].to_numpy(int) >= which.min_size
    if which.max_size is not None:
        keep &= clusters["size"].to_numpy(int) <= which.max_size
    return clusters[keep].sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True], ignore_index=True
    )


def resolve(run: RunTables, target: str) -> tuple[str | None, str | None]:
    """(cluster id, account id) of ``target``, a cluster id or an account id (an account
    in no cluster gives (None, account id)). Raises :class:`LinkerError` when the run
    has neither."""
    if (run.clusters["cluster_id"].astype(str) == target).any():
        return target, None
    hit = run.accounts[run.accounts["account_id"].astype(str) == target]
    if hit.empty:
        raise LinkerError(f"no cluster or account {target!r} in run {run.run_id}")
    cluster = hit["cluster_id"].iloc[0]
    return (None if pd.isna(cluster) else str(cluster)), target


def edge_kinds(edges: pd.DataFrame) -> pd.DataFrame:
    """Per edge, how many shared identifiers of each kind it carries (one column per
    kind): from the ``ev_<kind>`` columns when the store keeps them, else parsed from
    the ``evidence`` strings (``payment:1 device:2``)."""
    ev = [c for c in edges.columns if c.startswith("ev_")]
    if ev:
        return edges[ev].rename(columns=lambda c: c[3:]).fillna(0).astype(int)
    if edges.empty or "evidence" not in edges:
        return pd.DataFrame(index=edges.index)
    parsed = [dict(_EVIDENCE.findall(str(text))) for text in edges["evidence"]]
    counts: pd.DataFrame = pd.DataFrame(parsed, index=edges.index).apply(pd.to_numeric)
    return counts.fillna(0).astype(int)


def masked_values(frame: pd.DataFrame) -> list[str]:
    """The ``value`` column of ``frame`` masked by its ``kind`` column."""
    pairs = zip(frame["kind"].astype(str), frame["value"].astype(str), strict=True)
    return [mask_identifier(kind, value) for kind, value in pairs]


def _first_kind(counts: pd.DataFrame) -> pd.Series:
    order = [k for k in KIND_ORDER if k in counts] + [k for k in counts if k not in KIND_ORDER]
    kind = np.full(len(counts), "other", dtype=object)
    for k in reversed(order):
        kind[counts[k].to_numpy() > 0] = k
    return pd.Series(kind, index=counts.index)


def _reasons(run: RunTables, row: pd.Series) -> list[Reason]:
    recorded = run.meta.get("reason_features", {}).get(str(row["cluster_id"]), [])
    by_text = {str(r.get("text")): dict(r.get("features", {})) for r in recorded}
    return [Reason(str(text), by_text.get(str(text), {})) for text in row["reasons"]]


def _shared(
    run: RunTables, cluster_id: str, activity: InputActivity | None, show_values: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The identifiers and the template families the run recorded as shared."""
    items = pd.DataFrame(
        run.meta.get("cluster_identifiers", {}).get(cluster_id, []),
        columns=["kind", "value", "accounts"],
    ).rename(columns={"accounts": "members"})
    idents = items[items["kind"] != TEMPLATE_KIND].copy()
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    idents["order"] = idents["kind"].map(rank).fillna(len(rank))
    idents = idents.sort_values(["order", "members", "value"], ascending=[True, False, True])
    idents["all_accounts"] = np.nan
    if activity is not None and not idents.empty:
        mem = activity.memberships
        users = mem.groupby(["kind", "value"])["account_id"].nunique()
        keys = pd.MultiIndex.from_frame(idents[["kind", "value"]].astype(str))
        idents["all_accounts"] = users.reindex(keys).to_numpy()
    if not show_values:
        idents["value"] = masked_values(idents)
    families = items[items["kind"] == TEMPLATE_KIND].rename(columns={"value": "template_id"})
    examples = {**(activity.template_examples if activity else {})}
    examples.update(run.meta.get("template_examples", {}))
    families = families.assign(example=[examples.get(str(t), "") for t in families["template_id"]])
    return (
        idents[["kind", "value", "members", "all_accounts"]].reset_index(drop=True),
        families[["template_id", "members", "example"]].reset_index(drop=True),
    )


def _inner_edges(run: RunTables, members: pd.Series) -> pd.DataFrame:
    edges = run.edges
    inside = edges["a"].isin(members).to_numpy() & edges["b"].isin(members).to_numpy()
    inner = edges[inside]
    out = inner[["a", "b", "weight"]].reset_index(drop=True)
    out["kind"] = _first_kind(edge_kinds(inner)).to_numpy()
    counts = edge_kinds(inner).reset_index(drop=True)
    return pd.concat([out, counts.add_prefix("n_")], axis=1)


def _link_kinds(edges: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in edges.columns if c.startswith("n_")]
    links = pd.Series({c[2:]: int((edges[c] > 0).sum()) for c in cols}, dtype=int)
    links = links[links > 0]
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    frame = pd.DataFrame({"kind": links.index, "links": links.to_numpy()})
    frame["share"] = frame["links"] / max(len(edges), 1)
    frame["order"] = frame["kind"].map(rank).fillna(len(rank))
    return frame.sort_values(["links", "order"], ascending=[False, True])[
        ["kind", "links", "share"]
    ].reset_index(drop=True)


def _member_activity(members: pd.DataFrame, activity: InputActivity) -> pd.DataFrame:
    ids = members["account_id"]
    created = activity.accounts.drop_duplicates("account_id").set_index("account_id")
    mem = activity.memberships[activity.memberships["account_id"].isin(ids)]
    g = mem.groupby("account_id")
    out = members.copy()
    out["created_at"] = created["created_at"].reindex(ids).to_numpy()
    out["first_seen"] = g["first_ts"].min().reindex(ids).to_numpy()
    out["last_seen"] = g["last_ts"].max().reindex(ids).to_numpy()
    out["n_obs"] = g["n_obs"].sum().reindex(ids).fillna(0).astype(int).to_numpy()
    return out


def cluster_evidence(
    run: RunTables,
    cluster_id: str,
    activity: InputActivity | None = None,
    activity_note: str = "",
    show_values: bool = False,
    focus: str | None = None,
) -> ClusterEvidence:
    """The evidence behind ``cluster_id`` in ``run`` (with members' signup and activity
    times when ``activity`` is given). Identifier values are masked unless
    ``show_values``. Raises :class:`LinkerError` when the run has no such cluster."""
    rows = run.clusters[run.clusters["cluster_id"].astype(str) == cluster_id]
    if rows.empty:
        raise LinkerError(f"no cluster {cluster_id!r} in run {run.run_id}")
    row = rows.iloc[0]
    acc = run.accounts
    members = acc[acc["cluster_id"].astype(str) == cluster_id].reindex(
        columns=["account_id", "risk", "own_risk", "flagged", "attached"]
    )
    members["attached"] = members["attached"].fillna(False).astype(bool)
    edges = _inner_edges(run, members["account_id"])
    ends = pd.concat(
        [edges[["a", "weight"]], edges[["b", "weight"]].set_axis(["a", "weight"], axis=1)]
    )
    degree = ends["a"].value_counts()
    strongest = ends.groupby("a")["weight"].max()
    members["links"] = degree.reindex(members["account_id"]).fillna(0).astype(int).to_numpy()
    members["strongest"] = strongest.reindex(members["account_id"]).to_numpy()
    if activity is not None:
        members = _member_activity(members, activity)
    members = members.sort_values(
        ["risk", "links", "account_id"], ascending=[False, False, True], ignore_index=True
    )
    shared, families = _shared(run, cluster_id, activity, show_values)
    threshold = run.meta.get("settings", {}).get("risk", {}).get("threshold", 0.5)
    return ClusterEvidence(
        run_id=run.run_id,
        threshold=float(threshold),
        cluster={str(k): v for k, v in row.items()},
        members=members,
        reasons=_reasons(run, row),
        shared=shared,
        families=families,
        link_kinds=_link_kinds(edges),
        edges=edges,
        activity_note=activity_note,
        masked=not show_values,
        focus=focus,
    )


def account_evidence(
    run: RunTables,
    account_id: str,
    activity: InputActivity | None = None,
    show_values: bool = False,
) -> AccountEvidence:
    """One account's row, its links (strongest first) and, with ``activity``, the
    identifiers it used, each with how many other accounts used it. Values are masked
    unless ``show_values``. Raises :class:`LinkerError` for an unknown account."""
    rows = run.accounts[run.accounts["account_id"].astype(str) == account_id]
    if rows.empty:
        raise LinkerError(f"no account {account_id!r} in run {run.run_id}")
    edges = run.edges
    mine = edges[(edges["a"] == account_id) | (edges["b"] == account_id)]
    other = np.where(mine["a"].to_numpy() == account_id, mine["b"], mine["a"])
    cluster_of = run.accounts.set_index("account_id")["cluster_id"]
    links = pd.DataFrame(
        {
            "account_id": other,
            "weight": mine["weight"].to_numpy(),
            "evidence": mine["evidence"].to_numpy() if "evidence" in mine else "",
            "cluster_id": cluster_of.reindex(other).to_numpy(),
        }
    ).sort_values(["weight", "account_id"], ascending=[False, True], ignore_index=True)
    identifiers = None
    if activity is not None:
        mem = activity.memberships
        own = mem[mem["account_id"] == account_id].copy()
        used = mem.merge(own[["kind", "value"]], on=["kind", "value"])
        users = used.groupby(["kind", "value"])["account_id"].nunique().rename("users")
        own = own.join(users, on=["kind", "value"])
        own["other_accounts"] = own.pop("users").fillna(1).astype(int) - 1
        if not show_values:
            own["value"] = masked_values(own)
        identifiers = own.drop(columns=["account_id"]).sort_values(
            ["other_accounts", "kind"], ascending=[False, True], ignore_index=True
        )
    account = {str(k): v for k, v in rows.iloc[0].items()}
    return AccountEvidence(account, links, identifiers)


def busiest_window(times: pd.Series, hours: float = 2.0) -> tuple[int, Any, Any]:
    """The most ``times`` falling in one window of ``hours``: (count, start, end)."""
    utc = pd.to_datetime(times.dropna(), utc=True).sort_values()
    t = utc.dt.tz_localize(None).to_numpy("datetime64[ns]")
    if len(t) == 0:
        return 0, None, None
    ends = np.searchsorted(t, t + np.timedelta64(int(hours * 3600), "s"), side="right")
    best = int(np.argmax(ends - np.arange(len(t))))
    return int(ends[best] - best), utc.iloc[best], utc.iloc[ends[best] - 1]
