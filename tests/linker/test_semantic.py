"""The semantic second stage with the real bundled model (no mocks).

These tests need the optional extra (``make test EXTRAS=dev,semantic``). The default
CI install leaves the extra out (torch with its CUDA wheels: 3.2 GB to download, 5.7 GB
installed, about 80 s), so without it this module is skipped with that reason.
"""

from __future__ import annotations

import socket
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

pytest.importorskip("sentence_transformers", reason="optional extra 'semantic' is not installed")

from linker import semantic
from linker.prompts import PromptSettings, normalise_prompts
from linker.semantic import SemanticError, SemanticSettings, embed, merge_by_meaning

TEMPLATE = (
    "Explain step by step the reasoning you used to solve this {topic} problem. "
    "Show every intermediate step. Then give the final answer. Case {n}."
)
# reordered, synonyms: too few shared word bigrams for MinHash (exact Jaccard 0.44 < 0.5)
PARAPHRASE = (
    "Then give the final answer. Describe step by step the thinking you used to work out "
    "this {topic} problem. Show each intermediate step. Case {n}."
)
GRADING = (
    "Grade the following response about {topic} on a 1-10 rubric for accuracy and "
    "helpfulness. Explain each score. Output JSON. Case {n}."
)
TOPICS = [
    "graph theory",
    "tax law",
    "organic chemistry",
    "sql joins",
    "compilers",
    "options pricing",
]
EVERYDAY_BREAD = [
    "How do I bake sourdough bread?",
    "Best bread recipe",
    "Why is my sourdough starter not rising?",
    "What flour should I use for a baguette?",
    "How long should bread dough proof in the fridge?",
    "Can I make bread without yeast?",
]


def masked(texts: list[str]) -> list[str]:
    """The masked readable form the semantic stage receives."""
    return normalise_prompts(pd.Series(texts)).tolist()


def brute_force(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Components of the full similarity matrix: the obvious, quadratic reference."""
    adjacency = csr_matrix((vectors @ vectors.T) >= threshold)
    _, labels = connected_components(adjacency, directed=False)
    return labels


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two labellings group the items identically (labels may differ)."""
    return bool((pd.factorize(a)[0] == pd.factorize(b)[0]).all())


def test_extra_is_installed() -> None:
    assert semantic.available(), f"the semantic extra is missing: {semantic.INSTALL_HINT}"


def test_embeddings_are_unit_float32_rows() -> None:
    vectors = embed(masked(["How do I bake sourdough bread?", "Grade this essay out of 10"]))
    assert vectors.shape == (2, semantic.DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, semantic.DIMENSIONS)


def bigram_jaccard(a: str, b: str) -> float:
    """Exact Jaccard of the word bigrams MinHash estimates."""
    grams = [set(zip(t.split(), t.split()[1:], strict=False)) for t in (a, b)]
    return len(grams[0] & grams[1]) / len(grams[0] | grams[1])


def test_paraphrase_that_minhash_misses_merges() -> None:
    texts = masked(
        [TEMPLATE.format(topic="graph theory", n=3), PARAPHRASE.format(topic="graph theory", n=8)]
    )
    assert bigram_jaccard(*texts) < PromptSettings().threshold
    labels = merge_by_meaning(texts)
    assert labels[0] == labels[1]


def test_paraphrased_family_joins_its_template_family_by_centroid() -> None:
    # Two MinHash families of one template (original and fully paraphrased wording),
    # slot-filled with different topics: single texts about different topics are far
    # apart, the family means are close.
    originals = [TEMPLATE.format(topic=t, n=i) for i, t in enumerate(TOPICS)]
    paraphrases = [PARAPHRASE.format(topic=t, n=i) for i, t in enumerate(reversed(TOPICS))]
    grading = [GRADING.format(topic=t, n=i) for i, t in enumerate(TOPICS)]
    texts = masked(originals + paraphrases + grading)
    groups = np.repeat([0, 1, 2], len(TOPICS))
    labels = merge_by_meaning(texts, groups=groups)
    assert len(set(labels[groups == 0])) == 1
    assert labels[0] == labels[len(TOPICS)]
    assert labels[0] != labels[-1]


def test_everyday_prompts_on_one_topic_stay_apart() -> None:
    labels = merge_by_meaning(masked(EVERYDAY_BREAD))
    assert len(set(labels)) == len(EVERYDAY_BREAD)


def test_distinct_templates_on_one_topic_stay_apart() -> None:
    texts = masked(
        [
            TEMPLATE.format(topic="tax law", n=1),
            GRADING.format(topic="tax law", n=1),
            "Here are two candidate answers to a question about tax law. Compare them, pick "
            "the better one and justify the choice in two sentences.",
            "Generate 10 question and answer pairs about tax law for a training dataset.",
            "Answer this question about tax law, then critique your own answer and write an "
            "improved version.",
            "Can I deduct my home office on my tax return?",
        ]
    )
    labels = merge_by_meaning(texts)
    assert len(set(labels)) == len(texts)


@pytest.mark.parametrize("offset", [-1e-4, 1e-4], ids=["just-below", "just-above"])
def test_threshold_is_inclusive_at_the_cosine(offset: float) -> None:
    texts = masked(["How do I bake sourdough bread?", "Best bread recipe"])
    vectors = embed(texts)
    cosine = float(vectors[0] @ vectors[1])
    labels = merge_by_meaning(texts, SemanticSettings(threshold=cosine + offset))
    assert (labels[0] == labels[1]) == (offset < 0)


def test_default_threshold_separates_the_measured_cases() -> None:
    threshold = SemanticSettings().threshold
    vectors = embed(
        masked(
            [
                TEMPLATE.format(topic="graph theory", n=3),
                PARAPHRASE.format(topic="graph theory", n=8),
                "How do I bake sourdough bread?",
                "Best bread recipe",
            ]
        )
    )
    assert vectors[0] @ vectors[1] >= threshold
    assert vectors[2] @ vectors[3] < threshold


def test_blockwise_equals_brute_force_with_the_model() -> None:
    texts = masked(
        EVERYDAY_BREAD
        + [TEMPLATE.format(topic=t, n=i) for i, t in enumerate(TOPICS)]
        + [PARAPHRASE.format(topic=t, n=i) for i, t in enumerate(TOPICS)]
        + [GRADING.format(topic=t, n=i) for i, t in enumerate(TOPICS)]
    )
    settings = SemanticSettings(threshold=0.6, block_size=5)
    labels = merge_by_meaning(texts, settings)
    assert same_partition(labels, brute_force(embed(texts), 0.6))
    assert 1 < len(set(labels)) < len(texts)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("block_size", [1, 3, 8, 64])
def test_threshold_components_equal_brute_force(seed: int, block_size: int) -> None:
    # clustered unit vectors, so that blocks hold many edges (the spanning-forest cut)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16))
    vectors = centres[rng.integers(0, 6, size=90)] + rng.normal(scale=0.4, size=(90, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    for threshold in (0.3, 0.7, 0.9):
        labels = semantic.threshold_components(vectors, threshold, block_size)
        assert same_partition(labels, brute_force(vectors, threshold)), (seed, threshold)


def test_groups_share_one_label_and_must_match_texts() -> None:
    texts = masked(["How do I bake sourdough bread?", "Plan a trip to Lisbon", "Best bread recipe"])
    labels = merge_by_meaning(texts, groups=[7, 9, 7])
    assert labels[0] == labels[2]
    with pytest.raises(SemanticError, match="groups has 2 labels for 3 texts"):
        merge_by_meaning(texts, groups=[1, 2])


def test_identical_texts_share_a_label() -> None:
    labels = merge_by_meaning(masked(["Best bread recipe", "Plan a trip", "Best bread recipe"]))
    assert labels[0] == labels[2] != labels[1]
    assert merge_by_meaning([]).shape == (0,)


def test_cap_on_texts() -> None:
    settings = SemanticSettings(max_texts=2)
    with pytest.raises(SemanticError, match="exceed max_texts=2"):
        merge_by_meaning(["a", "b", "c"], settings)


def test_settings_are_validated() -> None:
    with pytest.raises(SemanticError, match="threshold must be in"):
        SemanticSettings(threshold=0.0)
    assert SemanticSettings().to_dict()["threshold"] == SemanticSettings().threshold


def test_model_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a test of the offline model")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(semantic, "_MODEL", None)
    assert embed(["an offline text"]).shape == (1, semantic.DIMENSIONS)


def test_missing_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(semantic, "_MODEL", None)
    assert not semantic.available()
    with pytest.raises(SemanticError, match=r"pip install 'sybil-linker\[semantic\]'"):
        embed(["any text"])
