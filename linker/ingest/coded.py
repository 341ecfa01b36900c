"""The signals table as integer codes: each column's text hashed once, then every later
step of ingest (the unknown-account check, canonical kinds and values, the rejected
rows, the aggregation into one row per (account_id, kind, value)) works on integers.

The account ids are looked up once in the accounts table (their position is the
account's code), kinds and values are factorised once, and canonicalisation runs once
per distinct (kind, value) pair. Codes are ranks in the text's sort order, so sorting
rows by codes sorts them as the text would sort. Text columns are built at the end by
taking from the distinct values, never per row in Python.

:func:`linker.ingest.dataset.aggregate_signals` is the plain reference of the
aggregation (a pandas groupby on the text columns); the tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linker.ingest import normalise
from linker.ingest.rejected import no_rejects
from linker.ingest.validation import reasons_where, reject

_NAT = np.iinfo(np.int64).min
_LATEST = np.iinfo(np.int64).max


@dataclass
class CodedSignals:
    """The valid signal rows, in file order, as codes.

    ``account``, ``kind`` and ``value`` index ``accounts``, ``kinds`` and ``values``
    (distinct texts in sort order, so code order is text order); ``ts`` is the
    observation time (UTC, NaT where unknown), one per row.
    """

    account: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    ts: pd.Series
    accounts: pd.Index
    kinds: pd.Index
    values: pd.Index

    def observations(self) -> pd.DataFrame:
        """One row per valid observation: account_id, kind, value (canonical), ts."""
        return pd.DataFrame(
            {
                "account_id": self.accounts.take(self.account).array,
                "kind": self.kinds.take(self.kind).array,
                "value": self.values.take(self.value).array,
                "ts": self.ts.array,
            }
        )

    def aggregate(self) -> pd.DataFrame:
        """One row per distinct (account_id, kind, value), sorted by them: ``n_obs``,
        ``first_ts`` and ``last_ts`` (NaT where no observation of it has a time); as
        :func:`linker.ingest.dataset.aggregate_signals` of :meth:`observations`."""
        order, starts = _groups(self._keys())
        ts = self.ts.to_numpy("datetime64[ns]").view(np.int64)[order]
        n_obs = np.diff(np.append(starts, len(order))).astype(np.int64)
        if len(order):
            first = np.minimum.reduceat(np.where(ts == _NAT, _LATEST, ts), starts)
            first[first == _LATEST] = _NAT
            last = np.maximum.reduceat(ts, starts)  # NaT is the smallest int64
        else:
            first = last = np.zeros(0, np.int64)
        head = order[starts]
        unit = self.ts.dtype
        return pd.DataFrame(
            {
                "account_id": self.accounts.take(self.account[head]).array,
                "kind": self.kinds.take(self.kind[head]).array,
                "value": self.values.take(self.value[head]).array,
                "n_obs": n_obs,
                "first_ts": pd.Series(first.view("datetime64[ns]")).dt.tz_localize("UTC"),
                "last_ts": pd.Series(last.view("datetime64[ns]")).dt.tz_localize("UTC"),
            }
        ).astype({"first_ts": unit, "last_ts": unit})

    def _keys(self) -> list[np.ndarray]:
        """The sort keys, most significant first: one int64 when the three codes fit
        into one, else the three."""
        sizes = [max(len(self.accounts), 1), max(len(self.kinds), 1), max(len(self.values), 1)]
        if float(sizes[0]) * sizes[1] * sizes[2] < 2.0**62:
            key = self.account.astype(np.int64) * sizes[1] + self.kind
            return [key * sizes[2] + self.value]
        return [self.account, self.kind, self.value]


def _groups(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The rows in key order (in any order within a run of equal keys: every row of a
    run has the same codes) and where each run starts."""
    order = np.argsort(keys[0]) if len(keys) == 1 else np.lexsort(keys[::-1])
    change = np.zeros(len(order), dtype=bool)
    change[:1] = True
    for key in keys:
        sorted_key = key[order]
        change[1:] |= sorted_key[1:] != sorted_key[:-1]
    return order, np.flatnonzero(change)


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``keys`` (non-negative, dense below their count times a few) into
    their distinct values in increasing order, by direct addressing instead of a hash."""
    present = np.zeros(int(keys.max()) + 1 if len(keys) else 0, dtype=bool)
    present[keys] = True
    small = len(present) < 2**31
    code_of_key = np.cumsum(present, dtype=np.int32 if small else np.int64) - 1
    return code_of_key[keys].astype(np.int64), np.flatnonzero(present)


def sorted_codes(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Re-code ``codes`` (into ``uniques``, distinct) as ranks in sort order: returns
    the new codes and the sorted distinct values."""
    order = np.asarray(uniques.argsort(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques.take(order)


def code_signals(
    frame: pd.DataFrame, known: pd.Index, path: str
) -> tuple[CodedSignals, list[pd.DataFrame]]:
    """Code the validated signal rows of ``frame`` (account_id, kind, value, ts): rows
    whose account is not in ``known`` (the accounts table's ids, distinct) or whose
    value is invalid after canonicalisation (:func:`normalise.canonical_values`) are
    rejected. Returns the coded valid rows and the rejected-rows frames (unknown
    accounts, then invalid values)."""
    position = normalise.positions(known, frame["account_id"])
    unknown = position < 0
    rejected = [no_rejects()]
    if unknown.any():
        reasons = reasons_where(frame.index, unknown, "account_id not in accounts table")
        rejected = [reject(frame, reasons, path, "account_id")]
        frame, position = frame[~unknown], position[~unknown]
    # kinds: case- and space-insensitive, canonical per distinct text
    kind_raw, kind_texts = pd.factorize(frame["kind"], use_na_sentinel=False)
    canonical_kinds = normalise.canonical_kind(pd.Series(kind_texts))
    kind_of_raw, kinds = pd.factorize(canonical_kinds, use_na_sentinel=False)
    kind = kind_of_raw[kind_raw]
    # values: canonical per distinct (kind, value) text, as the kind decides the rules
    value_raw, value_texts = pd.factorize(frame["value"], use_na_sentinel=False)
    pair_of_row, pairs = _distinct(value_raw.astype(np.int64) * len(kinds) + kind)
    pair_kind = pd.Series(np.asarray(kinds, dtype=object)[pairs % len(kinds)])
    canonical = normalise.canonical_values(
        pair_kind, pd.Series(value_texts.take(pairs // len(kinds)))
    )
    value_of_pair, values = pd.factorize(canonical)  # -1: invalid after normalisation
    value = value_of_pair[pair_of_row]
    bad = value < 0
    if bad.any():
        is_ip = np.asarray(kinds == "ip")[kind]
        reasons = reasons_where(frame.index, bad & is_ip, "not an IP address")
        reasons[bad & ~is_ip] = "value empty after normalisation"
        rejected.append(reject(frame, reasons, path, "value"))
        frame, position, kind, value = frame[~bad], position[~bad], kind[~bad], value[~bad]
    account, accounts = sorted_codes(position, known)
    kind, kind_index = sorted_codes(kind, pd.Index(kinds))
    value, value_index = sorted_codes(value, pd.Index(values))
    ts = _timestamps(frame)
    return CodedSignals(account, kind, value, ts, accounts, kind_index, value_index), rejected


def _timestamps(frame: pd.DataFrame) -> pd.Series:
    """``frame``'s ``ts`` as UTC timestamps; all NaT when the optional column is absent."""
    if "ts" not in frame:
        return pd.Series(pd.NaT, index=range(len(frame)), dtype="datetime64[ns, UTC]")
    return pd.Series(pd.to_datetime(frame["ts"], utc=True).array)
