"""The fields a run that learned from analysts' labels adds to the API's answers
(docs/learning.md): an account's unsupervised risk beside the calibrated ``risk``, its
proximity to confirmed sybil and benign accounts with the path that explains it, the
reasons of its calibrated risk, its verdict and the labels that influenced it; a
cluster's unsupervised risk and verdict.

A field is in the answers when the run has its column (``graph_store.base``'s
``LEARNED_*_COLUMNS``): a run without labels has none, and its answers are those of
before. A missing value, or an empty text, is null.

Texts are served as the linker wrote them, to every caller: the linker masks the
identifier values in a path (``linker.masking``, the API's rule) before it stores it,
and the unmasked values are not in the run, so there is nothing to reveal to a key
with ``identifiers:read``.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as encode_string
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import LEARNED_ACCOUNT_COLUMNS, LEARNED_CLUSTER_COLUMNS

#: learned columns holding numbers (rounded to 4 places like the risks); the others are text
NUMBERS = frozenset({"unsupervised_risk", "proximity_sybil", "proximity_benign"})
#: the learned fields of a cluster member in a cluster's page (the short ones)
MEMBER_FIELDS = ("unsupervised_risk", "proximity_sybil", "proximity_benign", "analyst_label")


def json_numbers(values: pd.Series) -> list[str]:
    """JSON literals of a float column rounded to 4 places (NaN and inf: null)."""
    array = values.astype(float).round(4).to_numpy()
    text = list(map(repr, array.tolist()))
    finite = np.isfinite(array)
    if finite.all():
        return text
    return [t if ok else "null" for t, ok in zip(text, finite.tolist(), strict=True)]


def json_texts(values: pd.Series) -> list[str]:
    """JSON literals of a text column (missing or empty: null)."""
    cells = values.astype(object).where(values.notna(), None).tolist()
    return [encode_string(str(v)) if v is not None and v != "" else "null" for v in cells]


def present(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """The ``columns`` that ``frame`` has, in the order of ``columns``."""
    return [c for c in columns if c in frame.columns]


def account_fragments(accounts: pd.DataFrame) -> list[str]:
    """Per account (in ``accounts``' order), its learned fields as a JSON fragment to
    append to its answer (``,"unsupervised_risk":0.71,...``); "" for every account of a
    run without them."""
    columns = present(accounts, LEARNED_ACCOUNT_COLUMNS)
    if not columns:
        return [""] * len(accounts)
    parts = [
        [
            f',"{name}":{literal}'
            for literal in (
                json_numbers(accounts[name]) if name in NUMBERS else json_texts(accounts[name])
            )
        ]
        for name in columns
    ]
    return ["".join(fields) for fields in zip(*parts, strict=True)]


def plain_values(values: pd.Series, name: str) -> np.ndarray:
    """A learned column as an object array of JSON-ready values (numbers rounded to 4
    places; missing, non-finite or empty values None)."""
    if name in NUMBERS:
        numbers = values.astype(float).round(4).to_numpy()
        out = numbers.astype(object)
        out[~np.isfinite(numbers)] = None
        return out
    cells = values.astype(object).where(values.notna(), None).to_numpy(dtype=object, copy=True)
    cells[cells == ""] = None
    return cells


def member_columns(members: pd.DataFrame) -> dict[str, np.ndarray]:
    """The learned fields of cluster members that the run has, as arrays aligned with
    ``members``' rows."""
    return {name: plain_values(members[name], name) for name in present(members, MEMBER_FIELDS)}


def cluster_fields(clusters: pd.DataFrame) -> list[Mapping[str, Any]]:
    """Per cluster (in ``clusters``' order), its learned fields ({} without them)."""
    columns = present(clusters, LEARNED_CLUSTER_COLUMNS)
    if not columns:
        return [{} for _ in range(len(clusters))]
    arrays = [plain_values(clusters[name], name).tolist() for name in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*arrays, strict=True)]
