"""Capped pair expansion of shared identifiers and the evidence of each pair: clique or
random expander per identifier, IP simultaneity, time gaps."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from linker.evidence.identifiers import IP_KINDS, NS_PER_S
from linker.ingest import normalise
from linker.settings import LinkageSettings

#: (a, b, ident) arrays of pair rows
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _clique_pairs(groups: np.ndarray, members: np.ndarray, size: int) -> Pairs:
    """All pairs inside each of ``groups`` (rows of a (n, size) member matrix)."""
    iu, ju = np.triu_indices(size, k=1)
    a = members[:, iu].ravel()
    b = members[:, ju].ravel()
    g = np.repeat(groups, len(iu))
    return a, b, g


#: the order of a large identifier's members in one cycle of its expander:
#: ``order(members, cycle)`` gives a sort key (int64) per member
ExpanderOrder = Callable[[np.ndarray, int], np.ndarray]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each uint64 of ``x``."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _salted(values: np.ndarray, seed: int, cycle: int, salt: int) -> np.ndarray:
    """A hash of each int64 of ``values`` of its own per (seed, cycle, salt), as int64."""
    key = _mix(np.array([(seed & 0xFFFF) << 40 | (salt << 20) | cycle], dtype=np.uint64))
    out: np.ndarray = _mix(values.astype(np.uint64) ^ key).view(np.int64)
    return out


def account_signatures(
    account: np.ndarray, ident: np.ndarray, n_accounts: int, cycles: int, seed: int
) -> np.ndarray:
    """Per account (rows) and expander cycle (columns), the min-hash of the identifiers
    it holds among the membership rows (``account``, ``ident``: the large identifiers'
    rows, ``ident`` their global numbers); int64, the largest value for an account in
    none. Two accounts share a cycle's value with probability the Jaccard index of
    their sets of large identifiers."""
    out = np.full((n_accounts, cycles), np.iinfo(np.int64).max, dtype=np.int64)
    for cycle in range(cycles):
        column = np.full(n_accounts, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(column, account, _salted(ident, seed, cycle, 1))
        out[:, cycle] = column
    return out


class SignatureOrder:
    """:data:`ExpanderOrder` by account signatures (:func:`account_signatures`): in each
    cycle members sort by their min-hash, so accounts holding the same large identifiers
    sit side by side, and are partners, in every identifier they share."""

    def __init__(self, accounts: np.ndarray, signatures: np.ndarray) -> None:
        #: sorted account numbers and their signature rows
        self.accounts = accounts
        self.signatures = signatures

    def __call__(self, members: np.ndarray, cycle: int) -> np.ndarray:
        at = np.searchsorted(self.accounts, members)
        keys: np.ndarray = self.signatures[at, cycle]
        return keys


def expander_order(
    account: np.ndarray,
    ident: np.ndarray,
    degree: np.ndarray,
    settings: LinkageSettings,
) -> SignatureOrder | None:
    """The expanders' member order for the membership rows (``account``, ``ident`` with
    global identifier numbers, ``degree`` per identifier) that make pairs: None (random
    partners) unless ``settings.expander_order`` is ``signature``."""
    if settings.expander_order != "signature" or len(account) == 0:
        return None
    large = degree[ident] > settings.dense_limit
    n_accounts = int(account.max()) + 1
    cycles = max(settings.sparse_partners // 2, 1)
    signatures = account_signatures(account[large], ident[large], n_accounts, cycles, settings.seed)
    return SignatureOrder(np.arange(n_accounts, dtype=np.int64), signatures)


def _sparse_pairs(
    group: int,
    members: np.ndarray,
    partners: int,
    seed: int,
    key: int,
    order: ExpanderOrder | None = None,
) -> Pairs:
    """An expander over one large identifier's members: the union of ``partners // 2``
    Hamiltonian cycles, so every member has ~``partners`` links and the group stays one
    well-connected community.

    Without ``order`` each cycle is a random permutation from a generator seeded by
    ``(seed, key)``, ``key`` naming the identifier; with it, the members sort by
    ``order(members, cycle)``, ties broken by a hash of the account and the cycle.
    Either way each identifier's expander depends on its own members alone: any slice
    of the identifiers (a Spark partition, a chunk) expands to the same pairs."""
    rng = np.random.default_rng([seed, key])
    a_parts, b_parts = [], []
    for cycle in range(max(partners // 2, 1)):
        if order is None:
            perm = rng.permutation(members)
        else:
            tie = _salted(members, seed, cycle, 2)
            perm = members[np.lexsort((tie, order(members, cycle)))]
        a_parts.append(perm)
        b_parts.append(np.roll(perm, -1))
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    return a, b, np.full(len(a), group, dtype=np.int64)


#: pair rows handed on at once by :func:`pair_chunks` (about 24 bytes a row)
CHUNK_ROWS = 4_000_000


def _ordered(pairs: Pairs, dedupe: bool) -> Pairs:
    """(lo, hi, group) with self-pairs dropped and, when ``dedupe``, repeated rows
    dropped (the first kept, order otherwise unchanged)."""
    a, b, g = pairs
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    keep = lo != hi
    lo, hi, g = lo[keep], hi[keep], g[keep].astype(np.int64)
    if dedupe and len(lo):
        frame = pd.DataFrame({"a": lo, "b": hi, "g": g})
        first = ~frame.duplicated().to_numpy()
        lo, hi, g = lo[first], hi[first], g[first]
    return lo, hi, g


def pair_parts(
    ident: np.ndarray,
    account: np.ndarray,
    degree: np.ndarray,
    settings: LinkageSettings,
    keys: np.ndarray | None = None,
    order: ExpanderOrder | None = None,
) -> Iterator[Pairs]:
    """The pairs of accounts sharing an identifier, part by part: ``(a, b, ident)``
    arrays with a < b, in a fixed order (by identifier degree, then identifier).

    Identifiers of equal degree up to ``dense_limit`` are expanded into cliques
    together with one index matrix, at most about :data:`CHUNK_ROWS` pairs a part, so
    the loop runs over distinct degrees, not over identifiers or pairs, and no part
    grows with the number of identifiers; larger ones get an expander each
    (:func:`_sparse_pairs`: members in ``order``, or random, seeded by the identifier's
    ``keys`` entry: its own number when ``keys`` is None; a caller that renumbers a
    slice of the identifiers passes the global numbers). A pair appears once per
    identifier.
    """
    if len(ident) == 0:
        return
    by_ident = np.lexsort((account, ident))
    ident, account = ident[by_ident], account[by_ident]
    starts = np.flatnonzero(np.r_[True, ident[1:] != ident[:-1]])
    # an account listed twice in one identifier would repeat its clique pairs
    repeats = bool(np.any((ident[1:] == ident[:-1]) & (account[1:] == account[:-1])))
    group_ids = ident[starts]
    sizes = degree[group_ids]
    for size in np.unique(sizes):
        if size < 2:
            continue
        sel = np.flatnonzero(sizes == size)
        if size <= settings.dense_limit:
            step = max(1, CHUNK_ROWS // int(size * (size - 1) // 2))
            for i in range(0, len(sel), step):
                part = sel[i : i + step]
                idx = starts[part][:, None] + np.arange(size)[None, :]
                yield _ordered(_clique_pairs(group_ids[part], account[idx], int(size)), repeats)
        else:
            for s in sel:
                members = account[starts[s] : starts[s] + size]
                group = int(group_ids[s])
                key = group if keys is None else int(keys[group])
                pairs = _sparse_pairs(
                    group, members, settings.sparse_partners, settings.seed, key, order
                )
                yield _ordered(pairs, True)


def pair_chunks(
    ident: np.ndarray,
    account: np.ndarray,
    degree: np.ndarray,
    settings: LinkageSettings,
    rows: int | None = None,
    keys: np.ndarray | None = None,
    order: ExpanderOrder | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`pair_parts` gathered into frames (a, b, ident) of about ``rows`` rows
    (:data:`CHUNK_ROWS` by default) or more, the last one smaller, in the same order
    (``keys``: the identifiers' global numbers, as in :func:`pair_parts`)."""
    rows = rows or CHUNK_ROWS
    held: list[Pairs] = []
    count = 0
    for part in pair_parts(ident, account, degree, settings, keys, order):
        held.append(part)
        count += len(part[0])
        if count >= rows:
            yield _frame(held)
            held, count = [], 0
    if held:
        yield _frame(held)


def _frame(parts: list[Pairs]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": np.concatenate([p[0] for p in parts]),
            "b": np.concatenate([p[1] for p in parts]),
            "ident": np.concatenate([p[2] for p in parts]),
        }
    )


def expand_pairs(
    ident: np.ndarray, account: np.ndarray, degree: np.ndarray, settings: LinkageSettings
) -> pd.DataFrame:
    """Pairs of accounts sharing an identifier, as one frame (a < b, ident): every part
    of :func:`pair_parts`.

    ``ident``/``account`` are membership rows of identifiers that may make pairs;
    ``degree`` gives each identifier's number of accounts.
    """
    parts = list(pair_parts(ident, account, degree, settings))
    if not parts:
        return pd.DataFrame({"a": [], "b": [], "ident": []}, dtype=np.int64)
    return _frame(parts)


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
    account = normalise.positions(accounts, windows["account_id"])
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


class PairEvidence:
    """Evidence ``p`` of (a, b, ident) pair rows, chunk by chunk: the lookups (each
    membership's times and strength, the simultaneity counts) are indexed once.

    A row's ``p`` is the identifier's ``p``, times the membership strengths (share of
    an account's prompts in a template family), times the time factors (evidence of an
    address or a prompt family used months apart decays; simultaneous use of an
    address is boosted). Each row's ``p`` depends on that row alone.
    """

    def __init__(
        self,
        memberships: pd.DataFrame,
        mem_ident: np.ndarray,
        identifiers: pd.DataFrame,
        sync: pd.DataFrame,
        settings: LinkageSettings,
    ) -> None:
        self.settings = settings
        self.p = identifiers["p"].to_numpy()
        kinds = identifiers["kind"].to_numpy()
        self.is_ip = np.isin(kinds, IP_KINDS)
        self.timed = np.isin(kinds, settings.time_decay_kinds)
        self.need = self.timed | identifiers["has_strength"].to_numpy(bool)
        # (account, ident) as one integer: an integer index finds rows many times faster
        # than a MultiIndex of the two
        self.n_ident = np.int64(int(mem_ident.max()) + 1 if len(mem_ident) else 1)
        self.span_keys = pd.Index(
            memberships["account"].to_numpy(np.int64) * self.n_ident + mem_ident.astype(np.int64)
        )
        self.first = memberships["first_ts"].to_numpy("datetime64[ns]").astype(np.int64)
        self.last = memberships["last_ts"].to_numpy("datetime64[ns]").astype(np.int64)
        self.strength = memberships["strength"].to_numpy(float)
        self.sync_keys = pd.MultiIndex.from_frame(sync[["a", "b", "ident"]]) if len(sync) else None
        self.n_sync = sync["n_sync"].to_numpy(float) if len(sync) else None

    def _side(self, account: np.ndarray, ident: np.ndarray) -> np.ndarray:
        """Membership row of each (account, ident); every pair row has both."""
        ident = ident.astype(np.int64)
        if len(ident) and (ident.min() < 0 or ident.max() >= self.n_ident):
            raise ValueError("a pair row names a membership that does not exist")
        rows = self.span_keys.get_indexer(account.astype(np.int64) * self.n_ident + ident)
        if (rows < 0).any():
            raise ValueError("a pair row names a membership that does not exist")
        return rows

    def __call__(self, pairs: pd.DataFrame) -> np.ndarray:
        """``p`` of each row of ``pairs`` (a, b, ident)."""
        settings = self.settings
        ident = pairs["ident"].to_numpy()
        p: np.ndarray = np.array(self.p[ident], dtype=float)
        need = self.need[ident]
        if not need.any():
            return p
        a, b, sub = (pairs[c].to_numpy()[need] for c in ("a", "b", "ident"))
        ra, rb = self._side(a, sub), self._side(b, sub)
        factor = np.sqrt(self.strength[ra] * self.strength[rb])
        nat = np.iinfo(np.int64).min
        fa, fb, la, lb = self.first[ra], self.first[rb], self.last[ra], self.last[rb]
        known = (fa != nat) & (fb != nat)
        gap_ns = np.maximum(0, np.maximum(fa, fb) - np.minimum(la, lb))
        gap_days = np.where(known, gap_ns / (86_400 * NS_PER_S), 0.0)
        # without times (the optional ts absent) use months apart cannot be told from
        # use together: the evidence takes the untimed factor instead of the decay
        decay = np.where(
            known, np.power(0.5, gap_days / settings.gap_half_life_days), settings.untimed_factor
        )
        factor = np.where(self.timed[sub], factor * decay, factor)
        if self.sync_keys is not None and self.is_ip[sub].any():
            assert self.n_sync is not None
            at = self.sync_keys.get_indexer(pd.MultiIndex.from_arrays([a, b, sub]))
            n_sync = np.where(at >= 0, self.n_sync[np.maximum(at, 0)], 0.0)
            boost = settings.sync_boost * np.minimum(n_sync, settings.sync_saturation)
            factor = factor * (1.0 + boost / settings.sync_saturation)
        p[need] = np.clip(p[need] * factor, 0.0, 0.95)
        return p


def pair_evidence(
    pairs: pd.DataFrame,
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
) -> np.ndarray:
    """Evidence ``p`` of each (a, b, ident) row (:class:`PairEvidence`, in one go)."""
    return PairEvidence(memberships, mem_ident, identifiers, sync, settings)(pairs)
