"""How template-family recall falls as prompts are paraphrased.

Usage: python benchmarks/paraphrase_bench.py [--variants 400] [--seed 3]

For each distillation-shaped template, slot-filled variants are paraphrased at rising
intensity (synonym swaps, clause reordering, added filler); the figure is the share of
variants that land in the family of their template's unparaphrased variants (recall),
and the share of unrelated everyday prompts pulled into any template family (false
merges). Prints a table and writes benchmarks/results/paraphrase.json.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from linker.prompts import PromptSettings, _mask, lsh_families, signatures

ROOT = Path(__file__).resolve().parents[1]
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


def measure(level: float, variants: int, seed: int) -> dict[str, float]:
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
    masked = _mask(pa.array(frame["text"].to_numpy(dtype=object), type=pa.string()))
    settings = PromptSettings()
    frame["family"] = lsh_families(signatures(masked, settings), settings)
    home = (
        frame[~frame["paraphrased"]]
        .groupby("template")["family"]
        .agg(lambda f: f.value_counts().index[0])
    )
    para = frame[frame["paraphrased"] & (frame["template"] >= 0)]
    recall = float((para["family"] == para["template"].map(home)).mean())
    daily = frame[frame["template"] < 0]
    false_merge = float(daily["family"].isin(set(home)).mean())
    return {"level": level, "recall": recall, "false_merge": false_merge}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=400)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    results = [measure(level, args.variants, args.seed) for level in np.linspace(0, 1, 6)]
    print("| paraphrase level | family recall | everyday prompts merged |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r['level']:.1f} | {r['recall']:.3f} | {r['false_merge']:.3f} |")
    path = ROOT / "benchmarks" / "results" / "paraphrase.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
