"""Template skeletons: the fixed wording of a template, found from the data.

A real template is often a short fixed instruction wrapped around a long varied input
("<a review> the sentiment expressed for the movie is"). Two of its fills share few word
bigrams, so MinHash over the whole text puts nearly every fill in a family of its own.
What tells the template is frequency: its fixed wording recurs across many *distinct*
texts, while the fillers are rare. This module finds, for each distinct masked text,
its **skeleton**: the shingles at its start and end that many distinct texts of the
run share. Texts with a skeleton are fingerprinted by it instead of by their whole text
(``linker.prompts.families``). Nothing here knows any template's wording.

Guards against everyday phrasing ("can you", "what is the") becoming a skeleton:

- a shingle counts only when it recurs in at least ``skeleton_min_df`` distinct texts;
- the frequent shingles must come in runs of ``skeleton_min_run`` consecutive shingles
  (a phrase, not scattered common pairs);
- a run is kept only when its shingles are at least ``skeleton_relative_df`` times as
  frequent as the text's most frequent run (so a filler that recurs, say a popular
  question pasted into several templates, does not tie those templates together);
- the skeleton needs ``skeleton_min_shingles`` distinct shingles, otherwise the text is
  fingerprinted whole, as before;
- only the first and last ``skeleton_window`` shingles of a text are looked at: an
  instruction sits at the start or the end. This also bounds what is kept per text.

Document frequencies are exact: the accumulator keeps each distinct text's window
shingles (8 bytes each, at most ``2 * skeleton_window`` per text) and counts them once
all batches are in, so the families do not depend on batch size or order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import rensa

from linker.prompts.threads import thread_map
from linker.settings import PromptSettings

_MIX = np.uint64(0x9E3779B97F4A7C15)


def text_hashes(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """pandas' 64-bit content hash of each text (``pd.util.hash_array``: the same text
    hashes alike in every run), as uint64. Each distinct text is hashed once (a value's
    hash does not depend on the others) and the rest taken by its dictionary index: no
    Python string per row."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if texts.null_count:  # pandas hashes a missing value its own way
        values = texts.to_numpy(zero_copy_only=False).astype(object)
        return np.asarray(pd.util.hash_array(values), dtype=np.uint64)
    encoded = pc.dictionary_encode(texts)
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    hashes = pd.util.hash_array(distinct, categorize=False).astype(np.uint64)
    out: np.ndarray = hashes[encoded.indices.to_numpy(zero_copy_only=False)]
    return out


def shingle_hashes(texts: pa.Array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The word ``k``-gram hashes of each text, flat and in text order, and the number of
    them per text (a text shorter than ``k`` words is one shingle of all its words).

    Word hashes come from pandas and are combined in numpy: no Python string per
    shingle. Returns ``(tokens uint64, n_tokens int64)``.
    """
    words = pc.utf8_split_whitespace(texts)
    lengths = pc.list_value_length(words).fill_null(0).to_numpy(zero_copy_only=False)
    hw = text_hashes(words.flatten())
    starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    n_tokens = np.maximum(lengths - (k - 1), 1).astype(np.int64)
    doc = np.repeat(np.arange(len(lengths)), n_tokens)
    pos = np.arange(n_tokens.sum()) - np.repeat(np.cumsum(n_tokens) - n_tokens, n_tokens)
    idx = starts[doc] + pos
    short = lengths[doc] < k
    tokens = np.zeros(len(idx), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            take = np.where(short, np.minimum(idx, len(hw) - 1), idx + j)
            part = hw[np.clip(take, 0, max(len(hw) - 1, 0))] if len(hw) else tokens
            valid = ~short | (j < lengths[doc])
            tokens = tokens * _MIX + np.where(valid, part, 0)
    return tokens, n_tokens


def minhash_rows(tokens: np.ndarray, n_tokens: np.ndarray, settings: PromptSettings) -> np.ndarray:
    """MinHash signatures (rensa) of the token sets given flat with their counts per row,
    as an (n, num_perm) int64 array."""
    offsets = np.r_[0, np.cumsum(n_tokens)].astype(np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(tokens, dtype=np.uint64),
        offsets,
        num_perm=settings.num_perm,
        seed=settings.seed,
    )
    return np.asarray(matrix.to_rows(), dtype=np.int64).reshape(len(n_tokens), settings.num_perm)


def _positions(n_tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of each flat token and its position within its row (int32: these arrays are
    as long as all the shingles kept)."""
    doc = np.repeat(np.arange(len(n_tokens), dtype=np.int32), n_tokens)
    # in int32 when the flat index fits: int64 temporaries cost 16 bytes a shingle
    wide = np.int32 if len(doc) < 2**31 else np.int64
    starts = (np.cumsum(n_tokens) - n_tokens).astype(wide)
    pos = (np.arange(len(doc), dtype=wide) - starts[doc]).astype(np.int32, copy=False)
    return doc, pos


class ShingleWindows:
    """The first and last ``window`` shingle hashes of each distinct text, kept across
    batches in the order the texts were first seen.

    Per text: its kept shingles (uint64) and its full number of shingles, so that the
    position of every kept shingle in the text is known.
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self._tokens: list[np.ndarray] = []
        self._kept: list[np.ndarray] = []
        self._total: list[np.ndarray] = []

    def add(self, tokens: np.ndarray, n_tokens: np.ndarray) -> None:
        """Keep the window shingles of the next texts (flat ``tokens``, ``n_tokens`` per
        text, as :func:`shingle_hashes` gives them)."""
        doc, pos = _positions(n_tokens)
        total = n_tokens[doc]
        keep = (pos < self.window) | (pos >= total - self.window)
        self._tokens.append(tokens[keep])
        self._kept.append(np.minimum(n_tokens, 2 * self.window).astype(np.int32))
        self._total.append(n_tokens.astype(np.int64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tokens, kept per text, total shingles per text)`` of every text added."""
        if not self._tokens:
            empty = np.zeros(0, np.int64)
            return np.zeros(0, np.uint64), empty, empty
        # one copy: the batches' arrays give way to their concatenation
        self._tokens = [np.concatenate(self._tokens)]
        self._kept = [np.concatenate(self._kept)]
        self._total = [np.concatenate(self._total)]
        return self._tokens[0], self._kept[0].astype(np.int64), self._total[0]


#: slices of the shingle hash space counted one at a time per thread
#: (:func:`document_frequency`): a power of two, a token's slice being its top bits
DF_SLICES = 32
_DF_SHIFT = np.uint64(64 - (DF_SLICES.bit_length() - 1))
#: tokens shifted, or compared with a slice, at a time (bounds those temporaries)
DF_STEP = 1 << 22


def document_frequency(tokens: np.ndarray, per_row: np.ndarray) -> np.ndarray:
    """For each flat token, the number of distinct rows holding it (int32). Tokens are
    stored row by row, ``per_row[i]`` of them for row i.

    Counted one slice of the hash space at a time (a shingle's rows all fall in its
    slice): the sort's working arrays, and the row of each token, are for a slice's
    tokens, not all of them."""
    n = len(tokens)
    df = np.zeros(n, dtype=np.int32)
    if n == 0:
        return df
    ends = np.cumsum(per_row)
    part = np.empty(n, dtype=np.uint8)
    step = DF_STEP
    for i in range(0, n, step):  # in steps: the shift would be 8 bytes a token at once
        part[i : i + step] = tokens[i : i + step] >> _DF_SHIFT

    def count(p: int) -> None:  # slices hold disjoint tokens: threads write apart
        # found a step at a time: a comparison over every token is a byte a token
        sel = np.concatenate(
            [np.flatnonzero(part[i : i + step] == p) + i for i in range(0, n, step)]
        )
        if len(sel):
            doc = np.searchsorted(ends, sel, side="right").astype(np.int32)
            df[sel] = _slice_frequency(tokens[sel], doc)

    thread_map(count, range(DF_SLICES))
    return df


def _slice_frequency(tokens: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """:func:`document_frequency` of one slice (``doc`` still non-decreasing)."""
    n = len(tokens)
    # a stable sort by shingle keeps each shingle's rows in order, so a (row, shingle)
    # pair is new where the shingle or the row changes
    order = np.argsort(tokens, kind="stable")
    ordered = tokens[order]
    new_token = np.r_[True, ordered[1:] != ordered[:-1]]
    del ordered
    rows = doc[order]
    new_pair = new_token | np.r_[True, rows[1:] != rows[:-1]]
    del rows
    group = np.cumsum(new_token, dtype=np.int32) - 1
    counts = np.bincount(group[new_pair]).astype(np.int32)
    df = np.empty(n, dtype=np.int32)
    df[order] = counts[group]
    return df


def _window_min(values: np.ndarray, follows: np.ndarray, run: int) -> np.ndarray:
    """Minimum of ``values`` over the ``run`` consecutive shingles starting at each token,
    0 where they leave the text or skip a position (``follows[i]``: token i+1 is the next
    shingle of token i's text)."""
    n = len(values)
    out = values.copy()
    whole = np.ones(n, dtype=bool)
    for k in range(1, run):
        np.minimum(out[: n - k], values[k:], out=out[: n - k])
        whole[: n - k] &= follows[k - 1 : n - 1]
        whole[max(n - k, 0) :] = False
    return np.where(whole, out, 0)


#: texts whose skeletons are found at a time per thread once document frequencies are
#: counted: everything after the counting is per text, so its working arrays are a chunk's
SKELETON_CHUNK = 1 << 17


def skeleton_tokens(
    tokens: np.ndarray, kept: np.ndarray, total: np.ndarray, settings: PromptSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The skeleton of each text from its window shingles (see the module docstring).

    ``tokens``/``kept``/``total`` as :meth:`ShingleWindows.arrays` gives them. Returns
    ``(texts, skeleton tokens flat, skeleton tokens per text)``: the indices of the texts
    that have a skeleton, and their skeleton shingles (distinct within a text).
    Document frequencies are counted over every text, the rest ``SKELETON_CHUNK`` texts
    at a time (the same result in less memory).
    """
    none = (np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.int64))
    if len(tokens) == 0:
        return none
    df = document_frequency(tokens, kept)
    bounds = np.r_[0, np.cumsum(kept)]

    def chunk(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stop = min(start + SKELETON_CHUNK, len(kept))
        lo, hi = bounds[start], bounds[stop]
        texts, tok, size = _chunk_skeletons(
            tokens[lo:hi], df[lo:hi], kept[start:stop], total[start:stop], settings
        )
        return texts + start, tok, size

    parts = thread_map(chunk, range(0, len(kept), SKELETON_CHUNK))
    texts, tok, size = (np.concatenate(p) for p in zip(*parts, strict=True))
    return texts, tok, size


def _chunk_skeletons(
    tokens: np.ndarray,
    df: np.ndarray,
    kept: np.ndarray,
    total: np.ndarray,
    settings: PromptSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`skeleton_tokens` of consecutive texts whose document frequencies (``df``,
    per token, over every text) are known."""
    doc, local = _positions(kept)
    w = settings.skeleton_window
    cut = (total > 2 * w)[doc] & (local >= w)
    # position in the text: the tail window of a long text starts total - w in
    pos = local + np.where(cut, (total - kept).astype(np.int32)[doc], np.int32(0))
    del local, cut
    # token i+1 is the next shingle of the same text (not across the cut window)
    follows = (doc[1:] == doc[:-1]) & (pos[1:] == pos[:-1] + 1)
    follows = np.r_[follows, False]
    del pos
    run = settings.skeleton_min_run
    # the text's strongest phrase: the best minimum frequency over `run` consecutive
    # shingles; a shingle is strong when it recurs in enough texts, and at least
    # skeleton_relative_df as often as that phrase
    bounds = np.r_[0, np.cumsum(kept)[:-1]]
    ref = np.maximum.reduceat(_window_min(df, follows, run), bounds).astype(np.float64)
    bar = np.maximum(settings.skeleton_min_df, settings.skeleton_relative_df * ref)
    bar[ref < settings.skeleton_min_df] = np.inf
    strong = df >= bar.astype(np.float32)[doc]
    # runs of consecutive strong shingles, kept when at least `run` long
    brk = np.r_[True, ~follows[:-1] | (strong[1:] != strong[:-1])]
    run_id = np.cumsum(brk, dtype=np.int32) - 1
    run_len = np.diff(np.r_[np.flatnonzero(brk), len(brk)])
    in_run = strong & (run_len >= run)[run_id]
    del brk, run_id, strong, follows
    # a text that is mostly fixed wording keeps its whole-text fingerprint: it joins
    # its template's other fills by the whole text already (see skeleton_threshold)
    cover = np.bincount(doc[in_run], minlength=len(kept)) / total
    sel_doc, sel_tok = doc[in_run], tokens[in_run]
    order = np.lexsort((sel_tok, sel_doc))
    sel_doc, sel_tok = sel_doc[order], sel_tok[order]
    distinct = np.ones(len(sel_doc), dtype=bool)
    distinct[1:] = (sel_doc[1:] != sel_doc[:-1]) | (sel_tok[1:] != sel_tok[:-1])
    sel_doc, sel_tok = sel_doc[distinct], sel_tok[distinct]
    size = np.bincount(sel_doc, minlength=len(kept))
    ok = (size >= run) & (cover < settings.skeleton_threshold)
    keep = ok[sel_doc]
    texts = np.flatnonzero(ok)
    return texts, sel_tok[keep], size[texts]


def skeleton_signatures(
    sig: np.ndarray, windows: ShingleWindows, settings: PromptSettings, slice_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """``sig`` (one MinHash row per distinct text) with the rows of texts that have a
    skeleton replaced, in place, by the MinHash of their skeleton; and a boolean mask of
    those rows. Signatures are computed ``slice_rows`` texts at a time (rensa returns
    Python lists)."""
    replaced = np.zeros(len(sig), dtype=bool)
    if not settings.skeleton:
        return sig, replaced
    texts, tokens, sizes = skeleton_tokens(*windows.arrays(), settings)
    replaced[texts] = True
    if len(texts) == 0:
        return sig, replaced
    offsets = np.r_[0, np.cumsum(sizes)]

    def fingerprint(i: int) -> None:  # slices hold disjoint rows: threads write apart
        rows = slice(i, i + slice_rows)
        part = tokens[offsets[i] : offsets[min(i + slice_rows, len(texts))]]
        sig[texts[rows]] = minhash_rows(part, sizes[rows], settings).astype(sig.dtype)

    thread_map(fingerprint, range(0, len(texts), slice_rows))
    return sig, replaced
