"""Capped pair expansion of shared identifiers and the evidence of each pair: clique or
random expander per identifier, IP simultaneity, time gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.evidence.identifiers import IP_KINDS, NS_PER_S
from linker.settings import LinkageSettings


def _clique_pairs(groups: np.ndarray, members: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """All pairs inside each of ``groups`` (rows of a (n, size) member matrix)."""
    iu, ju = np.triu_indices(size, k=1)
    a = members[:, iu].ravel()
    b = members[:, ju].ravel()
    g = np.repeat(groups, len(iu))
    return a, b, g


def _sparse_pairs(
    group: int, members: np.ndarray, partners: int, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """A random expander over one large identifier's members: the union of
    ``partners // 2`` random Hamiltonian cycles, so every member has ~``partners``
    links and the group stays one well-connected community."""
    a_parts, b_parts = [], []
    for _ in range(max(partners // 2, 1)):
        perm = rng.permutation(members)
        a_parts.append(perm)
        b_parts.append(np.roll(perm, -1))
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    return a, b, np.full(len(a), group, dtype=np.int64)


def expand_pairs(
    ident: np.ndarray, account: np.ndarray, degree: np.ndarray, settings: LinkageSettings
) -> pd.DataFrame:
    """Pairs of accounts sharing an identifier, as a frame (a < b, ident).

    ``ident``/``account`` are membership rows of identifiers that may make pairs;
    ``degree`` gives each identifier's number of accounts. Identifiers of equal degree
    are expanded together with one index matrix, so the loop runs over distinct
    degrees, not over identifiers or pairs.
    """
    if len(ident) == 0:
        return pd.DataFrame({"a": [], "b": [], "ident": []}, dtype=np.int64)
    order = np.lexsort((account, ident))
    ident, account = ident[order], account[order]
    starts = np.flatnonzero(np.r_[True, ident[1:] != ident[:-1]])
    group_ids = ident[starts]
    sizes = degree[group_ids]
    rng = np.random.default_rng(settings.seed)
    parts: list[tuple[np.ndarray, ...]] = []
    for size in np.unique(sizes):
        if size < 2:
            continue
        sel = np.flatnonzero(sizes == size)
        if size <= settings.dense_limit:
            idx = starts[sel][:, None] + np.arange(size)[None, :]
            parts.append(_clique_pairs(group_ids[sel], account[idx], int(size)))
        else:
            for s in sel:
                members = account[starts[s] : starts[s] + size]
                parts.append(
                    _sparse_pairs(int(group_ids[s]), members, settings.sparse_partners, rng)
                )
    if not parts:
        return pd.DataFrame({"a": [], "b": [], "ident": []}, dtype=np.int64)
    a = np.concatenate([p[0] for p in parts]).astype(np.int64)
    b = np.concatenate([p[1] for p in parts]).astype(np.int64)
    g = np.concatenate([p[2] for p in parts]).astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    frame = pd.DataFrame({"a": lo[keep], "b": hi[keep], "ident": g[keep]})
    return frame.drop_duplicates(ignore_index=True)


def sync_counts(
    windows: pd.DataFrame,
    accounts: pd.Index,
    identifiers: pd.DataFrame,
    eligible: np.ndarray,
    settings: LinkageSettings,
) -> pd.DataFrame:
    """For pairs seen on the same IP in the same ``sync_window_minutes`` slot: how many
    distinct slots they shared. Returns a frame (a, b, ident, n_sync)."""
    empty = pd.DataFrame({"a": [], "b": [], "ident": [], "n_sync": []}, dtype=np.int64)
    ip_rows = np.flatnonzero(identifiers["kind"].to_numpy() == "ip")
    if windows.empty or len(ip_rows) == 0:
        return empty
    found = pd.Index(identifiers["value"].to_numpy()[ip_rows]).get_indexer(windows["value"])
    ident = np.where(found >= 0, ip_rows[np.maximum(found, 0)], -1)
    account = accounts.get_indexer(pd.Index(windows["account_id"]))
    ok = (ident >= 0) & (account >= 0)
    ok[ok] = eligible[ident[ok]]
    if not ok.any():
        return empty
    slot_key, _ = pd.factorize(
        ident[ok].astype(np.int64) * np.int64(1 << 32)
        + (windows["window"].to_numpy(np.int64)[ok] % np.int64(1 << 32))
    )
    slot_degree = np.bincount(slot_key)
    pairs = expand_pairs(
        slot_key.astype(np.int64), account[ok].astype(np.int64), slot_degree, settings
    )
    if pairs.empty:
        return empty
    slot_ident = pd.Series(ident[ok]).groupby(slot_key).first().to_numpy()
    pairs["ident"] = slot_ident[pairs["ident"].to_numpy()]
    return pairs.groupby(["a", "b", "ident"], sort=False).size().rename("n_sync").reset_index()


def _span_lookup(
    pairs: pd.DataFrame, memberships: pd.DataFrame, mem_ident: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """first/last/strength of each pair's two memberships in the pair's identifier."""
    span = pd.DataFrame(
        {
            "first": memberships["first_ts"].to_numpy("datetime64[ns]").astype(np.int64),
            "last": memberships["last_ts"].to_numpy("datetime64[ns]").astype(np.int64),
            "strength": memberships["strength"].to_numpy(float),
        },
        index=pd.MultiIndex.from_arrays([memberships["account"].to_numpy(np.int64), mem_ident]),
    )
    out = []
    for side in ("a", "b"):
        key = pd.MultiIndex.from_arrays([pairs[side].to_numpy(), pairs["ident"].to_numpy()])
        found = span.reindex(key)
        out.append({c: found[c].to_numpy() for c in span.columns})
    return out[0], out[1]


def pair_evidence(
    pairs: pd.DataFrame,
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
) -> np.ndarray:
    """Evidence ``p`` of each (a, b, ident) row: the identifier's ``p``, times the
    membership strengths (share of an account's prompts in a template family), times
    the time factors (evidence of an address or a prompt family used months apart
    decays; simultaneous use of an address is boosted)."""
    ident = pairs["ident"].to_numpy()
    p: np.ndarray = identifiers["p"].to_numpy()[ident].copy()
    kinds = identifiers["kind"].to_numpy()[ident]
    is_ip = np.isin(kinds, IP_KINDS)
    timed = np.isin(kinds, settings.time_decay_kinds)
    weak = identifiers["has_strength"].to_numpy()[ident]
    need = timed | weak
    if not need.any():
        return p
    sub = pairs[need]
    sa, sb = _span_lookup(sub, memberships, mem_ident)
    factor = np.sqrt(sa["strength"] * sb["strength"])
    nat = np.iinfo(np.int64).min
    known = (sa["first"] != nat) & (sb["first"] != nat)
    gap_ns = np.maximum(
        0, np.maximum(sa["first"], sb["first"]) - np.minimum(sa["last"], sb["last"])
    )
    gap_days = np.where(known, gap_ns / (86_400 * NS_PER_S), 0.0)
    # without times (the optional ts absent) use months apart cannot be told from use
    # together: the evidence takes the untimed factor instead of the decay
    decay = np.where(
        known, np.power(0.5, gap_days / settings.gap_half_life_days), settings.untimed_factor
    )
    factor = np.where(timed[need], factor * decay, factor)
    sub_ip = is_ip[need]
    if not sync.empty and sub_ip.any():
        n_sync = (
            sub[["a", "b", "ident"]]
            .merge(sync, on=["a", "b", "ident"], how="left")["n_sync"]
            .fillna(0)
            .to_numpy()
        )
        boost = settings.sync_boost * np.minimum(n_sync, settings.sync_saturation)
        factor = factor * (1.0 + boost / settings.sync_saturation)
    p[need] = np.clip(p[need] * factor, 0.0, 0.95)
    return p
