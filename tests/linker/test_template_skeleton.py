"""Template skeletons (linker/prompts/skeleton.py): fills of a template with long varied
inputs join one family, everyday phrasing stays apart, the streaming accumulator gives
the same families in any batch size, the vectorised skeleton equals a slow reference,
and the cost stays bounded.

Every text here is built in the test from a seeded pseudo-word vocabulary; none is
taken from a corpus or from the generator."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import linker.prompts.skeleton as skeleton_module
from linker.prompts.families import analyse, lsh_families
from linker.prompts.skeleton import (
    DF_SLICES,
    ShingleWindows,
    document_frequency,
    minhash_rows,
    shingle_hashes,
    skeleton_signatures,
    skeleton_tokens,
    text_hashes,
)
from linker.settings import PromptSettings
from tests.helpers import ts

#: the stage with template skeletons on (they are off by default: linker/settings.py)
ON = PromptSettings(skeleton=True)

_SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "pe", "du", "ga", "zi", "bo", "he"]


def _vocabulary(rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    words = {"".join(rng.choice(_SYLLABLES, int(rng.integers(2, 5)))) for _ in range(3 * n)}
    return rng.permutation(sorted(words))[:n]


#: Zipf word frequencies (p ~ 1/rank, the top word ~11%), so that fillers have common
#: words and pairs of their own, as prose does
_CDF = np.cumsum(1.0 / np.arange(1, 4001)) / np.sum(1.0 / np.arange(1, 4001))


def _passage(rng: np.random.Generator, vocab: np.ndarray, lo: int, hi: int) -> str:
    ranks = np.searchsorted(_CDF, rng.random(int(rng.integers(lo, hi + 1))))
    return " ".join(vocab[np.minimum(ranks, len(vocab) - 1)])


def _fills(
    rng: np.random.Generator, vocab: np.ndarray, instruction: str, n: int, at_end: bool
) -> list[str]:
    out = []
    for _ in range(n):
        body = _passage(rng, vocab, 40, 150)
        out.append(f"{body} {instruction}" if at_end else f"{instruction} {body}")
    return out


def _families(texts: list[str], settings: PromptSettings, batch: int = 4096) -> np.ndarray:
    """Family label of each text, the way the accumulator computes it."""
    arr = pa.array(texts, type=pa.string())
    windows, sigs = ShingleWindows(settings.skeleton_window), []
    for i in range(0, len(arr), batch):
        tokens, n_tokens = shingle_hashes(arr.slice(i, batch), settings.shingle)
        sigs.append(minhash_rows(tokens, n_tokens, settings).astype(np.uint32))
        windows.add(tokens, n_tokens)
    sig, skeleton = skeleton_signatures(np.concatenate(sigs), windows, settings, 1000)
    return lsh_families(sig, settings, skeleton)


ASK_END = "given the passage above which of the statements is most likely true"
ASK_START = "summarise the following notes for a weekly status report to the board"


@pytest.mark.parametrize("seed", [1, 2, 3], ids=lambda s: f"seed{s}")
def test_fills_of_one_template_join_one_family(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    end = _fills(rng, vocab, ASK_END, 80, at_end=True)
    start = _fills(rng, vocab, ASK_START, 80, at_end=False)
    other = [_passage(rng, vocab, 8, 60) for _ in range(200)]
    texts = end + start + other
    fam = _families(texts, ON)
    assert len(set(fam[:80])) == 1
    assert len(set(fam[80:160])) == 1
    assert fam[0] != fam[80]
    assert not set(fam[160:]) & {fam[0], fam[80]}
    # the problem it solves: by the whole text, nearly every fill is a family of its own
    whole = _families(texts, PromptSettings(skeleton=False))
    assert len(set(whole[:80])) > 60 and len(set(whole[80:160])) > 60


def test_mostly_fixed_texts_keep_their_whole_text_fingerprint() -> None:
    # a slot-filled template whose fixed wording is most of the text already joins by
    # the whole text; the skeleton leaves it alone, so such families do not change
    rng = np.random.default_rng(10)
    vocab = _vocabulary(rng)
    texts = [f"{ASK_START} {_passage(rng, vocab, 1, 2)}" for _ in range(50)]
    texts += [_passage(rng, vocab, 8, 40) for _ in range(50)]
    settings = ON
    windows = ShingleWindows(settings.skeleton_window)
    tokens, n_tokens = shingle_hashes(pa.array(texts), settings.shingle)
    windows.add(tokens, n_tokens)
    sig = minhash_rows(tokens, n_tokens, settings)
    _, skeleton = skeleton_signatures(sig, windows, settings, 1000)
    assert not skeleton[:50].any()
    fam = _families(texts, settings)
    whole = _families(texts, PromptSettings(skeleton=False))
    assert len(set(zip(fam, whole, strict=True))) == len(set(fam)) == len(set(whole))


@pytest.mark.parametrize("seed", [1, 2], ids=lambda s: f"seed{s}")
def test_everyday_phrasing_stays_apart(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    # openers up to four words, each shared by ~60 texts, followed by varied words
    openers = ["can you", "what is the", "how do i", "please write a", "could you help me"]
    texts = [f"{openers[i % len(openers)]} {_passage(rng, vocab, 6, 30)}" for i in range(300)]
    fam = _families(texts, ON)
    assert len(set(fam)) == len(texts)


def test_the_shortest_skeleton_is_pinned() -> None:
    # the boundary of the guards above: a phrase of skeleton_min_run + 1 words that
    # opens skeleton_min_df distinct texts is a skeleton; one text or one word fewer, not
    s = ON
    rng = np.random.default_rng(4)
    vocab = _vocabulary(rng)
    phrase = "kindly restate each of these notes in plain words for the team"
    words = " ".join(phrase.split(" ")[: s.skeleton_min_run + 1])
    shorter = " ".join(phrase.split(" ")[: s.skeleton_min_run])
    body = [_passage(rng, vocab, 10, 30) for _ in range(s.skeleton_min_df)]
    assert len(set(_families([f"{words} {b}" for b in body], s))) == 1
    assert len(set(_families([f"{words} {b}" for b in body[1:]], s))) == len(body) - 1
    assert len(set(_families([f"{shorter} {b}" for b in body], s))) == len(body)


@pytest.mark.parametrize("relative", [0.0, 0.25])
def test_a_popular_filler_stays_out_of_the_skeleton(relative: float) -> None:
    # one long passage pasted into six fills of each of two templates recurs in 12
    # texts: frequent enough to pass for fixed wording. Measured against each text's
    # strongest run (the instruction, in ~106 texts) it is a filler, and every fill stays
    # with its template; without that rule the 12 texts leave their templates' families
    rng = np.random.default_rng(5)
    vocab = _vocabulary(rng)
    popular = _passage(rng, vocab, 60, 60)
    a = _fills(rng, vocab, ASK_END, 100, at_end=True)
    a += [f"{popular} {_passage(rng, vocab, 2, 4)} {ASK_END}" for _ in range(6)]
    b = _fills(rng, vocab, ASK_START, 100, at_end=False)
    b += [f"{ASK_START} {_passage(rng, vocab, 2, 4)} {popular}" for _ in range(6)]
    fam = _families(a + b, replace(ON, skeleton_relative_df=relative))
    fam_a, fam_b = fam[: len(a)], fam[len(a) :]
    assert fam_a[0] != fam_b[0]
    with_popular = np.r_[fam_a[100:], fam_b[100:]]
    if relative:
        assert len(set(fam_a)) == 1 and len(set(fam_b)) == 1
    else:
        assert not set(with_popular) & {fam_a[0], fam_b[0]}


@pytest.mark.parametrize("threshold", [0.45, 0.7])
def test_a_text_holding_two_skeletons_does_not_chain_them(threshold: float) -> None:
    # two instructions of 11 shingles, each in 60 texts, and 40 texts holding both (a
    # template whose filler is itself a recurring text). Such a text's Jaccard with each
    # skeleton is 11/22 = 1/2 (and the two always sum to 1): at a bar up to one half it
    # joins both and chains the two families; at skeleton_threshold, well above one
    # half, it joins neither
    rng = np.random.default_rng(9)
    vocab = _vocabulary(rng)
    first = _fills(rng, vocab, ASK_END, 60, at_end=True)
    second = _fills(rng, vocab, ASK_START, 60, at_end=False)
    both = [f"{ASK_START} {_passage(rng, vocab, 2, 5)} {ASK_END}" for _ in range(40)]
    fam = _families(first + second + both, replace(ON, skeleton_threshold=threshold))
    assert len(set(fam[:60])) == 1 and len(set(fam[60:120])) == 1
    assert (fam[0] == fam[60]) == (threshold < 0.5)
    assert (fam[120] in (fam[0], fam[60])) == (threshold < 0.5)


def _prompt_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    rows = []
    for k in range(12):  # a campaign: each account sends fills of the template
        for j, text in enumerate(_fills(rng, vocab, ASK_END, 8, at_end=True)):
            rows.append((f"c{k}", ts(60 * k + j), text))
    for k in range(40):  # everyday users
        for j in range(6):
            rows.append((f"u{k}", ts(60 * k + j), f"can you {_passage(rng, vocab, 6, 40)}"))
    frame = pd.DataFrame(rows, columns=["account_id", "ts", "text"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_any_batch_size_gives_the_same_families() -> None:
    prompts = _prompt_table(6)
    results = [analyse(prompts, ON, batch_rows=b) for b in (7, 61, 500, len(prompts))]
    first = results[0]
    campaign = first.memberships[first.memberships["account_id"].str.startswith("c")]
    assert campaign["account_id"].nunique() == 12 and campaign["value"].nunique() == 1
    assert not first.memberships["account_id"].str.startswith("u").any()
    for other in results[1:]:
        pd.testing.assert_frame_equal(
            first.memberships.sort_values(["account_id", "value"]).reset_index(drop=True),
            other.memberships.sort_values(["account_id", "value"]).reset_index(drop=True),
        )
        pd.testing.assert_frame_equal(first.account_features, other.account_features)


def _reference(docs: list[list[int]], s: PromptSettings) -> dict[int, set[int]]:
    """The skeleton of each text, computed the slow, obvious way."""
    w, run = s.skeleton_window, s.skeleton_min_run
    windows = [{p: t for p, t in enumerate(d) if p < w or p >= len(d) - w} for d in docs]
    df = Counter(t for win in windows for t in set(win.values()))
    out: dict[int, set[int]] = {}
    for i, win in enumerate(windows):
        ref = max(
            (
                min(df[win[p + k]] for k in range(run))
                for p in win
                if all(p + k in win for k in range(run))
            ),
            default=0,
        )
        if ref < s.skeleton_min_df:
            continue
        bar = max(s.skeleton_min_df, s.skeleton_relative_df * ref)
        strong = {p for p, t in win.items() if df[t] >= bar}
        skeleton: set[int] = set()
        covered = 0
        for p in strong:
            if p - 1 in strong:
                continue
            stretch = [p]
            while stretch[-1] + 1 in strong:
                stretch.append(stretch[-1] + 1)
            if len(stretch) >= run:
                skeleton |= {win[q] for q in stretch}
                covered += len(stretch)
        # a text mostly made of its skeleton keeps its whole-text fingerprint
        if len(skeleton) >= run and covered / len(docs[i]) < s.skeleton_threshold:
            out[i] = skeleton
    return out


@pytest.mark.parametrize("chunk", [None, 7], ids=["one-chunk", "chunks-of-7"])
@pytest.mark.parametrize("seed", range(8), ids=lambda s: f"seed{s}")
def test_skeleton_tokens_match_a_slow_reference(
    seed: int, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # texts are taken a chunk at a time once frequencies are counted: any chunk size
    # gives the reference's skeletons
    if chunk is not None:
        monkeypatch.setattr(skeleton_module, "SKELETON_CHUNK", chunk)
    rng = np.random.default_rng(seed)
    s = replace(
        ON,
        skeleton_window=int(rng.integers(2, 8)),
        skeleton_min_df=int(rng.integers(2, 6)),
        skeleton_min_run=int(rng.integers(1, 5)),
        skeleton_relative_df=float(rng.choice([0.0, 0.3, 0.7])),
        skeleton_threshold=float(rng.choice([0.5, 0.7, 1.01])),
    )
    # a few shared phrases among random tokens, so every rule is exercised
    phrases = [list(rng.integers(0, 30, int(rng.integers(2, 6)))) for _ in range(4)]
    docs = []
    for _ in range(150):
        doc = list(rng.integers(0, 400, int(rng.integers(1, 25))))
        for _ in range(int(rng.integers(0, 3))):
            at = int(rng.integers(0, len(doc) + 1))
            doc[at:at] = phrases[int(rng.integers(len(phrases)))]
        docs.append(doc)
    windows = ShingleWindows(s.skeleton_window)
    flat = np.asarray([t for d in docs for t in d], dtype=np.uint64)
    windows.add(flat, np.asarray([len(d) for d in docs], dtype=np.int64))
    texts, tokens, sizes = skeleton_tokens(*windows.arrays(), s)
    parts = np.split(tokens, np.cumsum(sizes)[:-1]) if len(sizes) else []
    got = {int(t): {int(x) for x in part} for t, part in zip(texts, parts, strict=True)}
    assert got == _reference(docs, s)


@pytest.mark.parametrize("step", [7, 1 << 22])
@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
def test_document_frequency_counts_each_row_once_in_every_slice(
    seed: int, step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skeleton_module, "DF_STEP", step)  # tokens looked at a step at a time
    # full-width 64-bit shingles (as hashes are), so every slice of the hash space
    # holds some; rows repeat shingles, which count once per row
    rng = np.random.default_rng(seed)
    vocab = rng.integers(0, 2**63, 300, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    rows = [rng.choice(vocab, int(rng.integers(1, 40))) for _ in range(200)]
    tokens = np.concatenate(rows)
    holders = Counter(t for r in rows for t in set(r.tolist()))
    top_bits = 64 - (DF_SLICES.bit_length() - 1)
    assert len({int(t) >> top_bits for t in tokens}) == DF_SLICES
    expected = np.asarray([holders[t] for t in tokens.tolist()], dtype=np.int32)
    per_row = np.asarray([len(r) for r in rows])
    np.testing.assert_array_equal(document_frequency(tokens, per_row), expected)


def test_windows_bound_what_is_kept_per_text() -> None:
    rng = np.random.default_rng(7)
    vocab = _vocabulary(rng)
    texts = pa.array([_passage(rng, vocab, 400, 900) for _ in range(50)])
    windows = ShingleWindows(32)
    windows.add(*shingle_hashes(texts, 2))
    tokens, kept, total = windows.arrays()
    assert (kept == 64).all() and (total > 64).all() and len(tokens) == 64 * 50


def test_run_time_is_bounded() -> None:
    # 20,000 distinct texts of ~100 words: the skeleton pass (frequencies, runs, new
    # signatures) takes about a second on one free core; the bound leaves room for a
    # loaded machine
    rng = np.random.default_rng(8)
    vocab = _vocabulary(rng)
    texts = _fills(rng, vocab, ASK_END, 10_000, at_end=True)
    texts += [_passage(rng, vocab, 40, 150) for _ in range(10_000)]
    settings = ON
    windows = ShingleWindows(settings.skeleton_window)
    tokens, n_tokens = shingle_hashes(pa.array(texts), settings.shingle)
    windows.add(tokens, n_tokens)
    sig = minhash_rows(tokens, n_tokens, settings)
    start = time.process_time()
    _, replaced = skeleton_signatures(sig, windows, settings, slice_rows=16_384)
    elapsed = time.process_time() - start
    assert replaced[:10_000].all()
    assert elapsed < 15.0


@pytest.mark.parametrize("seed", [1, 2])
def test_text_hashes_are_pandas_hashes_of_each_text(seed: int) -> None:
    """Hashing each distinct text once gives every row pandas' hash of its own text."""
    rng = np.random.default_rng(seed)
    words = ["", "a", "b", "é中", "a b", "x" * 40]
    texts = [str(w) for w in rng.choice(words, size=5_000)]
    want = pd.util.hash_array(np.asarray(texts, dtype=object)).astype(np.uint64)
    assert np.array_equal(text_hashes(pa.array(texts, pa.string())), want)
    with_null = pa.array([*texts[:10], None], pa.string())
    want = pd.util.hash_array(np.asarray([*texts[:10], None], dtype=object)).astype(np.uint64)
    assert np.array_equal(text_hashes(with_null), want)
