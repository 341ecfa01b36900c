"""Numbering of masked texts' hashes batch by batch (``linker.prompts.numbering``)
against the obvious reference, ``dict.setdefault(key, len(dict))`` one key at a time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linker.prompts.numbering import KeyNumbering

KEYS = st.one_of(st.integers(0, 20), st.integers(2**64 - 5, 2**64 - 1), st.integers(0, 2**64 - 1))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(st.lists(KEYS, max_size=25), max_size=6))
def test_key_numbering_matches_setdefault(batches: list[list[int]]) -> None:
    reference: dict[int, int] = {}
    numbering = KeyNumbering()
    for batch in batches:
        expected = [reference.setdefault(k, len(reference)) for k in batch]
        got = numbering.number(np.array(batch, dtype=np.uint64))
        assert got.tolist() == expected
        assert len(numbering) == len(reference)


def test_key_numbering_on_seeded_batches() -> None:
    rng = np.random.default_rng(5)
    reference: dict[int, int] = {}
    numbering = KeyNumbering()
    for _ in range(20):
        batch = rng.integers(0, 3000, size=500).astype(np.uint64) * np.uint64(2**50)
        expected = [reference.setdefault(int(k), len(reference)) for k in batch]
        assert numbering.number(batch).tolist() == expected
    assert 2000 < len(numbering) <= 3000
