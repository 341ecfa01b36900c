"""The generator's data files (``synth/data/*.json``), read through
:mod:`importlib.resources` so that they work from a wheel as well as from a checkout.

Every file is a JSON object; its optional ``"_doc"`` entry describes the file and is
dropped on load. Key order is kept (the generators index lists and walk dicts in file
order, so reordering a file changes every world).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed ``data/<name>.json`` (cached: callers must not mutate it)."""
    path = files(__package__ or "synth") / "data" / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data.pop("_doc", None)
    return data
