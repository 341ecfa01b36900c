"""The rejected-rows table: one row per problem, naming the file, the row, the column,
the reason and the offending value; ``record`` (the row as read) is filled in from the
file afterwards (:mod:`linker.ingest.records`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REJECTED_COLUMNS = ["file", "row", "column", "reason", "value", "record"]
#: the reason of a row whose bytes are not UTF-8
NOT_UTF8 = "not UTF-8 text; save the file as UTF-8"

_NO_REJECTS = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTED_COLUMNS})


def no_rejects() -> pd.DataFrame:
    """An empty frame in the rejected-rows shape."""
    return _NO_REJECTS.copy()


def rejects(
    path: Path,
    rows: list[int],
    column: str | list[str],
    reason: str | list[str],
    value: list[object] | None = None,
) -> pd.DataFrame:
    """Rejected rows of ``path`` in the rejected-rows shape (``record`` is filled later)."""
    if not rows:
        return no_rejects()
    return pd.DataFrame(
        {
            "file": str(path),
            "row": rows,
            "column": column,
            "reason": reason,
            "value": value if value is not None else [None] * len(rows),
            "record": [None] * len(rows),
        },
        columns=REJECTED_COLUMNS,
    )


def joined_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rejected-rows frames as one, in row order."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return no_rejects()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("row", kind="stable", ignore_index=True)


def shown(name: object) -> str:
    """A column name as printed in a one-line message: control characters escaped."""
    text = str(name)
    return repr(text)[1:-1] if not text.isprintable() else text
