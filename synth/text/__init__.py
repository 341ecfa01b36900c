"""Prompt text generators: benign personas, shared-text confounders (viral templates,
SDK quick-start samples, homework, company context) and distillation campaign families.

The text pools are data (``synth/data/*.json``, loaded by :mod:`.pools`); the modules
here are the generators: :mod:`.core` (template filling, filler), :mod:`.benign`,
:mod:`.campaign` and :mod:`.problems`.
"""

from __future__ import annotations

from .benign import BenignText, Persona
from .campaign import CampaignText, House
from .core import TextCore, random_label
from .pools import AGENT_TOOLS, CRITERIA, FAMILIES, FAMILY_NAMES, LABEL_TASKS, Family


class TextGen(BenignText, CampaignText):
    """All prompt generators, sharing one ``random.Random``."""


__all__ = [
    "AGENT_TOOLS",
    "CRITERIA",
    "FAMILIES",
    "FAMILY_NAMES",
    "LABEL_TASKS",
    "BenignText",
    "CampaignText",
    "Family",
    "House",
    "Persona",
    "TextCore",
    "TextGen",
    "random_label",
]
