"""The real prompt corpora beside the repository, read at run time into text pools.

The files live in ``../shared/corpora/`` (see its README for sources and licences);
nothing of them is copied into this package. :func:`load_corpora` reads them into a
:class:`Corpora`: the benign pools (Chatbot Arena questions, self-instruct's
user-oriented tasks, MultiJail's non-English columns as everyday text in nine
languages), the campaign material (T0 "one template, many fillers" files, airoboros
instructor prompts, self-instruct seed tasks) and the FLAN v2 templates, parsed out of
the Python source with :mod:`ast`, never imported.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: ../shared/corpora beside the repository
CORPORA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"

#: MultiJail columns used as other-language text; "en" is left out on purpose
LANGUAGES = ("zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv")
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "it": "Italian",
    "vi": "Vietnamese",
    "ar": "Arabic",
    "ko": "Korean",
    "th": "Thai",
    "bn": "Bengali",
    "sw": "Swahili",
    "jv": "Javanese",
}

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_PROSE = re.compile(r"^[A-Z][^{}<>=;|#_\\\t]*$")


@dataclass(frozen=True)
class Corpora:
    """Text pools read from the corpora directory.

    ``english``: real user prompts (Arena questions, user-oriented tasks with their
    input); ``other_languages``: language code -> texts; ``snippets``: sentences of the
    English pool, used to fill template placeholders; ``topics``: Arena's topic names;
    ``t0``: template name -> its filled instances; ``airoboros``: instructor name ->
    prompt with ``{placeholders}``; ``seed_tasks``: instruction + instance input;
    ``flan``: ``task/index`` -> input template with ``{placeholders}``;
    ``short_tasks``: short user-oriented instructions without an input.
    """

    english: tuple[str, ...]
    other_languages: dict[str, tuple[str, ...]]
    snippets: tuple[str, ...]
    topics: tuple[str, ...]
    t0: dict[str, tuple[str, ...]]
    airoboros: dict[str, str]
    seed_tasks: tuple[str, ...]
    flan: dict[str, str]
    short_tasks: tuple[str, ...]

    def sizes(self) -> dict[str, int]:
        """How many texts each pool holds (for the re-texting summary)."""
        return {
            "english": len(self.english),
            "other_languages": sum(len(v) for v in self.other_languages.values()),
            "snippets": len(self.snippets),
            "topics": len(self.topics),
            "t0_templates": len(self.t0),
            "t0_instances": sum(len(v) for v in self.t0.values()),
            "airoboros_instructors": len(self.airoboros),
            "seed_tasks": len(self.seed_tasks),
            "flan_templates": len(self.flan),
            "short_tasks": len(self.short_tasks),
        }


def _jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _with_input(instruction: str, instance_input: str) -> str:
    instance_input = instance_input.strip()
    return f"{instruction.strip()}\n\n{instance_input}" if instance_input else instruction.strip()


def flan_templates(path: Path) -> dict[str, str]:
    """The input templates of FLAN v2's ``PATTERNS`` dict, parsed from the source file
    with :mod:`ast` (the module imports FLAN internals, so it is never imported).
    Returns ``task/index`` -> template; only templates with a placeholder are kept.
    Raises ValueError when the file has no ``PATTERNS`` literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "PATTERNS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return _patterns(node.value)
    raise ValueError(f"{path}: no PATTERNS dict literal")


def _patterns(patterns: ast.Dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in zip(patterns.keys, patterns.values, strict=True):
        if not isinstance(key, ast.Constant) or not isinstance(value, ast.List):
            continue
        if not isinstance(key.value, str):
            continue
        for i, element in enumerate(value.elts):
            if not isinstance(element, ast.Tuple) or not element.elts:
                continue
            try:
                template = ast.literal_eval(element.elts[0])
            except ValueError:  # a name or call instead of a literal
                continue
            if isinstance(template, str) and PLACEHOLDER.search(template):
                out[f"{key.value}/{i}"] = template
    return out


def fill(template: str, value: Callable[[str], str]) -> str:
    """``template`` with each ``{name}`` replaced by ``value(name)`` (called once per
    occurrence); other braces are left as they are."""
    return PLACEHOLDER.sub(lambda m: value(m.group(1)), template)


def _sentences(texts: tuple[str, ...], shortest: int = 20, longest: int = 200) -> tuple[str, ...]:
    """The prose sentences of ``texts``: 4+ words, mostly letters (no code lines)."""
    pieces = (p.strip() for t in texts for p in _SENTENCE_END.split(t))
    return tuple(
        dict.fromkeys(
            p
            for p in pieces
            if shortest <= len(p) <= longest
            and _PROSE.match(p)
            and len(p.split()) >= 4
            and sum(ch.isalpha() or ch == " " for ch in p) >= 0.9 * len(p)
        )
    )


def load_corpora(root: Path = CORPORA_DIR) -> Corpora:
    """Read every pool from ``root``. Raises FileNotFoundError when a corpus is missing."""
    if not root.is_dir():
        raise FileNotFoundError(f"corpora directory not found: {root}")
    arena = _jsonl(root / "benign" / "arena_hard_v0.1_questions.jsonl")
    user = _jsonl(root / "benign" / "self_instruct_user_oriented.jsonl")
    user_texts = [
        _with_input(str(r["instruction"]), str(r["instances"][0]["input"]))  # type: ignore[index]
        for r in user
    ]
    english = tuple(
        dict.fromkeys([str(r["turns"][0]["content"]).strip() for r in arena] + user_texts)  # type: ignore[index]
    )
    short_tasks = tuple(
        str(r["instruction"]).strip()
        for r in user
        if not str(r["instances"][0]["input"]).strip() and len(str(r["instruction"])) <= 120  # type: ignore[index]
    )
    multijail = pd.read_csv(root / "multilingual" / "MultiJail.csv", encoding="utf-8-sig")
    other = {
        lang: tuple(dict.fromkeys(multijail[lang].dropna().astype(str).str.strip()))
        for lang in LANGUAGES
    }
    t0: dict[str, tuple[str, ...]] = {}
    for path in sorted((root / "templates" / "t0_per_template").glob("*.jsonl")):
        instances = tuple(dict.fromkeys(str(r["prompt"]) for r in _jsonl(path)))
        if instances:  # some files are empty
            t0[path.stem] = instances
    seeds = _jsonl(root / "distillation" / "self_instruct_seed_tasks.jsonl")
    airoboros = {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted((root / "distillation" / "airoboros_instructors").glob("*.txt"))
    }
    return Corpora(
        english=english,
        other_languages=other,
        snippets=_sentences(english),
        topics=tuple(sorted({str(r["cluster"]) for r in arena})),
        t0=t0,
        airoboros=airoboros,
        seed_tasks=tuple(
            _with_input(str(r["instruction"]), str(r["instances"][0]["input"]))  # type: ignore[index]
            for r in seeds
        ),
        flan=flan_templates(root / "templates" / "flan_v2_templates.py"),
        short_tasks=short_tasks,
    )
