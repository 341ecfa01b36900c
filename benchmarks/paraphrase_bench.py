"""How template-family recall falls as prompts are paraphrased, with MinHash alone and
with the semantic second stage (linker/semantic.py) on top.

Usage: python benchmarks/paraphrase_bench.py [--variants 400] [--seed 3] [--sample 32]
       [--threshold T] [--no-semantic]

For each distillation-shaped template, slot-filled variants are paraphrased at rising
intensity (synonym swaps, clause reordering, added filler); the figure is the share of
variants that land in the family of their template's unparaphrased variants (recall),
and the share of unrelated everyday prompts pulled into any template family (false
merges).

The semantic stage takes the MinHash families, embeds a seeded sample of up to
``--sample`` masked texts of each, and joins the families whose mean embeddings have
a cosine of at least the threshold. Its precision is measured on hard negatives that
stay in the data at every level: everyday prompts in groups on one topic (several
questions about bread, about a leaking tap, ...), and distinct distillation templates
that all wrap the same topic (a grading template next to a reasoning template about
tax law, ...). A false merge joins two different prompts or templates; joining two
templates with the same intent (two differently worded reasoning templates) is counted
apart, as ``same_intent_merges``. A threshold curve over the same embeddings shows the
margin on both sides of the chosen threshold.

Prints tables and writes benchmarks/results/paraphrase.json (one row per level:
``level``, ``recall``, ``false_merge`` from MinHash alone, and the ``semantic_*``
columns) and benchmarks/results/paraphrase_semantic.json (settings, threshold curve,
throughput, memory). Without the ``semantic`` extra the semantic columns are skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from linker.prompts import encoder, semantic
from linker.prompts.families import lsh_families, signatures
from linker.prompts.masking import mask as _mask
from linker.prompts.masking import readable
from linker.settings import PromptSettings, SemanticSettings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TEMPLATES = [
    "Explain step by step the reasoning you used to solve this {topic} problem. "
    "Show every intermediate step. Then give the final answer.",
    "Grade the following response about {topic} on a 1-10 rubric for accuracy and "
    "helpfulness. Explain each score. Output JSON.",
    "Rewrite the answer below about {topic} so it avoids politically sensitive content. "
    "Keep the facts. Do not mention that anything was removed.",
    "You are an agent with tools search, read_file and run_python. Use the tools to "
    "research {topic}. Call one tool at a time and report the result.",
]
TEMPLATE_INTENTS = ["reasoning", "grading", "rewrite", "agentic"]
TOPICS = [
    "graph theory",
    "tax law",
    "organic chemistry",
    "sql joins",
    "game theory",
    "the french revolution",
    "compilers",
    "protein folding",
    "options pricing",
    "climate models",
    "number theory",
    "distributed consensus",
]
SYNONYMS = {
    "explain": "describe",
    "reasoning": "thinking",
    "solve": "work out",
    "show": "write out",
    "every": "each",
    "intermediate": "partial",
    "final": "last",
    "grade": "score",
    "following": "next",
    "response": "reply",
    "accuracy": "correctness",
    "helpfulness": "usefulness",
    "rewrite": "rephrase",
    "avoids": "steers clear of",
    "keep": "preserve",
    "facts": "substance",
    "mention": "say",
    "removed": "cut",
    "use": "employ",
    "research": "look into",
    "report": "summarise",
    "result": "outcome",
    "answer": "response",
}
FILLER = [
    "Thanks in advance.",
    "Please be thorough.",
    "This is for a project.",
    "Quick one:",
    "Be concise.",
    "I appreciate it.",
]
EVERYDAY = [
    "What should I cook with rice and spinach tonight?",
    "Write a birthday message for my aunt who loves gardening.",
    "How do I fix a leaking kitchen tap?",
    "Plan a three day trip to Lisbon with two kids.",
    "Summarise the plot of Pride and Prejudice in five sentences.",
    "Which is better for a beginner, Python or JavaScript?",
]
#: Hard negatives: different everyday questions on one topic. Each is a prompt of its
#: own; none may join another (or a template family).
EVERYDAY_BY_TOPIC = {
    "bread": [
        "How do I bake sourdough bread?",
        "Best bread recipe",
        "Why is my sourdough starter not rising?",
        "What flour should I use for a baguette?",
        "How long should bread dough proof in the fridge?",
        "Can I make bread without yeast?",
    ],
    "plumbing": [
        "How do I fix a dripping bathroom faucet?",
        "My toilet keeps running after I flush, what do I do?",
        "How much does it cost to replace a water heater?",
        "How do I unclog a shower drain without chemicals?",
        "Why is the water pressure low in my bathroom sink?",
        "Can I replace a washing machine hose myself?",
    ],
    "travel": [
        "Find a kid friendly restaurant in Lisbon near the castle.",
        "What are the best day trips from Lisbon?",
        "Is Lisbon or Porto better for a weekend in March?",
        "Which neighbourhood should we stay in on our first visit to Lisbon?",
        "What should I pack for a week in Portugal in October?",
        "How do I get from Lisbon airport to the city centre at night?",
    ],
    "programming": [
        "How do I reverse a string in JavaScript?",
        "How long does it take to learn Python?",
        "What is the difference between a list and a tuple in Python?",
        "Recommend a good free course to learn JavaScript.",
        "Why does my Python script say module not found?",
        "Should I learn React or Vue first?",
    ],
    "running": [
        "Give me a 10 week training plan for my first half marathon.",
        "What should I eat before a morning run?",
        "How do I stop getting shin splints when running?",
        "Which running shoes are good for flat feet?",
        "Is it bad to run every day?",
        "How can I improve my 5k time?",
    ],
    "money": [
        "How much should I save for an emergency fund?",
        "Explain the difference between a Roth IRA and a traditional IRA.",
        "Is it better to pay off my car loan early or invest?",
        "How do I build a monthly budget on a 3000 dollar salary?",
        "What is an index fund and should I buy one?",
        "How does my credit score get calculated?",
    ],
    "jobs": [
        "Write a cover letter for a junior data analyst job.",
        "How do I answer 'what is your biggest weakness' in an interview?",
        "Make my resume summary sound more professional.",
        "How do I ask my manager for a raise?",
        "Write a polite email declining a job offer.",
        "What questions should I ask at the end of an interview?",
    ],
    "tax": [
        "Can I deduct my home office on my tax return?",
        "When is the deadline to file taxes this year?",
        "Do I have to pay tax on money I made selling old clothes online?",
        "How do I file taxes as a freelancer for the first time?",
        "What happens if I file my taxes late?",
        "Is my tax refund taxable income?",
    ],
}
#: Hard negatives: distinct distillation templates that wrap the same topic; each one
#: with its intent. None may join another of a different intent.
SAME_TOPIC = "tax law"
SAME_TOPIC_TEMPLATES = [
    (
        "grading",
        "Here are two candidate answers to a question about {topic}. Compare them, pick "
        "the better one and justify the choice in two sentences.",
    ),
    (
        "reasoning",
        "Work through this {topic} question carefully, writing down each deduction before "
        "the conclusion, and put the final answer on its own line.",
    ),
    (
        "data",
        "Generate 10 question and answer pairs about {topic} for a training dataset. Return "
        "a JSON list with the fields question and answer.",
    ),
    (
        "translation",
        "Translate the following paragraph about {topic} into Chinese, keeping every "
        "technical term accurate.",
    ),
    (
        "critique",
        "Answer this question about {topic}, then critique your own answer and write an "
        "improved version.",
    ),
]
SAME_TOPIC_VARIANTS = 40


def paraphrase(text: str, level: float, rng: random.Random) -> str:
    """Swap a share ``level`` of swappable words, reorder clauses and add filler with
    probability ``level``."""
    words = [SYNONYMS.get(w.lower(), w) if rng.random() < level else w for w in text.split()]
    clauses = " ".join(words).split(". ")
    if rng.random() < level:
        rng.shuffle(clauses)
    out = ". ".join(clauses)
    if rng.random() < level:
        out = f"{rng.choice(FILLER)} {out} {rng.choice(FILLER)}"
    return out


def build(level: float, variants: int, seed: int) -> pd.DataFrame:
    """The benchmark's prompts: template variants and their paraphrases, the everyday
    control, and the hard negatives. Columns: template (-1 for everyday), paraphrased,
    text, truth (one id per distinct prompt or template), intent."""
    rng = random.Random(seed)
    rows = []
    for t, template in enumerate(TEMPLATES):
        for i in range(variants):
            text = template.format(topic=rng.choice(TOPICS)) + f" Case {i}."
            rows.append((t, False, text))
            rows.append((t, True, paraphrase(text, level, rng)))
    everyday = [f"{rng.choice(EVERYDAY)} ({i})" for i in range(variants)]
    rows += [(-1, True, text) for text in everyday]
    frame = pd.DataFrame(rows, columns=["template", "paraphrased", "text"])
    frame["truth"] = np.where(
        frame["template"] >= 0,
        "template:" + frame["template"].astype(str),
        "everyday:" + frame["text"].str.replace(r" \(\d+\)$", "", regex=True),
    )
    frame["intent"] = [
        TEMPLATE_INTENTS[t] if t >= 0 else "none" for t in frame["template"].to_numpy()
    ]
    hard = [
        (-2, False, prompt, f"topic:{topic}:{k}", "none")
        for topic, prompts in EVERYDAY_BY_TOPIC.items()
        for k, prompt in enumerate(prompts)
    ]
    hard += [
        (-3, False, template.format(topic=SAME_TOPIC) + f" Case {i}.", f"same_topic:{k}", intent)
        for k, (intent, template) in enumerate(SAME_TOPIC_TEMPLATES)
        for i in range(SAME_TOPIC_VARIANTS)
    ]
    extra = pd.DataFrame(hard, columns=["template", "paraphrased", "text", "truth", "intent"])
    return pd.concat([frame, extra], ignore_index=True)


def minhash_families(frame: pd.DataFrame) -> pd.Series:
    """MinHash/LSH family label of each row, as the prompt stage computes it."""
    masked = _mask(pa.array(frame["text"].to_numpy(dtype=object), type=pa.string()))
    settings = PromptSettings()
    frame["masked"] = [readable(t) for t in masked.to_pylist()]
    return pd.Series(lsh_families(signatures(masked, settings), settings), index=frame.index)


def score(frame: pd.DataFrame, family: pd.Series) -> dict[str, float]:
    """Recall of paraphrases, everyday prompts merged into template families, and the
    false merges among the hard negatives, for one family labelling of ``frame``."""
    main = frame["template"].ge(0)
    home = (
        family[main & ~frame["paraphrased"]]
        .groupby(frame["template"])
        .agg(lambda f: f.value_counts().index[0])
    )
    para = main & frame["paraphrased"]
    recall = float((family[para] == frame.loc[para, "template"].map(home)).mean())
    daily = frame["template"].eq(-1)
    false_merge = float(family[daily].isin(set(home)).mean())
    # per family: its truths and intents; a family holding two truths is a merge
    truths = pd.DataFrame({"family": family, "truth": frame["truth"], "intent": frame["intent"]})
    per_truth = truths.drop_duplicates(["family", "truth"])
    n_truths = per_truth.groupby("family")["truth"].transform("size")
    n_intents = per_truth.drop_duplicates(["family", "intent"]).groupby("family")["intent"].size()
    mixed = per_truth[n_truths.gt(1).to_numpy()]
    everyday_mixed = mixed["intent"].eq("none")
    cross_intent = mixed["family"].map(n_intents).gt(1) | everyday_mixed
    hard = mixed["truth"].str.startswith(("topic:", "same_topic:")) & cross_intent
    return {
        "recall": recall,
        "false_merge": false_merge,
        "hard_negatives_merged": int(hard.sum()),
        "prompts_merged": int((cross_intent).sum()),
        "same_intent_merges": int((~cross_intent).sum()),
    }


def family_samples(frame: pd.DataFrame, family: pd.Series, sample: int, seed: int) -> pd.DataFrame:
    """Up to ``sample`` distinct masked texts of each family (seeded), as the semantic
    stage receives them: columns family, masked."""
    distinct = pd.DataFrame({"family": family, "masked": frame["masked"]}).drop_duplicates()
    order = np.random.default_rng(seed).permutation(len(distinct))
    shuffled = distinct.iloc[order]
    return shuffled[shuffled.groupby("family").cumcount() < sample]


def semantic_families(
    family: pd.Series, samples: pd.DataFrame, labels_of_sample: np.ndarray
) -> pd.Series:
    """Family labels after the semantic merge: each MinHash family takes the merged
    label of its sample."""
    merged = pd.Series(labels_of_sample, index=samples["family"].to_numpy())
    merged = merged[~merged.index.duplicated()]
    return family.map(merged)


def centroid_vectors(samples: pd.DataFrame, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean unit vector of each family's sample (the same arithmetic as
    ``merge_by_meaning(..., groups=...)``) and the family id of each centroid."""
    fam_codes, fam_ids = pd.factorize(samples["family"].to_numpy())
    sums = np.zeros((len(fam_ids), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, fam_codes, vectors)
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    return sums.astype(np.float32), np.asarray(fam_ids)


def measure(
    level: float, args: argparse.Namespace, settings: SemanticSettings | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One paraphrase level: the MinHash row, the semantic row and the threshold curve
    (empty without the extra)."""
    frame = build(level, args.variants, args.seed)
    family = minhash_families(frame)
    base = score(frame, family)
    row: dict[str, Any] = {"level": float(level), **base, "minhash_families": int(family.nunique())}
    if settings is None:
        return row, []
    samples = family_samples(frame, family, args.sample, args.seed)
    labels = semantic.merge_by_meaning(
        samples["masked"].tolist(), settings, groups=samples["family"].to_numpy()
    )
    merged = semantic_families(family, samples, labels)
    row.update({f"semantic_{k}": v for k, v in score(frame, merged).items()})
    row["semantic_families"] = int(merged.nunique())
    row["semantic_texts_embedded"] = len(samples)
    # the curve: the same sample, embedded once, thresholded at many values
    vectors = encoder.embed(samples["masked"].drop_duplicates().tolist(), settings)
    lookup = pd.Series(np.arange(len(vectors)), index=samples["masked"].drop_duplicates())
    centroids, fam_ids = centroid_vectors(samples, vectors[lookup[samples["masked"]].to_numpy()])
    curve = []
    for threshold in np.round(np.arange(0.60, 0.96, 0.01), 2):
        comp = semantic.threshold_components(centroids, float(threshold), 2048)
        s = score(frame, family.map(pd.Series(comp, index=fam_ids)))
        curve.append({"level": float(level), "threshold": float(threshold), **s})
    return row, curve


def synth_prompts(per_house: int, benign: int, lookalikes: int, seed: int) -> pd.DataFrame:
    """Realistic prompts from the project's world generator (linker/synth): one hydra
    house (campaign template, fully paraphrased on every prompt, long bodies) per
    template family, ordinary benign prompts, and benign look-alikes (a teacher's
    rubric, an evaluation researcher, an agent developer, a student asking for steps).
    Columns: truth (``house:<family>`` or ``benign:<kind>``), text."""
    from synth.text import FAMILY_NAMES, TextGen

    gen = TextGen(random.Random(seed))
    rows = []
    for name in FAMILY_NAMES:
        house = gen.make_house(name)
        rows += [
            (f"house:{name}", gen.campaign_prompt(house, "paraphrase", k)) for k in range(per_house)
        ]
    rows += [("benign:generic", gen.generic()) for _ in range(benign)]
    eval_house = ("accuracy and clarity", "Reply with a score from 1 to 10.")
    for _ in range(lookalikes):
        rows.append(("benign:student", gen.stepwise_student()))
        rows.append(("benign:teacher", gen.teacher_rubric()))
        rows.append(("benign:evaluator", gen.eval_researcher(eval_house)))
        rows.append(("benign:agent_dev", gen.agent_dev("search, calculator, read_file")))
    return pd.DataFrame(rows, columns=["truth", "text"])


def synth_score(frame: pd.DataFrame, minhash: pd.Series, family: pd.Series) -> dict[str, Any]:
    """Per house, the share of its prompts in its largest family (recall) and its
    number of families; benign prompts in a family with campaign prompts (all, and the
    look-alikes); benign MinHash families joined to another benign one; families
    mixing two houses. ``family`` is the labelling scored, ``minhash`` the one before
    the semantic stage (the same series for MinHash alone)."""
    house = frame["truth"].str.startswith("house:")
    groups = pd.DataFrame({"family": family, "minhash": minhash, "truth": frame["truth"]})
    recall = (
        groups[house].groupby("truth")["family"].agg(lambda f: f.value_counts().iloc[0] / len(f))
    )
    pulled = groups.loc[~house, "family"].isin(set(groups.loc[house, "family"]))
    benign = groups[~house].drop_duplicates("minhash")
    return {
        "house_recall": {str(k).split(":", 1)[1]: round(float(v), 3) for k, v in recall.items()},
        "mean_house_recall": round(float(recall.mean()), 3),
        "families_per_house": round(
            float(groups[house].groupby("truth")["family"].nunique().mean()), 1
        ),
        "benign_in_campaign_families": round(float(pulled.mean()), 4),
        "lookalikes_in_campaign_families": int(
            pulled[groups.loc[~house, "truth"] != "benign:generic"].sum()
        ),
        "benign_families_joined": round(float(benign["family"].duplicated(keep=False).mean()), 4),
        "houses_mixed": int(groups[house].groupby("family")["truth"].nunique().gt(1).sum()),
    }


def synth_measure(args: argparse.Namespace, settings: SemanticSettings) -> dict[str, Any]:
    """The generator-based comparison: MinHash alone vs + semantic, and a curve."""
    frame = synth_prompts(args.synth_per_house, args.synth_benign, args.synth_lookalikes, args.seed)
    family = minhash_families(frame)
    samples = family_samples(frame, family, args.sample, args.seed)
    start = time.perf_counter()
    labels = semantic.merge_by_meaning(
        samples["masked"].tolist(), settings, groups=samples["family"].to_numpy()
    )
    seconds = time.perf_counter() - start
    distinct = samples["masked"].drop_duplicates()
    out: dict[str, Any] = {
        "prompts": len(frame),
        "texts_embedded": len(distinct),
        "mean_words": round(float(np.mean([len(t.split()) for t in distinct])), 1),
        "embed_and_merge_s": round(seconds, 1),
        "minhash": synth_score(frame, family, family),
        "semantic": synth_score(frame, family, semantic_families(family, samples, labels)),
    }
    vectors = encoder.embed(distinct.tolist(), settings)
    lookup = pd.Series(np.arange(len(vectors)), index=distinct)
    centroids, fam_ids = centroid_vectors(samples, vectors[lookup[samples["masked"]].to_numpy()])
    out["curve"] = []
    for threshold in np.round(np.arange(0.70, 0.91, 0.02), 2):
        comp = semantic.threshold_components(centroids, float(threshold), 2048)
        point = synth_score(frame, family, family.map(pd.Series(comp, index=fam_ids)))
        keys = ("mean_house_recall", "benign_in_campaign_families", "benign_families_joined")
        out["curve"].append({"threshold": float(threshold), **{k: point[k] for k in keys}})
    return out


def print_synth(result: dict[str, Any]) -> None:
    """The generator-based table and its curve."""
    print(
        f"\ngenerator prompts ({result['prompts']} prompts, {result['texts_embedded']} texts "
        f"of {result['mean_words']:.0f} words embedded in {result['embed_and_merge_s']:.0f} s)"
    )
    print("| house (family) | recall MinHash | recall + semantic |")
    print("|---|---|---|")
    for name, value in result["minhash"]["house_recall"].items():
        print(f"| {name} | {value:.2f} | {result['semantic']['house_recall'][name]:.2f} |")
    for key in (
        "mean_house_recall",
        "families_per_house",
        "benign_in_campaign_families",
        "lookalikes_in_campaign_families",
        "benign_families_joined",
        "houses_mixed",
    ):
        print(f"| {key} | {result['minhash'][key]} | {result['semantic'][key]} |")
    print(
        "\n| threshold | mean house recall | benign in campaign families | benign families joined |"
    )
    print("|---|---|---|---|")
    for point in result["curve"]:
        print(
            f"| {point['threshold']:.2f} | {point['mean_house_recall']:.3f} | "
            f"{point['benign_in_campaign_families']:.4f} | {point['benign_families_joined']:.4f} |"
        )


def throughput(settings: SemanticSettings, n: int, seed: int) -> dict[str, float]:
    """Embedding throughput on ``n`` distinct masked template variants (texts of about
    25 words, the benchmark's typical family representative)."""
    frame = build(1.0, max(n // 8, 1), seed + 100)
    texts = pd.Series(frame["text"]).drop_duplicates().head(n)
    masked = [readable(t) for t in _mask(pa.array(texts.tolist(), type=pa.string())).to_pylist()]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    encoder.embed(masked[:1], settings)  # loads the model (cached per process)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    encoder.embed(masked, settings)
    seconds = time.perf_counter() - start
    return {
        "texts": len(masked),
        "mean_words": round(float(np.mean([len(t.split()) for t in masked])), 1),
        "model_load_s": round(load_s, 2),
        "embed_s": round(seconds, 2),
        "texts_per_s": round(len(masked) / seconds, 1),
        "rss_mb_before_model": round(rss_before, 1),
        "rss_mb_after_embed": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def print_tables(rows: list[dict[str, Any]], curve: list[dict[str, Any]], sem: bool) -> None:
    """The level table (MinHash alone and with the semantic stage) and, at the highest
    level, the threshold curve."""
    if not sem:
        print("| paraphrase level | family recall | everyday prompts merged |")
        print("|---|---|---|")
        for r in rows:
            print(f"| {r['level']:.1f} | {r['recall']:.3f} | {r['false_merge']:.3f} |")
        return
    print(
        "| paraphrase level | recall MinHash | recall + semantic | everyday merged "
        "MinHash | + semantic | hard negatives merged MinHash | + semantic |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['level']:.1f} | {r['recall']:.3f} | {r['semantic_recall']:.3f} | "
            f"{r['false_merge']:.3f} | {r['semantic_false_merge']:.3f} | "
            f"{r['hard_negatives_merged']} | {r['semantic_hard_negatives_merged']} |"
        )
    print("\nthreshold curve (recall at levels 0.8 and 1.0; merges summed over all levels)")
    print("| threshold | recall 0.8 | recall 1.0 | hard negatives merged | prompts merged |")
    print("|---|---|---|---|---|")
    table = pd.DataFrame(curve)
    for threshold, part in table.groupby("threshold"):
        by_level = part.set_index("level")["recall"]
        print(
            f"| {threshold:.2f} | {by_level.iloc[-2]:.3f} | {by_level.iloc[-1]:.3f} | "
            f"{part['hard_negatives_merged'].sum()} | {part['prompts_merged'].sum()} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=400)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--sample", type=int, default=32, help="texts embedded per family")
    parser.add_argument("--threshold", type=float, default=None, help="semantic threshold")
    parser.add_argument("--throughput-texts", type=int, default=2000)
    parser.add_argument("--synth-per-house", type=int, default=150)
    parser.add_argument("--synth-benign", type=int, default=800)
    parser.add_argument("--synth-lookalikes", type=int, default=50)
    parser.add_argument("--no-semantic", action="store_true")
    args = parser.parse_args()
    settings: SemanticSettings | None = None
    if args.no_semantic:
        print("semantic stage skipped (--no-semantic)")
    elif not encoder.available():
        print(f"semantic stage skipped: the extra is not installed ({encoder.INSTALL_HINT})")
    else:
        settings = SemanticSettings()
        if args.threshold is not None:
            settings = SemanticSettings(threshold=args.threshold)
    speed = throughput(settings, args.throughput_texts, args.seed) if settings else {}
    rows, curve = [], []
    start = time.perf_counter()
    for level in np.linspace(0, 1, 6):
        row, points = measure(round(float(level), 1), args, settings)
        rows.append(row)
        curve += points
    elapsed = time.perf_counter() - start
    print_tables(rows, curve, settings is not None)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "paraphrase.json"
    path.write_text(json.dumps(rows, indent=2))
    print(f"written {path}")
    if settings is None:
        return
    synth = synth_measure(args, settings)
    print_synth(synth)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nembedding: {speed['texts_per_s']:.0f} texts/s ({speed['texts']} texts of "
        f"{speed['mean_words']:.0f} words, batch {settings.batch_size}, "
        f"{speed['embed_s']:.1f} s), model load {speed['model_load_s']:.1f} s; peak RSS "
        f"{peak:.0f} MB ({speed['rss_mb_before_model']:.0f} MB before the model was "
        f"loaded, {speed['rss_mb_after_embed']:.0f} MB after the throughput run); "
        f"all levels {elapsed:.0f} s"
    )
    extra = {
        "settings": settings.to_dict(),
        "sample_per_family": args.sample,
        "variants": args.variants,
        "seed": args.seed,
        "levels_s": round(elapsed, 1),
        "throughput": speed,
        "peak_rss_mb": round(peak, 1),
        "curve": curve,
        "generator": synth,
    }
    path = RESULTS / "paraphrase_semantic.json"
    path.write_text(json.dumps(extra, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
