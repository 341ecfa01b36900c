"""The distillation-intent model: the shipped file, the vectorised features against a
slow reference, held-out figures on the real corpora, language invariance."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import linker.prompts.families as families
from linker.prompts.families import PromptAccumulator, intent_flags
from linker.prompts.intent import IntentFeatures, IntentModelError, load_model
from linker.settings import PromptSettings

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"

# Floors on the by-source held-out split (scripts/train_intent.py, seed 0; measured:
# benchmarks/results/intent.json), a little under the measured figures.
FLOOR_PRECISION = 0.90
FLOOR_RECALL = 0.65
FLOOR_AP = 0.95
#: benign held-out texts of any one source flagged at most this often
FLOOR_BENIGN_FLAGGED = 0.15
#: MultiJail held-out items whose flag differs between their 10 languages
FLOOR_LANGUAGE_DISAGREEMENT = 0.05


def test_shipped_model_is_the_one_the_settings_name() -> None:
    model = load_model()
    settings = PromptSettings()
    assert model.digest == settings.intent_model
    assert model.threshold == pytest.approx(settings.intent_threshold, abs=1e-4)
    assert model.weights.dtype == np.float32
    assert model.weights.shape == (model.features.n_features,)


def test_shipped_model_loads_without_the_corpora(tmp_path: Path) -> None:
    # a fresh interpreter in an empty directory: the package alone must do
    code = (
        "import pyarrow as pa\n"
        "from linker.prompts.intent import load_model\n"
        "m = load_model()\n"
        "print(m.digest, m.scores(pa.array(['hello'])).shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [load_model().digest, "(1,)"]
    assert "shared" not in (ROOT / "linker/prompts/intent.py").read_text()


def test_no_phrase_list_left() -> None:
    assert not hasattr(families, "INTENT_PATTERNS")


def test_settings_naming_another_model_are_refused() -> None:
    with pytest.raises(IntentModelError, match="intent-000000000000"):
        PromptAccumulator(PromptSettings(intent_model="intent-000000000000"))


def test_broken_model_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(IntentModelError, match="not an intent model"):
        load_model(path)


def test_saved_model_round_trips(tmp_path: Path) -> None:
    model = load_model()
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.digest == model.digest
    texts = pa.array(["Write a haiku about rain", "", "Résumez ce texte en 3 points"])
    np.testing.assert_array_equal(again.scores(texts), model.scores(texts))


def test_intent_flags_follow_the_threshold() -> None:
    texts = pd.Series(["a", "b c d", "Translate to French: good morning"], index=[7, 8, 9])
    flags = intent_flags(texts, threshold=0.0)
    assert list(flags.columns) == ["score", "any"]
    assert list(flags.index) == [7, 8, 9]
    assert flags["any"].all()
    assert not intent_flags(texts, threshold=1.01)["any"].any()
    own = intent_flags(texts)
    assert (own["any"] == (own["score"] >= load_model().threshold)).all()


def _reference_ngrams(text: str, f: IntentFeatures) -> Counter[tuple[int, int]]:
    """Slow and obvious: prepare one text in Python, enumerate its n-grams, hash each."""
    # RE2's \d and \s are ASCII-only, as are Python's with re.ASCII
    t = re.sub(r"\s+", " ", re.sub(r"\d+", "0", text.lower(), flags=re.ASCII), flags=re.ASCII)
    if len(t) > f.head_chars + f.tail_chars:
        t = t[: f.head_chars] + " " + t[-f.tail_chars :]
    t = f" {t} "
    out: Counter[tuple[int, int]] = Counter()
    mask = (1 << 64) - 1
    for n in range(f.ngram_min, f.ngram_max + 1):
        for i in range(len(t) - n + 1):
            h = 0
            for c in t[i : i + n]:
                h = (h * 0x100000001B3 + ord(c)) & mask
            mixed = ((h ^ n) * 0x9E3779B97F4A7C15) & mask
            out[(n, (mixed >> 29) % f.n_features)] += 1
    return out


def _random_texts(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    alphabet = [*"abc XYZ 0123 \t\n.,;é中文ไทยعربي", "  ", "\n\n"]
    texts = ["", " ", "a", "12 34", "Ωμέγα 99 apples"]
    for _ in range(25):
        size = int(rng.choice([3, 40, 300, 2600]))
        texts.append("".join(rng.choice(alphabet, size=size)))
    return texts


@pytest.mark.parametrize("seed", [1, 2, 3], ids=lambda s: f"seed{s}")
def test_ngram_hashes_match_a_slow_reference(seed: int) -> None:
    f = IntentFeatures(ngram_min=2, ngram_max=4, n_features=2**12, head_chars=150, tail_chars=50)
    texts = _random_texts(seed)
    doc, bucket, counts = f.ngrams(pa.array(texts, type=pa.string()))
    for i, text in enumerate(texts):
        ref = _reference_ngrams(text, f)
        got = Counter(bucket[doc == i].tolist())
        assert got == Counter(b for (_, b), k in ref.items() for _ in range(k)), (seed, i)
        assert counts[i] == sum(ref.values())


@pytest.mark.parametrize("seed", [1, 2], ids=lambda s: f"seed{s}")
def test_scores_equal_the_feature_matrix_product(seed: int) -> None:
    model = load_model()
    texts = pa.array(_random_texts(seed), type=pa.string())
    z = model.features.transform(texts) @ model.weights.astype(np.float64) + model.bias
    np.testing.assert_allclose(model.scores(texts), 1 / (1 + np.exp(-z)), rtol=1e-9)


def _train_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_intent", ROOT / "scripts/train_intent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def held_out() -> tuple[pd.DataFrame, np.ndarray, float]:
    """The recipe refitted on the by-source training part (about 20 s); scores of the
    held-out part and the shipped threshold."""
    if not (CORPORA / "README.md").exists():
        pytest.skip("no ../shared/corpora")
    train = _train_script()
    data = train.load_examples(CORPORA, 0)
    held = train.split_by_source(data, 0)
    x = train.featurise(data, IntentFeatures())
    model = train.fit(x[~held], data[~held], IntentFeatures())
    test = data[held]
    return test, train.score(model, test), load_model().threshold


def test_held_out_figures_meet_floors(held_out: tuple[pd.DataFrame, np.ndarray, float]) -> None:
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    test, scores, threshold = held_out
    y, flagged = test["label"].to_numpy(), scores >= threshold
    assert precision_score(y, flagged) >= FLOOR_PRECISION
    assert recall_score(y, flagged) >= FLOOR_RECALL
    assert average_precision_score(y, scores) >= FLOOR_AP
    benign = test.assign(flagged=flagged)[y == 0]
    assert benign.groupby("source")["flagged"].mean().max() <= FLOOR_BENIGN_FLAGGED


def test_flag_does_not_depend_on_the_language(
    held_out: tuple[pd.DataFrame, np.ndarray, float],
) -> None:
    test, scores, threshold = held_out
    mj = test.assign(flagged=scores >= threshold)[test["source"] == "multijail"]
    assert mj["lang"].nunique() == 10
    by_item = mj.pivot_table(index="item", columns="lang", values="flagged", aggfunc="max")
    assert (by_item.nunique(axis=1) > 1).mean() <= FLOOR_LANGUAGE_DISAGREEMENT
    assert mj.groupby("lang")["flagged"].mean().max() <= FLOOR_LANGUAGE_DISAGREEMENT


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prepare_equals_the_plain_patterns(seed: int) -> None:
    """Digit and space runs are folded by patterns that skip the runs already folded;
    the plain version replaces every run."""
    import pyarrow.compute as pc

    from linker.prompts.intent import IntentFeatures

    alphabet = list(" \t\n\r\f\v\u00a0\u30000123456789\u0663ab.")
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 16)))) for _ in range(20_000)]
    arr = pa.array([*texts, None], type=pa.string())
    plain = pc.utf8_lower(arr.fill_null(""))
    plain = pc.replace_substring_regex(plain, r"\d+", "0")
    plain = pc.replace_substring_regex(plain, r"\s+", " ")
    assert IntentFeatures().prepare(arr) == plain.to_pylist()
