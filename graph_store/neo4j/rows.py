"""Rows between pandas and Cypher parameters: values cleaned for the driver, records
and lists for ``UNWIND``, and the frames a run and an input graph are written from and
read back into, and the bookkeeping of a load (seconds per stage, rows sent against rows
the server answered for). Pure functions; no connection."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import (
    ACCOUNT_COLUMNS,
    LEARNED_ACCOUNT_COLUMNS,
    LEARNED_CLUSTER_COLUMNS,
    MEMBERSHIP_COLUMNS,
    GraphStoreError,
    InputTables,
    RunTables,
)


#: Account property -> per-account prompt feature column
class Neo4jStoreError(GraphStoreError):
    """A run cannot be written (bad tables, or its id is the published run's)."""


PROMPT_PROPS = {
    "prompt_n": "n_prompts",
    "prompt_templates": "n_templates",
    "prompt_intent": "intent",
    "prompt_top_share": "top_share",
    "prompt_top_template": "top_template",
    "prompt_top_variety": "top_variety",
    "prompt_family": "family",
    "prompt_family_share": "family_share",
    "prompt_family_variety": "family_variety",
    "prompt_family_resample": "family_resample",
    "prompt_family_intent": "family_intent",
}


ACCOUNT_FIELDS = ["account_id", "created_at", "email_domain", "country", "org_id"]


def prefix(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) prefix of an address, for analysts' queries."""
    bits = 48 if ":" in ip else 24
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def prefixes(ips: pd.Series) -> pd.Series:
    """:func:`prefix` of canonical addresses; IPv4 by string slicing (fast)."""
    out = ips.str.rpartition(".")[0] + ".0/24"
    v6 = ips.str.contains(":", regex=False)
    out[v6] = ips[v6].map(prefix)
    return out


def batches(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def clean(value: Any) -> Any:
    """Python/numpy/pandas scalars to Bolt-friendly values (NaN/NaT/NA -> None)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def column(series: pd.Series) -> list[Any]:
    """One column as a list of Bolt-friendly values, vectorised for plain dtypes."""
    dtype = series.dtype
    if not series.hasnans:
        if pd.api.types.is_bool_dtype(dtype):
            return series.to_numpy(dtype=bool).tolist()
        if pd.api.types.is_integer_dtype(dtype):
            return series.to_numpy(dtype=np.int64).tolist()
    if pd.api.types.is_float_dtype(dtype):
        floats = series.to_numpy(dtype=float)
        cells = floats.astype(object)
        cells[np.isnan(floats)] = None
        return cells.tolist()
    cells = series.to_numpy(dtype=object, copy=True)
    cells[pd.isna(series).to_numpy()] = None
    out: list[Any] = cells.tolist()
    inferred = pd.api.types.infer_dtype(cells, skipna=True)  # one pass in C
    if inferred in ("string", "integer", "boolean", "empty"):
        return out
    if inferred == "mixed":  # lists (IP windows, reasons): clean them if not plain lists
        first = next((v for v in out if v is not None), None)
        if isinstance(first, list):
            return out
    return [clean(v) for v in out]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of Bolt-friendly values."""
    cols = [str(c) for c in frame.columns]
    columns = [column(frame[c]) for c in frame.columns]
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*columns, strict=True)]


def lists(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as lists of Bolt-friendly values (no keys: smaller and faster to send)."""
    columns = [column(frame[c]) for c in frame.columns]
    return [list(vals) for vals in zip(*columns, strict=True)]


def epoch_ns(series: pd.Series) -> pd.Series:
    """Timestamps as integer nanoseconds (exact round trip), None where missing."""
    ts = pd.to_datetime(series, utc=True)
    ns = ts.to_numpy("datetime64[ns]").astype(np.int64).astype(object)
    ns[ts.isna().to_numpy()] = None
    return pd.Series(ns, index=series.index, dtype=object)


def node_map(answers: list[dict[str, Any]]) -> pd.DataFrame:
    """``key -> (node, fresh)`` from the batches' answers to a node MERGE (each one
    record of three parallel lists)."""
    frame = pd.DataFrame(
        {name: [v for answer in answers for v in answer[name]] for name in ("key", "node", "fresh")}
    )
    return frame.drop_duplicates("key", keep="last").set_index("key")


def account_rows(inp: InputTables) -> pd.DataFrame:
    acc = inp.accounts
    rows = pd.DataFrame({c: acc.get(c) for c in ACCOUNT_FIELDS}, index=acc.index)
    rows["created_at"] = epoch_ns(acc["created_at"])
    extra = [c for c in acc.columns if c not in ACCOUNT_FIELDS]
    rows["attributes"] = (
        [json.dumps(rec, default=str) for rec in records(acc[extra])] if extra else None
    )
    pf = inp.prompt_features
    for col, src in PROMPT_PROPS.items():
        rows[col] = (
            acc["account_id"].map(pf[src]).astype(object).to_numpy() if pf is not None else None
        )
    return rows


def accounts_frame(acc: pd.DataFrame) -> pd.DataFrame:
    """The accounts table from Account properties (extra attributes unpacked)."""
    out = acc[ACCOUNT_FIELDS].copy()
    if acc["attributes"].notna().any():
        extra = pd.DataFrame(
            [json.loads(a) if a else {} for a in acc["attributes"]], index=acc.index
        )
        out = out.join(extra)
    return out


def prompt_frame(acc: pd.DataFrame) -> pd.DataFrame | None:
    """The per-account prompt features from Account properties, or None."""
    if not acc["prompt_n"].notna().any():
        return None
    pf = acc.dropna(subset=["prompt_n"]).set_index("account_id")
    return pd.DataFrame(
        {
            "n_prompts": pf["prompt_n"].astype(np.int64),
            "n_templates": pf["prompt_templates"].astype(np.int64),
            "intent": pf["prompt_intent"].astype(float),
            "top_share": pf["prompt_top_share"].astype(float),
            "top_template": pf["prompt_top_template"].astype(object),
            "top_variety": pf["prompt_top_variety"].astype(float),
            "family": pf["prompt_family"].astype(object),
            "family_share": pf["prompt_family_share"].astype(float),
            "family_variety": pf["prompt_family_variety"].astype(float),
            "family_resample": pf["prompt_family_resample"].astype(float),
            "family_intent": pf["prompt_family_intent"].astype(float),
        }
    )


def membership_rows(inp: InputTables) -> pd.DataFrame:
    """One row per (account_id, kind, value) with epoch-ns times and, for IPs, the
    sorted list of 15-minute windows; sorted by kind, value and account."""
    mem = inp.memberships.drop_duplicates(["account_id", "kind", "value"], keep="last")
    mem = mem.sort_values(["kind", "value", "account_id"], ignore_index=True)
    mem["first_ts"] = epoch_ns(mem["first_ts"])
    mem["last_ts"] = epoch_ns(mem["last_ts"])
    mem["windows"] = None
    win = inp.ip_windows
    if win.empty:
        return mem
    win = win.drop_duplicates().sort_values(["account_id", "value", "window"], ignore_index=True)
    acc, val = win["account_id"].to_numpy(dtype=object), win["value"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, (acc[1:] != acc[:-1]) | (val[1:] != val[:-1])])
    ends = np.r_[starts[1:], len(win)]
    values = win["window"].to_numpy(dtype=np.int64).tolist()
    lists = pd.Series(
        [values[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)],
        index=pair_keys(acc[starts], val[starts]),
        dtype=object,
    )
    ip = mem.index[mem["kind"] == "ip"]
    wanted = pair_keys(mem.loc[ip, "account_id"].to_numpy(), mem.loc[ip, "value"].to_numpy())
    mem.loc[ip, "windows"] = lists.reindex(wanted).to_numpy()
    return mem


def input_tables(
    accounts: list[dict[str, Any]],
    memberships: list[dict[str, Any]],
    ip_ranges: list[dict[str, Any]],
    templates: list[dict[str, Any]],
) -> InputTables:
    """The input graph's tables from the answers to ``queries.READ_*`` (accounts sorted
    by id, memberships by account, kind and value)."""
    acc = pd.DataFrame(accounts, columns=[*ACCOUNT_FIELDS, "attributes", *PROMPT_PROPS])
    acc["created_at"] = pd.to_datetime(acc["created_at"].astype("Int64"), utc=True)
    acc = acc.sort_values("account_id", ignore_index=True)
    mem = pd.DataFrame(memberships, columns=[*MEMBERSHIP_COLUMNS, "windows"])
    for col in ("first_ts", "last_ts"):
        mem[col] = pd.to_datetime(mem[col].astype("Int64"), utc=True)
    mem["n_obs"] = mem["n_obs"].astype(np.int64)
    mem["strength"] = mem["strength"].astype(float)
    mem = mem.sort_values(["account_id", "kind", "value"], ignore_index=True)
    windows = mem.loc[mem["kind"] == "ip", ["account_id", "value", "windows"]].explode("windows")
    windows = windows.dropna(subset=["windows"]).rename(columns={"windows": "window"})
    windows["window"] = windows["window"].astype(np.int64)
    ip_info = pd.DataFrame(ip_ranges, columns=["ip", "asn", "category"])
    examples = {r["value"]: r["example"] for r in templates if r["example"]}
    return InputTables(
        accounts=accounts_frame(acc),
        memberships=mem[list(MEMBERSHIP_COLUMNS)],
        ip_windows=windows.reset_index(drop=True),
        ip_info=None if ip_info.empty else ip_info.astype({"asn": np.int64}),
        prompt_features=prompt_frame(acc),
        template_examples=examples,
    )


def fingerprint(inp: InputTables) -> str:
    """A digest of every table of ``inp`` (values, column names and order): two inputs
    with the same fingerprint load the same graph."""
    digest = hashlib.sha256()
    frames = [inp.accounts, inp.memberships, inp.ip_windows, inp.ip_info, inp.prompt_features]
    for frame in frames:
        if frame is None:
            digest.update(b"none")
            continue
        digest.update(json.dumps([str(c) for c in frame.columns]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(json.dumps(sorted(inp.template_examples.items())).encode())
    return digest.hexdigest()


def pair_keys(accounts: np.ndarray, values: np.ndarray) -> pd.Index:
    """One hashable key per (account, value) pair (faster to match than a MultiIndex)."""
    return pd.Index(pd.Series(accounts, dtype=object) + "\x00" + pd.Series(values, dtype=object))


def check_run(run: RunTables) -> None:
    """Refuse a run whose accounts refer to clusters it does not have."""
    known = set(run.clusters["cluster_id"])
    used = set(run.accounts["cluster_id"].dropna())
    missing = sorted(used - known)
    if missing:
        raise Neo4jStoreError(
            f"run {run.run_id}: accounts refer to {len(missing)} cluster(s) not in the "
            f"clusters table, e.g. {missing[:3]}"
        )


def cluster_rows(clusters: pd.DataFrame) -> list[dict[str, Any]]:
    props = clusters.drop(columns=["cluster_id", "reasons"])
    recs = records(props)
    return [
        {"cluster_id": cid, "reasons": [str(r) for r in reasons], "props": rec}
        for cid, reasons, rec in zip(clusters["cluster_id"], clusters["reasons"], recs, strict=True)
    ]


def learned_columns(run: RunTables) -> dict[str, list[str]]:
    """The learned columns (``graph_store.base``) the run's accounts and clusters have."""
    return {
        "accounts": [c for c in LEARNED_ACCOUNT_COLUMNS if c in run.accounts],
        "clusters": [c for c in LEARNED_CLUSTER_COLUMNS if c in run.clusters],
    }


def score_rows(accounts: pd.DataFrame) -> pd.DataFrame:
    """The rows of the accounts' SCORED relationships: the core columns and the learned
    columns the run has."""
    learned = [c for c in LEARNED_ACCOUNT_COLUMNS if c in accounts]
    rows = accounts.reindex(columns=[*ACCOUNT_COLUMNS, *learned])
    rows["attached"] = rows["attached"].fillna(False).astype(bool)
    return rows


def scores_frame(rows: list[dict[str, Any]], learned: list[str]) -> pd.DataFrame:
    """The accounts table of a run from its SCORED rows, with the ``learned`` columns it
    was written with (null everywhere included), sorted by account id."""
    frame = pd.DataFrame(rows, columns=[*ACCOUNT_COLUMNS, *learned])
    return frame.sort_values("account_id", ignore_index=True)


def clusters_frame(rows: list[dict[str, Any]], learned: list[str] | None = None) -> pd.DataFrame:
    """The clusters table of a run from its Cluster nodes, with the ``learned`` columns
    it was written with (a property that is null on every cluster is on none)."""
    props = pd.DataFrame([r["props"] for r in rows])
    props = props.drop(columns=["run_id", "reasons"], errors="ignore")
    for col in learned or ():
        if col not in props:
            props[col] = None
    props["cluster_id"] = [r["cluster_id"] for r in rows]
    props["reasons"] = [list(r["reasons"] or []) for r in rows]
    if props.empty:
        return props
    return props.sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True], ignore_index=True
    )


@dataclass
class LoadStats:
    """What the last ``load_input`` did: rows and seconds per stage."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def lap(self, stage: str, rows: int) -> None:
        """Add the time since the previous lap (or creation) and ``rows`` to ``stage``."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._clock
        self.rows[stage] = self.rows.get(stage, 0) + rows
        self._clock = now


def check_written(what: str, written: int, sent: int) -> None:
    """Raise Neo4jStoreError unless the server answered for every row sent."""
    if written != sent:
        raise Neo4jStoreError(
            f"the load wrote {written:,} of {sent:,} {what}; load again (a load MERGEs "
            "onto what is there)"
        )
