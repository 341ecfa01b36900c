"""Distillation intent: a linear model over hashed character n-grams.

A prompt has *distillation intent* when it is written to harvest training data from a
model: instruction-generation prompts, templated task prompts with many fillers,
chain-of-thought, grading or rewrite requests sent by tooling. The model is learned
from public corpora of such prompts and of everyday prompts (``scripts/train_intent.py``;
figures in ``benchmarks/results/intent.json`` and docs/prompts.md) and shipped as
package data (``intent_model.npz``): no phrase list, no vocabulary, no network.

Texts are lower-cased, digits folded to ``0`` and whitespace collapsed (pyarrow, RE2),
cut to their first ``head_chars`` and last ``tail_chars`` characters, and hashed into
character n-grams within word boundaries (scikit-learn's ``HashingVectorizer``, any
script); the score is a logistic regression on those counts.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix

from linker.errors import LinkerError

#: the shipped model, in this package
MODEL_FILE = "intent_model.npz"
#: texts scored at a time (bounds the transient memory: ~100 bytes per character)
SCORE_SLICE = 4096
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


class IntentModelError(LinkerError):
    """The intent model file is missing, malformed or not the one the settings name."""


@dataclass(frozen=True)
class IntentFeatures:
    """How a text becomes a feature vector; stored with the weights, so training and
    scoring hash alike."""

    ngram_min: int = 2
    ngram_max: int = 5
    n_features: int = 2**18
    #: a long text is scored on its beginning and its end (where instructions sit),
    #: which bounds the cost per text
    head_chars: int = 1500
    tail_chars: int = 500

    def __post_init__(self) -> None:
        n = self.n_features
        if n < 2 or n & (n - 1) or not 1 <= self.ngram_min <= self.ngram_max:
            raise IntentModelError(
                f"n_features must be a power of two and 1 <= ngram_min <= ngram_max: {self}"
            )

    def prepare(self, texts: pa.Array) -> list[str]:
        """Lower-case, fold digits and whitespace, and cut each text; returns strings."""
        prepared: list[str] = self._prepared(texts).to_pylist()
        return prepared

    def _prepared(self, texts: pa.Array) -> pa.Array:
        """:meth:`prepare` as a pyarrow text array."""
        out = pc.utf8_lower(texts.fill_null(""))
        # digit runs become 0 and space runs one space: the patterns leave out the runs
        # already so (a lone 0, a lone space), which are most and change nothing
        out = pc.replace_substring_regex(out, r"\d\d+|[1-9]", "0")
        out = pc.replace_substring_regex(out, r"\s\s+|[\t\n\f\r]", " ")
        keep = self.head_chars + self.tail_chars
        lengths = pc.utf8_length(out)
        long = pc.greater(lengths, keep)
        if pc.any(long).as_py():
            head = pc.utf8_slice_codeunits(out, 0, self.head_chars)
            tail = pc.utf8_slice_codeunits(out, -self.tail_chars)
            cut = pc.binary_join_element_wise(head, tail, " ")
            out = pc.if_else(long, cut, out)
        return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out

    def _joined(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """The prepared texts, each padded with a space at both ends (so word starts
        and ends are n-grams too), as one array of code points, and their lengths.
        Decoded from pyarrow's buffer at once: no Python string per text."""
        padded = pc.binary_join_element_wise(" ", self._prepared(texts), " ", "")
        padded = padded.cast(pa.large_string())
        lengths = pc.utf8_length(padded).to_numpy(zero_copy_only=False).astype(np.int64)
        if len(padded) == 0:
            return np.zeros(0, np.uint32), lengths
        _, offsets, data = padded.buffers()
        ends = np.frombuffer(offsets, np.int64)[padded.offset : padded.offset + len(padded) + 1]
        text = data.to_pybytes()[ends[0] : ends[-1]].decode("utf-8")
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), lengths

    def _buckets(
        self, chars: np.ndarray, lengths: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For each n-gram size: (text index, bucket) at every position of ``chars``,
        and the positions whose n-gram would run past its text's end (the last n - 1 of
        each text). The arrays are reused in place: each step's are valid until the next."""
        text_of = np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)
        ends = np.cumsum(lengths)
        code = chars.astype(np.uint64)
        rolling = np.zeros(len(chars), np.uint64)
        bucket = np.empty(len(chars), np.uint64)
        mask = np.uint64(self.n_features - 1)
        with np.errstate(over="ignore"):
            for n in range(1, self.ngram_max + 1):
                # rolling[p] = hash of chars[p : p + n], from the hash of chars[p : p + n - 1]
                m = max(len(chars) - n + 1, 0)
                rolling = rolling[:m]
                rolling *= _PRIME
                rolling += code[n - 1 : n - 1 + m]
                if n >= self.ngram_min:
                    out = bucket[:m]
                    np.bitwise_xor(rolling, np.uint64(n), out=out)
                    out *= _MIX
                    out >>= np.uint64(29)
                    out &= mask
                    past = np.concatenate(
                        [np.zeros(0, np.intp)] + [(ends - k)[lengths >= k] for k in range(1, n)]
                    )
                    # below 2**63 (masked): the same numbers as signed indices
                    yield text_of[:m], out.view(np.intp), past[past < m]

    def _counts(self, lengths: np.ndarray) -> np.ndarray:
        sizes = np.arange(self.ngram_min, self.ngram_max + 1)
        counts: np.ndarray = np.maximum(lengths[:, None] - sizes[None, :] + 1, 0).sum(axis=1)
        return counts

    def ngrams(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every character n-gram of every prepared text, hashed into ``n_features``
        buckets with numpy: returns (text index, bucket) of each n-gram, and the number
        of n-grams of each text."""
        chars, lengths = self._joined(texts)
        doc, bucket = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for t, b, past in self._buckets(chars, lengths):
            inside = np.ones(len(t), bool)
            inside[past] = False
            doc.append(t[inside].astype(np.int64))
            bucket.append(b[inside].astype(np.int64))
        return np.concatenate(doc), np.concatenate(bucket), self._counts(lengths)

    def dot(self, texts: pa.Array, weights: np.ndarray) -> np.ndarray:
        """Each text's feature vector times ``weights``, without building the matrix."""
        chars, lengths = self._joined(texts)
        total = np.zeros(len(lengths))
        # float32 weights are exact in float64, which bincount sums in
        wide = weights.astype(np.float64)
        for text_of, bucket, past in self._buckets(chars, lengths):
            w = wide[bucket]
            w[past] = 0.0
            total += np.bincount(text_of, weights=w, minlength=len(lengths))
        scores: np.ndarray = total / np.sqrt(np.maximum(self._counts(lengths), 1))
        return scores

    def transform(self, texts: pa.Array) -> csr_matrix:
        """The feature matrix, one row per text: each bucket's n-gram count over the
        square root of the text's n-gram count (an empty text has its padding's)."""
        doc, bucket, counts = self.ngrams(texts)
        values = 1.0 / np.sqrt(np.maximum(counts[doc], 1))
        shape = (len(counts), self.n_features)
        return csr_matrix((values, (doc, bucket)), shape=shape)


@dataclass(frozen=True)
class IntentModel:
    """Weights, bias and default threshold of the intent model, and its features."""

    weights: np.ndarray
    bias: float
    #: probability at or above which a text is flagged, chosen when training
    threshold: float
    features: IntentFeatures

    @property
    def digest(self) -> str:
        """``intent-`` and the first 12 hex digits of the SHA-256 of the weights, bias
        and feature parameters: names the model in settings and run.json."""
        h = hashlib.sha256(np.ascontiguousarray(self.weights, dtype=np.float32).tobytes())
        h.update(repr((float(self.bias), self.features)).encode())
        return "intent-" + h.hexdigest()[:12]

    def scores(self, texts: pa.Array) -> np.ndarray:
        """Probability of distillation intent of each text (float64 array)."""
        out = np.zeros(len(texts))
        for start in range(0, len(texts), SCORE_SLICE):
            part = texts.slice(start, SCORE_SLICE)
            z = self.features.dot(part, self.weights) + self.bias
            out[start : start + len(part)] = 1.0 / (1.0 + np.exp(-z))
        return out

    def flags(self, texts: pa.Array, threshold: float | None = None) -> np.ndarray:
        """Boolean array: the texts whose score reaches ``threshold`` (the model's own
        when None)."""
        cut = self.threshold if threshold is None else threshold
        return self.scores(texts) >= cut

    def save(self, path: Path) -> None:
        """Write the model as a compressed .npz (weights as float32)."""
        f = self.features
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            weights=self.weights.astype(np.float32),
            bias=np.float64(self.bias),
            threshold=np.float64(self.threshold),
            features=np.array(
                [f.ngram_min, f.ngram_max, f.n_features, f.head_chars, f.tail_chars], np.int64
            ),
        )
        path.write_bytes(buffer.getvalue())


def _from_bytes(data: bytes, where: str) -> IntentModel:
    try:
        with np.load(io.BytesIO(data)) as npz:
            lo, hi, n, head, tail = (int(v) for v in npz["features"])
            features = IntentFeatures(lo, hi, n, head, tail)
            weights = npz["weights"].astype(np.float32)
            bias, threshold = float(npz["bias"]), float(npz["threshold"])
    except (OSError, KeyError, ValueError) as err:
        raise IntentModelError(f"{where}: not an intent model ({err})") from err
    if weights.shape != (features.n_features,):
        raise IntentModelError(f"{where}: {weights.shape[0]} weights for {n} features")
    return IntentModel(weights, bias, threshold, features)


def load_model(path: Path | None = None) -> IntentModel:
    """The intent model in ``path``, or the one shipped in this package when None
    (read once). Raises :class:`IntentModelError` when it cannot be read."""
    if path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise IntentModelError(f"cannot read the intent model {path}: {err}") from err
        return _from_bytes(data, str(path))
    return _shipped()


@lru_cache(maxsize=1)
def _shipped() -> IntentModel:
    try:
        data = resources.files("linker.prompts").joinpath(MODEL_FILE).read_bytes()
    except OSError as err:
        raise IntentModelError(f"the shipped intent model {MODEL_FILE} is missing: {err}") from err
    return _from_bytes(data, MODEL_FILE)


#: distinct texts handed over at once from which intent is scored in a worker process
#: (alongside the rest of the prompt stage) rather than in this one; fewer do not pay
#: for starting one
POOL_MIN_TEXTS = 20_000
#: batches handed to the worker and not scored yet before the caller waits for one
#: (bounds the texts held for it)
POOL_MAX_PENDING = 2

_WORKER_MODEL: IntentModel | None = None


def _start_worker(model: IntentModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model


def _worker_flags(texts: pa.Array, threshold: float) -> np.ndarray:
    assert _WORKER_MODEL is not None  # set by the pool's initializer
    return _WORKER_MODEL.flags(texts, threshold)


class IntentFlags:
    """Intent flags of texts handed over batch by batch, read back in order by
    :meth:`collect`. With ``workers`` (one when None and the machine has two cores or
    more), a batch of :data:`POOL_MIN_TEXTS` texts or more is scored in a worker process
    while the caller goes on; the flags are the same either way (the same model and
    code score each text on its own)."""

    def __init__(self, model: IntentModel, threshold: float, workers: int | None = None):
        self.model = model
        self.threshold = threshold
        self.workers = (1 if (os.cpu_count() or 1) > 1 else 0) if workers is None else workers
        self._parts: list[np.ndarray | Future[np.ndarray]] = []
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, texts: pa.Array) -> None:
        """Score ``texts`` (here, or in the worker when there are enough of them)."""
        if self._pool is None and self.workers > 0 and len(texts) >= POOL_MIN_TEXTS:
            self._pool = ProcessPoolExecutor(
                self.workers,
                # forked: a spawned worker would import the caller's main module again
                # (a script without a main guard would run twice)
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(self.model,),
            )
        if self._pool is None:
            self._parts.append(self.model.flags(texts, self.threshold))
            return
        pending = [p for p in self._parts if isinstance(p, Future) and not p.done()]
        if len(pending) >= POOL_MAX_PENDING:
            pending[0].result()
        self._parts.append(self._pool.submit(_worker_flags, texts, self.threshold))

    def collect(self) -> np.ndarray:
        """The flags of every text handed over, in order; stops the worker. Raises
        what scoring raised."""
        try:
            parts = [p.result() if isinstance(p, Future) else p for p in self._parts]
        finally:
            self.close()
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def close(self) -> None:
        """Stop the worker, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
