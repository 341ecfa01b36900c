"""Template families from MinHash signatures: LSH banding proposes pairs of texts, the
pairs whose estimated Jaccard similarity reaches the threshold are joined, and families
are the connected components.

Every step is linear in the number of texts: a band's buckets are found by hashing its
keys (not by sorting them), and a candidate pair's similarity is counted on packed
equality bytes, a slice of pairs at a time (bounded memory, rows gathered while they
are in cache). :func:`plain_lsh_families` is the obvious version (sorted buckets, the
mean of the equality matrix); the tests hold the two equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linker.prompts.threads import thread_map
from linker.settings import PromptSettings

#: candidate pairs compared at a time
PAIR_SLICE = 1 << 12
#: 0x0101...01: multiplying a word of eight 0/1 bytes by it sums them into the top byte
_BYTE_SUM = np.uint64(0x0101010101010101)


def _band_keys(sig: np.ndarray, settings: PromptSettings) -> list[np.ndarray]:
    """One int64 key per row and band (the band's values mixed by odd multipliers)."""
    rows = settings.num_perm // settings.bands
    mult = np.random.default_rng(0).integers(1, 2**61, size=rows, dtype=np.int64) | 1
    keys = []
    for band in range(settings.bands):
        block = sig[:, band * rows : (band + 1) * rows]
        with np.errstate(over="ignore"):
            keys.append((block * mult).sum(axis=1))
    return keys


def bucket_heads(key: np.ndarray) -> np.ndarray:
    """For each row, the first row (smallest index) with the same key, by hashing."""
    codes, _ = pd.factorize(key)
    # codes number the keys in order of first appearance: a row is the first of its key
    # exactly where its code exceeds every code before it
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    first_of_code = np.flatnonzero(codes > before)
    heads: np.ndarray = first_of_code[codes]
    return heads


def agreeing(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many signature positions rows ``a`` and ``b`` of ``sig`` share, pair by pair."""
    out = np.empty(len(a), dtype=np.int64)
    packed = sig.shape[1] % 8 == 0
    for i in range(0, len(a), PAIR_SLICE):
        eq = sig[a[i : i + PAIR_SLICE]] == sig[b[i : i + PAIR_SLICE]]
        if packed:  # eight equality bytes per word, summed by one multiplication
            words = np.ascontiguousarray(eq).view(np.uint64)
            out[i : i + PAIR_SLICE] = ((words * _BYTE_SUM) >> np.uint64(56)).sum(axis=1)
        else:
            out[i : i + PAIR_SLICE] = eq.sum(axis=1)
    return out


def _components(n: int, src: list[np.ndarray], dst: list[np.ndarray]) -> np.ndarray:
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    labels: np.ndarray
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def lsh_families(
    sig: np.ndarray, settings: PromptSettings, skeleton: np.ndarray | None = None
) -> np.ndarray:
    """Family label of each signature row: LSH banding proposes pairs (each row and the
    first row of its bucket, band by band), pairs whose estimated Jaccard reaches
    ``threshold`` are joined, families are the connected components.

    Rows marked in ``skeleton`` (fingerprinted by their template skeleton) join only at
    ``skeleton_threshold``: above one half, one text cannot match two disjoint skeletons
    (its template's and a recurring filler's), so families do not chain through it."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    def band_pairs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        head = bucket_heads(key)
        cand = np.flatnonzero(head != np.arange(n))
        # the share of positions that agree, as the mean of the equality matrix gives it
        sim = agreeing(sig, cand, head[cand]) / sig.shape[1]
        bar = np.full(len(cand), settings.threshold)
        if skeleton is not None:
            strict = skeleton[cand] | skeleton[head[cand]]
            bar[strict] = settings.skeleton_threshold
        ok = cand[sim >= bar]
        return ok, head[ok]

    # bands are independent: a thread each, joined in band order
    pairs = thread_map(band_pairs, _band_keys(sig, settings))
    src = [np.arange(n)] + [p[0] for p in pairs]
    dst = [np.arange(n)] + [p[1] for p in pairs]
    return _components(n, src, dst)


def plain_lsh_families(
    sig: np.ndarray, settings: PromptSettings, skeleton: np.ndarray | None = None
) -> np.ndarray:
    """:func:`lsh_families` the obvious way (the reference): each band's buckets by
    ``numpy.unique``, similarity as the mean of the equality matrix."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    src, dst = [np.arange(n)], [np.arange(n)]
    for key in _band_keys(sig, settings):
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        head = first[inverse]
        cand = np.flatnonzero(head != np.arange(n))
        sim = (sig[cand] == sig[head[cand]]).mean(axis=1)
        bar = np.full(len(cand), settings.threshold)
        if skeleton is not None:
            bar[skeleton[cand] | skeleton[head[cand]]] = settings.skeleton_threshold
        ok = cand[sim >= bar]
        src.append(ok)
        dst.append(head[ok])
    return _components(n, src, dst)
