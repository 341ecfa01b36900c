"""Command-line options over settings: which section each ``link`` option sets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from linker.settings import LinkSettings

#: the ``link`` options that set a field of a section (option name = field name, but
#: ``engine``, which sets the engine's ``name``)
OPTION_SECTIONS = {
    "resolution": "community",
    "method": "community",
    "attach_share": "community",
    "min_edge_weight": "linkage",
    "max_degree": "linkage",
    "threshold": "risk",
    "input_labels": "learn",
    "engine": "engine",
    "spark_master": "engine",
    "spark_communities": "engine",
}


def with_options(settings: LinkSettings, **options: Any) -> LinkSettings:
    """``settings`` with every option that was given (``None``: not given) in its
    section (:data:`OPTION_SECTIONS`; ``use_prompts`` and ``semantic`` at the top).
    Raises :class:`linker.errors.LinkerError` for a value a section refuses."""
    for name, section in OPTION_SECTIONS.items():
        if options.get(name) is not None:
            field = "name" if name == "engine" else name
            part = replace(getattr(settings, section), **{field: options[name]})
            settings = replace(settings, **{section: part})
    for name in ("use_prompts", "semantic"):
        if options.get(name) is not None:
            settings = replace(settings, **{name: options[name]})
    return settings
