"""The prompt stage's LSH families (``linker.prompts.lsh``): hashed buckets and packed
similarity counts against the plain reference (sorted buckets, the mean of the equality
matrix), on seeded random signatures with planted near-copies (seed in the test id),
with and without skeleton rows, and signature widths that do and do not pack into
words."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from linker.prompts import lsh
from linker.prompts.lsh import agreeing, bucket_heads, lsh_families, plain_lsh_families
from linker.settings import PromptSettings

SEEDS = [1, 2, 3]
WIDTHS = [(64, 16), (12, 4), (20, 5)]


def _signatures(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """``n`` signatures: a few templates, each copied with some positions redrawn (so
    that pairs fall on both sides of the thresholds), plus unrelated rows."""
    bases = rng.integers(0, 50, size=(max(n // 20, 1), width), dtype=np.uint32)
    sig = bases[rng.integers(0, len(bases), size=n)].copy()
    noise = rng.random((n, width)) < rng.choice([0.1, 0.3, 0.5, 0.9], size=(n, 1))
    sig[noise] = rng.integers(0, 50, size=int(noise.sum()), dtype=np.uint32)
    return sig


@pytest.mark.parametrize("width,bands", WIDTHS, ids=[f"w{w}" for w, _ in WIDTHS])
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_lsh_families_match_the_plain_reference(
    seed: int, width: int, bands: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    sig = _signatures(rng, 3000, width)
    skeleton = rng.random(len(sig)) < 0.3
    # small slices, so that the slicing of candidate pairs is exercised
    monkeypatch.setattr(lsh, "PAIR_SLICE", 97)
    for threshold in (0.5, 0.7):
        prompt = PromptSettings(num_perm=width, bands=bands, threshold=threshold)
        fast = lsh_families(sig, prompt)
        plain = plain_lsh_families(sig, prompt)
        assert np.array_equal(fast, plain)
        assert 1 < len(np.unique(fast)) < len(sig)  # the case is not trivial
        with_skeleton = lsh_families(sig, prompt, skeleton)
        assert np.array_equal(with_skeleton, plain_lsh_families(sig, prompt, skeleton))


@settings(derandomize=True, max_examples=100, deadline=None)
@given(
    hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(-3, 3)),
)
def test_bucket_heads_are_the_first_row_of_each_key(key: np.ndarray) -> None:
    heads = bucket_heads(key)
    expected = [int(np.flatnonzero(key == k)[0]) for k in key]
    assert heads.tolist() == expected


@settings(derandomize=True, max_examples=100, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda w: hnp.arrays(np.uint32, (6, w), elements=st.integers(0, 2).map(np.uint32))
    )
)
def test_agreeing_counts_equal_positions(sig: np.ndarray) -> None:
    a = np.array([0, 1, 2, 3, 4, 5, 0])
    b = np.array([5, 4, 3, 2, 1, 0, 0])
    expected = [int((sig[i] == sig[j]).sum()) for i, j in zip(a, b, strict=True)]
    assert agreeing(sig, a, b).tolist() == expected
