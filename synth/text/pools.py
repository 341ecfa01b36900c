"""The text pools of the prompt generators, loaded from ``data/benign.json``,
``data/confounders.json``, ``data/campaigns.json`` and ``data/families.json``, and
their compiled forms (templates with their slots, synonym patterns)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..resources import load
from ..vocab import V

_benign = load("benign")
_confounders = load("confounders")
_campaigns = load("campaigns")

# ---------------------------------------------------------------- benign templates
EXTRA_V: dict[str, list[str]] = _benign["extra_vocab"]
VOCAB: dict[str, list[str]] = {**V, **EXTRA_V}
BENIGN_TEMPLATES: dict[str, list[str]] = _benign["templates"]
CATEGORY_WEIGHTS: dict[str, float] = _benign["category_weights"]
FOREIGN_TEMPLATES: dict[str, list[str]] = _benign["foreign_templates"]
FOREIGN_V: dict[str, list[str]] = _benign["foreign_vocab"]

# ---------------------------------------------------------------- shared-text confounders
SDK_SAMPLES: list[str] = _confounders["sdk_samples"]
CI_SMOKE: list[str] = _confounders["ci_smoke"]
VIRAL_TEMPLATES: list[str] = _confounders["viral_templates"]
VIRAL_V: dict[str, list[str]] = _confounders["viral_vocab"]
LABEL_TASKS: list[str] = _confounders["label_tasks"]

# ---------------------------------------------------------------- campaigns
FAMILY_WEIGHTS: dict[str, float] = _campaigns["family_weights"]
AGENT_TOOLS: list[str] = _campaigns["agent_tools"]
AGENT_GOALS: list[str] = _campaigns["agent_goals"]
REPO_NAMES: list[str] = _campaigns["repo_names"]
CODE_TASKS_AGENT: list[str] = _campaigns["code_tasks_agent"]
# the distillation-campaign topic space (subject x aspect), covered systematically by
# rotating campaigns
TOPIC_SUBJECTS: list[str] = _campaigns["topic_subjects"]
TOPIC_ASPECTS: list[str] = _campaigns["topic_aspects"]
CRITERIA: list[str] = _campaigns["criteria"]
SENSITIVE: list[str] = _campaigns["sensitive"]
QA_KEYS: list[str] = _campaigns["qa_keys"]
FILLER_PREFIX: list[str] = _campaigns["filler_prefix"]
FILLER_SUFFIX: list[str] = _campaigns["filler_suffix"]
SYNONYMS: dict[str, list[str]] = _campaigns["synonyms"]
EQUATIONS: list[str] = _campaigns["equations"]


@dataclass(frozen=True)
class Family:
    """A campaign template family: clauses ``(key, alternative phrasings, movable?)``,
    format anchors, and the body layout."""

    clauses: tuple[tuple[str, tuple[str, ...], bool], ...]
    formats: tuple[str, ...]
    body_tpl: str


FAMILIES: dict[str, Family] = {
    name: Family(
        clauses=tuple((key, tuple(alts), movable) for key, alts, movable in f["clauses"]),
        formats=tuple(f["formats"]),
        body_tpl=f["body_tpl"],
    )
    for name, f in load("families").items()
}
FAMILY_NAMES = list(FAMILIES)

# ---------------------------------------------------------------- compiled forms
Compiled = tuple[str, tuple[tuple[str, str], ...]]
_SLOT = re.compile(r"\{([a-z_]+?)(\d?)\}")


def compile_templates(tpls: list[str]) -> list[Compiled]:
    """Each template with its slots ``(format key, vocabulary name)``."""
    out = []
    for t in tpls:
        slots = tuple((m.group(1) + m.group(2), m.group(1)) for m in _SLOT.finditer(t))
        out.append((t, slots))
    return out


AGENT_GOALS_C = compile_templates(AGENT_GOALS)
CODE_TASKS_C = compile_templates(CODE_TASKS_AGENT)

# synonym patterns, and for each clause phrasing the synonyms that occur in it
SYN_RX = {k: re.compile(r"(?<![{\w])" + re.escape(k) + r"(?![}\w])") for k in SYNONYMS}
SYN_IN: dict[str, tuple[str, ...]] = {
    s: tuple(k for k in SYNONYMS if SYN_RX[k].search(s))
    for fam in FAMILIES.values()
    for _key, alts, _movable in fam.clauses
    for s in alts
}
