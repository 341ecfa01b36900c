"""Train and evaluate the distillation-intent model on the real corpora.

    python scripts/train_intent.py [--corpora ../shared/corpora] [--seed 0]

Reads ../shared/corpora (README there) at training time only and writes:

- ``linker/prompts/intent_model.npz``: the shipped model, trained on every group;
- ``benchmarks/results/intent.json``: the held-out figures of the same recipe.

Positive ("distillation intent"): the airoboros instructor prompts (placeholders
filled), self-instruct's bootstrap prompt (its header strings, read with ``ast``, over
8 sampled seed instructions, as its loop builds them), the FLAN v2 zero-shot templates
(``ast``; fields filled with content text) and the T0 per-template files (one template,
many fillers). Negative: Chatbot Arena questions, self-instruct's user-oriented tasks
(instruction and input, as a user would paste them) and MultiJail in its 10 languages.
Fillers for placeholders are the *inputs and outputs* of the self-instruct seed tasks:
content text that is in neither class. The bare seed instructions are scored as a
diagnostic only (they are everyday requests; the harvesting is in the prompt around them).

Evaluation splits by **source group**, never by row: whole instructor files (a prompt
and its ``_response`` twin together), whole FLAN tasks (a task's CoT and inversion
variants together), whole T0 datasets, whole Arena topic clusters, whole user-oriented
apps and whole MultiJail items (all 10 languages of one prompt together). The headline
holds out a share of the groups of every source, and all of self-instruct's bootstrap
prompt (one tool, unseen); the threshold is chosen on the training part only, by
grouped cross-validation. A leave-one-source-out pass and a random-row split (for
contrast: it leaks templates) are reported too. Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linker.prompts.intent import MODEL_FILE, IntentFeatures, IntentModel  # noqa: E402

DEFAULT_CORPORA = ROOT.parent / "shared" / "corpora"
MULTIJAIL_LANGS = ("en", "zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv")
#: instructor files filled this many times each (different fillers)
AIROBOROS_FILLS = 5
#: bootstrap prompts built from the seed tasks
BOOTSTRAP_PROMPTS = 80
#: rows taken from each T0 per-template file
T0_ROWS = 60
#: held-out share of each source's groups in the headline split
HOLDOUT_SHARE = 0.3
#: regularisation of the logistic regression (inverse strength)
C = 8.0
#: the threshold maximises F1 on grouped cross-validation of the training part among
#: those that leave this share of the benign texts unflagged (sources weighted alike)
MIN_BENIGN_SPECIFICITY = 0.95
#: folds of the grouped cross-validation that chooses the threshold
FOLDS = 4

COLUMNS = ["text", "label", "source", "group", "lang", "item"]


def _rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def filler_pool(root: Path) -> list[str]:
    """Content text to fill template fields: the seed tasks' instance inputs and
    outputs (neither an instruction nor an everyday request)."""
    pool = []
    for task in _jsonl(root / "distillation/self_instruct_seed_tasks.jsonl"):
        for inst in task["instances"]:
            pool += [s.strip() for s in (inst["input"], inst["output"]) if len(s.strip()) > 2]
    return pool


def _fill(template: str, fields: list[str], pool: list[str], rng: np.random.Generator) -> str:
    values = {}
    for name in fields:
        if re.search(r"count|size|num|threshold|year|skip|third", name):
            values[name] = str(int(rng.integers(2, 60)))
        else:
            values[name] = pool[int(rng.integers(len(pool)))]
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def airoboros(root: Path, pool: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Instructor prompts, each filled ``AIROBOROS_FILLS`` times; a prompt and its
    ``_response`` twin are one group."""
    rows = []
    for path in sorted((root / "distillation/airoboros_instructors").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        fields = sorted(set(re.findall(r"\{(\w+)\}", text)))
        group = "airoboros/" + path.stem.removesuffix("_response")
        for _ in range(AIROBOROS_FILLS):
            filled = _fill(text, fields, pool, rng)
            rows.append(dict(text=filled, label=1, source="airoboros", group=group, lang="en"))
    return _rows(rows)


def _bootstrap_headers(path: Path) -> list[str]:
    """The string constants assigned to ``prompt`` in ``encode_prompt``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    func = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "encode_prompt"
    )
    return [
        n.value.value
        for n in ast.walk(func)
        if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Constant)
        and isinstance(n.value.value, str)
        and any(isinstance(t, ast.Name) and t.id == "prompt" for t in n.targets)
    ]


def seed_instructions(root: Path) -> list[str]:
    """The 175 self-instruct seed instructions."""
    tasks = _jsonl(root / "distillation/self_instruct_seed_tasks.jsonl")
    return [t["instruction"] for t in tasks]


def self_instruct(root: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Bootstrap prompts as self-instruct's loop builds them: a header, 8 numbered
    instructions from the seed pool, and the next number for the model to continue."""
    headers = _bootstrap_headers(root / "distillation/self_instruct_bootstrap_instructions.py")
    seeds = seed_instructions(root)
    rows = []
    for _ in range(BOOTSTRAP_PROMPTS):
        picks = rng.choice(len(seeds), size=8, replace=False)
        text = headers[int(rng.integers(len(headers)))]
        for i, k in enumerate(picks):
            instruction = re.sub(r"\s+", " ", seeds[k]).strip().rstrip(":")
            text += f"{i + 1}. {instruction}\n"
        text += "9."
        rows.append(
            dict(
                text=text,
                label=1,
                source="self_instruct",
                group="self_instruct/bootstrap",
                lang="en",
            )
        )
    return _rows(rows)


def _flan_group(task: str) -> str:
    name = task.split(":")[-1].split(".")[0]
    for prefix in ("synth_cot_", "cot_stream_", "cot_", "stream_"):
        name = name.removeprefix(prefix)
    for suffix in ("_input_inversion", "_error_comments"):
        name = name.removesuffix(suffix)
    return "flan/" + name


def flan(root: Path, pool: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """FLAN v2 zero-shot input templates (``PATTERNS``, read with ``ast``), fields
    filled from the pool and ``{options_}`` in FLAN's own option formats. Templates
    with fewer than 3 words outside their fields are dropped: filled, they are just
    the filler."""
    tree = ast.parse((root / "templates/flan_v2_templates.py").read_text(encoding="utf-8"))
    assigned = {
        ast.unparse(n.targets[0]): n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and len(n.targets) == 1
    }
    patterns = ast.literal_eval(assigned["PATTERNS"])
    starts = [s for s in ast.literal_eval(assigned["OPT_START_STRING_CANDIDATES"]) if s]
    rows = []
    for task, templates in sorted(patterns.items()):
        for template, _target in templates:
            fields = sorted(set(re.findall(r"\{(\w+)\}", template)))
            if len(re.sub(r"\{\w+\}", " ", template).split()) < 3:
                continue
            text = _fill(template, [f for f in fields if f != "options_"], pool, rng)
            if "options_" in fields:
                items = [
                    pool[int(rng.integers(len(pool)))][:40] for _ in range(int(rng.integers(2, 5)))
                ]
                start = starts[int(rng.integers(len(starts)))]
                text = text.replace("{options_}", start + "".join(f"\n - {o}" for o in items))
            rows.append(dict(text=text, label=1, source="flan", group=_flan_group(task), lang="en"))
    return _rows(rows)


def t0(root: Path, rng: np.random.Generator) -> pd.DataFrame:
    """T0 per-template files: one template, many fillers; ``T0_ROWS`` rows of each;
    one group per dataset (the part of the name before the first underscore)."""
    rows = []
    for path in sorted((root / "templates/t0_per_template").glob("*.jsonl")):
        records = _jsonl(path)
        if not records:
            continue
        take = rng.choice(len(records), size=min(T0_ROWS, len(records)), replace=False)
        group = "t0/" + path.stem.split("_")[0]
        for k in sorted(take):
            rows.append(
                dict(text=records[k]["prompt"], label=1, source="t0", group=group, lang="en")
            )
    return _rows(rows)


def arena(root: Path) -> pd.DataFrame:
    """Chatbot Arena hard questions; one group per topic cluster."""
    rows = [
        dict(
            text=r["turns"][0]["content"],
            label=0,
            source="arena",
            group="arena/" + r["cluster"],
            lang="en",
        )
        for r in _jsonl(root / "benign/arena_hard_v0.1_questions.jsonl")
    ]
    return _rows(rows)


def user_oriented(root: Path) -> pd.DataFrame:
    """Self-instruct's user-oriented tasks, instruction and first input as one prompt;
    one group per app."""
    rows = []
    for r in _jsonl(root / "benign/self_instruct_user_oriented.jsonl"):
        given = r["instances"][0]["input"].strip() if r["instances"] else ""
        text = r["instruction"] + ("\n\n" + given if given else "")
        rows.append(
            dict(
                text=text,
                label=0,
                source="user_oriented",
                group="user/" + r["motivation_app"],
                lang="en",
            )
        )
    return _rows(rows)


def multijail(root: Path) -> pd.DataFrame:
    """MultiJail, every language of every item; one group per item."""
    with (root / "multilingual/MultiJail.csv").open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    rows = [
        dict(
            text=r[lang],
            label=0,
            source="multijail",
            group=f"multijail/{r['id']}",
            lang=lang,
            item=int(r["id"]),
        )
        for r in records
        for lang in MULTIJAIL_LANGS
        if r[lang].strip()
    ]
    return _rows(rows)


def load_examples(root: Path, seed: int) -> pd.DataFrame:
    """Every labelled example (text, label, source, group, lang, item)."""
    if not (root / "README.md").exists():
        raise SystemExit(f"no corpora at {root} (see ../shared/corpora/README.md)")
    rng = np.random.default_rng(seed)
    pool = filler_pool(root)
    parts = [
        airoboros(root, pool, rng),
        self_instruct(root, rng),
        flan(root, pool, rng),
        t0(root, rng),
        arena(root),
        user_oriented(root),
        multijail(root),
    ]
    return pd.concat(parts, ignore_index=True)


def split_by_source(data: pd.DataFrame, seed: int, share: float = HOLDOUT_SHARE) -> np.ndarray:
    """Boolean mask of the held-out rows: ``share`` of each source's groups, drawn
    with ``seed``; a source of one group (self-instruct's bootstrap) is held out whole."""
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for _source, groups in data.groupby("source")["group"]:
        names = np.array(sorted(groups.unique()))
        k = len(names) if len(names) == 1 else max(1, round(share * len(names)))
        held |= set(rng.choice(names, size=k, replace=False))
    return data["group"].isin(held).to_numpy()


def sample_weights(data: pd.DataFrame) -> np.ndarray:
    """Each class weighs the same in all, and each source the same within its class."""
    per_source = data.groupby("source")["text"].transform("size").to_numpy(float)
    n_sources = data.groupby("label")["source"].transform("nunique").to_numpy(float)
    w = 1.0 / (per_source * n_sources)
    return w * len(data) / w.sum()


def featurise(data: pd.DataFrame, features: IntentFeatures) -> csr_matrix:
    """The feature matrix of ``data``'s texts (computed once, rows taken per split)."""
    return features.transform(pa.array(data["text"].tolist(), type=pa.string()))


def fit(
    x: csr_matrix, data: pd.DataFrame, features: IntentFeatures, threshold: float = 0.5
) -> IntentModel:
    """A logistic regression on rows ``x`` of ``data`` (source-balanced weights)."""
    lr = LogisticRegression(C=C, max_iter=1000, solver="newton-cg")
    lr.fit(x, data["label"].to_numpy(), sample_weight=sample_weights(data))
    return IntentModel(lr.coef_[0].astype(np.float32), float(lr.intercept_[0]), threshold, features)


def score(model: IntentModel, data: pd.DataFrame) -> np.ndarray:
    """Scores of ``data``'s texts, as the linker computes them."""
    return model.scores(pa.array(data["text"].tolist(), type=pa.string()))


def grouped_oof(
    x: csr_matrix, data: pd.DataFrame, features: IntentFeatures, seed: int
) -> np.ndarray:
    """Out-of-fold scores over ``FOLDS`` folds made of whole groups."""
    groups = np.array(sorted(data["group"].unique()))
    order = np.random.default_rng(seed).permutation(len(groups)) % FOLDS
    fold = data["group"].map(dict(zip(groups, order, strict=True))).to_numpy()
    out = np.zeros(len(data))
    for k in range(FOLDS):
        model = fit(x[fold != k], data[fold != k], features)
        out[fold == k] = score(model, data[fold == k])
    return out


def choose_threshold(data: pd.DataFrame, oof: np.ndarray) -> float:
    """The threshold with the best source-balanced F1 among those that flag at most
    ``1 - MIN_BENIGN_SPECIFICITY`` of the benign texts (sources weighted alike)."""
    y = data["label"].to_numpy()
    w = sample_weights(data)
    benign, wb = oof[y == 0], w[y == 0] / w[y == 0].sum()
    order = np.argsort(-benign, kind="stable")
    k = int(np.searchsorted(np.cumsum(wb[order]), 1 - MIN_BENIGN_SPECIFICITY, side="right"))
    floor = float(np.nextafter(benign[order][k], np.inf)) if k < len(order) else -np.inf
    best, best_f1 = max(floor, 0.5), -1.0
    for t in np.unique(np.r_[np.quantile(oof, np.linspace(0, 1, 401)), floor]):
        if t < floor:
            continue
        flagged = oof >= t
        tp = w[flagged & (y == 1)].sum()
        prec = tp / max(w[flagged].sum(), 1e-12)
        rec = tp / w[y == 1].sum()
        f1 = 2 * prec * rec / max(prec + rec, 1e-12)
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def figures(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 at ``threshold`` and average precision."""
    p, r, f, _ = precision_recall_fscore_support(
        y, s >= threshold, average="binary", zero_division=0
    )
    ap = average_precision_score(y, s) if 0 < y.sum() < len(y) else float("nan")
    return {
        "precision": round(float(p), 4),
        "recall": round(float(r), 4),
        "f1": round(float(f), 4),
        "average_precision": round(float(ap), 4),
        "n": len(y),
        "n_positive": int(y.sum()),
    }


def per_source(data: pd.DataFrame, s: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Flagged share of each source's texts (recall for positive sources, false
    positive rate for benign ones)."""
    out = {}
    for source, idx in data.groupby("source").indices.items():
        out[str(source)] = {
            "n": len(idx),
            "label": int(data["label"].iloc[idx[0]]),
            "flagged": round(float((s[idx] >= threshold).mean()), 4),
        }
    return out


def per_language(data: pd.DataFrame, s: np.ndarray, threshold: float) -> dict[str, Any]:
    """MultiJail rows: flagged share per language, and how often one item's flag
    differs between languages (the flag should not depend on the language)."""
    mj = data.assign(score=s)[data["source"].to_numpy() == "multijail"]
    if mj.empty:
        return {}
    flags = mj.pivot_table(index="item", columns="lang", values="score") >= threshold
    scores = mj.pivot_table(index="item", columns="lang", values="score")
    return {
        "flagged": {
            lang: round(float(flags[lang].mean()), 4) for lang in MULTIJAIL_LANGS if lang in flags
        },
        "mean_score": {
            lang: round(float(scores[lang].mean()), 4) for lang in MULTIJAIL_LANGS if lang in scores
        },
        "items": len(flags),
        "items_flag_differs_across_languages": round(float((flags.nunique(axis=1) > 1).mean()), 4),
        "max_score_spread_across_languages": round(
            float((scores.max(axis=1) - scores.min(axis=1)).max()), 4
        ),
    }


def evaluate(
    x: csr_matrix, data: pd.DataFrame, test: np.ndarray, features: IntentFeatures, seed: int
) -> dict[str, Any]:
    """Fit on the rows outside ``test`` (threshold by grouped CV on them), score ``test``."""
    train, held = data[~test], data[test]
    threshold = choose_threshold(train, grouped_oof(x[~test], train, features, seed))
    model = fit(x[~test], train, features, threshold)
    s = score(model, held)
    y = held["label"].to_numpy()
    return {
        "threshold": round(threshold, 4),
        **figures(y, s, threshold),
        "per_source": per_source(held, s, threshold),
        "multilingual": per_language(held, s, threshold),
        "model": model,
        "scores": s,
    }


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("model", "scores")}


def cost_per_text(model: IntentModel, texts: list[str], repeats: int = 3) -> float:
    """Seconds per text of scoring ``texts`` (best of ``repeats``)."""
    arr = pa.array(texts, type=pa.string())
    best = np.inf
    for _ in range(repeats):
        t0_ = time.perf_counter()
        model.scores(arr)
        best = min(best, time.perf_counter() - t0_)
    return best / len(texts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-out", type=Path, default=ROOT / "linker/prompts" / MODEL_FILE)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/intent.json")
    args = parser.parse_args(argv)
    features = IntentFeatures()
    data = load_examples(args.corpora, args.seed)
    x = featurise(data, features)
    held = split_by_source(data, args.seed)
    headline = evaluate(x, data, held, features, args.seed)
    rows = np.random.default_rng(args.seed).random(len(data)) < HOLDOUT_SHARE
    random_rows = evaluate(x, data, rows, features, args.seed)
    loso = {}
    for source in sorted(data.loc[data["label"] == 1, "source"].unique()):
        r = evaluate(x, data, data["source"].to_numpy() == source, features, args.seed)
        loso[source] = {"threshold": r["threshold"], "recall": r["recall"]}
    mj = data["source"].to_numpy() == "multijail"
    unseen_languages = evaluate(x, data, mj, features, args.seed)

    threshold = choose_threshold(data, grouped_oof(x, data, features, args.seed))
    model = fit(x, data, features, threshold)
    model.save(args.model_out)
    seeds = seed_instructions(args.corpora)
    everyday = data.loc[data["label"] == 0, "text"].tolist()
    result = {
        "model": model.digest,
        "threshold": round(threshold, 4),
        "features": {
            "analyzer": "hashed character n-grams",
            "ngram": [features.ngram_min, features.ngram_max],
            "n_features": features.n_features,
            "head_chars": features.head_chars,
            "tail_chars": features.tail_chars,
            "C": C,
        },
        "seed": args.seed,
        "examples": {s: int(n) for s, n in data["source"].value_counts().sort_index().items()},
        "by_source_holdout": _public(headline),
        "held_out_groups": sorted(data.loc[held, "group"].unique()),
        "random_row_split": _public(random_rows),
        "leave_one_source_out_recall": loso,
        "multijail_never_seen": _public(unseen_languages),
        "seed_instructions_alone_flagged": round(float(model.flags(pa.array(seeds)).mean()), 4),
        "seconds_per_text": {
            "everyday": cost_per_text(model, everyday),
            "all": cost_per_text(model, data["text"].tolist()),
        },
        "model_bytes": args.model_out.stat().st_size,
    }
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("model", "threshold", "seconds_per_text", "model_bytes")}
        )
    )
    for name in ("by_source_holdout", "random_row_split", "multijail_never_seen"):
        r = result[name]
        print(
            name,
            {k: r[k] for k in ("threshold", "precision", "recall", "f1", "average_precision", "n")},
        )
        print("  ", r["per_source"])
        if r["multilingual"]:
            print("  ", r["multilingual"])
    print("leave one source out", loso)
    print("seed instructions alone flagged", result["seed_instructions_alone_flagged"])


if __name__ == "__main__":
    main()
