"""Numbering of 64-bit keys (masked texts' content hashes) in order of first appearance
across the prompt stage's batches, as ``dict.setdefault(key, len(dict))`` would number
them one at a time, but a batch at a time: the keys seen so far are kept sorted with
their numbers, a batch is looked up by binary search and its new keys merged in."""

from __future__ import annotations

import numpy as np
import pandas as pd


class KeyNumbering:
    """Numbers for uint64 keys, each new key getting the next number."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)
        self._numbers = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def number(self, keys: np.ndarray) -> np.ndarray:
        """The number of each of ``keys``; keys not seen before are numbered from
        ``len(self)`` on, in the order they first appear in ``keys``."""
        keys = np.asarray(keys, dtype=np.uint64)
        out = np.empty(len(keys), dtype=np.int64)
        found = np.zeros(len(keys), dtype=bool)
        if len(self._keys):
            at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            found = self._keys[at] == keys
            out[found] = self._numbers[at[found]]
        codes, fresh = pd.factorize(keys[~found])
        start = len(self._keys)
        out[~found] = start + codes
        if len(fresh):
            fresh = np.asarray(fresh, dtype=np.uint64)
            order = np.argsort(fresh)
            where = np.searchsorted(self._keys, fresh[order])
            self._keys = np.insert(self._keys, where, fresh[order])
            self._numbers = np.insert(self._numbers, where, start + order)
        return out
