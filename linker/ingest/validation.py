"""Validation of a raw table against its spec: each column converted to its type, and each
row that breaks the contract rejected with its row number, column, reason and value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from linker.errors import InputError
from linker.ingest import normalise
from linker.ingest.contract import Column, TableSpec
from linker.ingest.rejected import no_rejects, shown

MISSING = "missing value"
BAD_TIMESTAMP = "missing or invalid ISO-8601 timestamp"
#: the largest integer of a column without its own maximum (exact in a float)
INT_MAX = 2**53


def check_columns(
    frame: pd.DataFrame, spec: TableSpec, path: Path, allow_absent: bool = False
) -> pd.DataFrame:
    """``frame`` with column names stripped of whitespace.

    Raises InputError naming the file and column when a name appears twice or a
    required column is missing (unless ``allow_absent``: then it is added, empty).
    """
    frame = frame.rename(columns=lambda c: str(c).strip())
    names = list(frame.columns)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError("column appears twice", file=str(path), column=shown(twice[0]))
    for col in spec.required_columns:
        if col in frame.columns:
            continue
        if allow_absent:
            frame[col] = None
            continue
        found = ", ".join(shown(c) for c in frame.columns) or "none"
        raise InputError(
            f"required column is missing (columns found: {found})", file=str(path), column=col
        )
    return frame


def column_values(raw: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Convert one raw column to ``col``'s type.

    Returns (converted values, reason per row: None where the value is valid).
    """
    blank = normalise.is_blank(raw).to_numpy()
    if col.type == "timestamp":
        parsed = normalise.parse_timestamps(raw)
        bad = parsed.isna().to_numpy() & (~blank | col.required)
        return parsed, _reasons(raw.index, bad, BAD_TIMESTAMP, _problems(raw))
    if col.type == "int":
        return _integers(raw, col, blank)
    text, problem = normalise.as_text(raw)
    text = normalise.stripped(text)
    if col.type == "category":
        lower = normalise.lower(text) if text.notna().any() else text
        ok = lower.isin(col.allowed).to_numpy() | (blank & (not col.required))
        reason = f"not one of {', '.join(col.allowed)}"
        values = lower.astype(object).where(lower.notna(), None)
        return values, _reasons(raw.index, ~ok, reason, problem)
    if col.type == "ip_or_cidr":
        nets = normalise.canonical_networks(text.fillna(""))
        bad = nets.isna().to_numpy()
        return nets, _reasons(raw.index, bad, "not an IP address or CIDR prefix", problem)
    bad = blank if col.required else np.zeros(len(raw), dtype=bool)
    return text, _reasons(raw.index, bad | text.isna().to_numpy() & col.required, MISSING, problem)


def _problems(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return pd.Series(None, index=raw.index, dtype=object)
    return normalise.as_text(raw)[1]


def reasons_where(index: pd.Index, bad: np.ndarray, reason: str) -> pd.Series:
    """An object series on ``index``: ``reason`` where ``bad``, None elsewhere."""
    out = pd.Series(None, index=index, dtype="object")
    out[bad] = reason
    return out


def _reasons(index: pd.Index, bad: np.ndarray, reason: str, problem: pd.Series) -> pd.Series:
    """One reason per row: ``problem`` where the value is not text, else ``reason``
    where ``bad``, else None."""
    return problem.where(problem.notna(), reasons_where(index, bad, reason)).astype(object)


def _integers(raw: pd.Series, col: Column, blank: np.ndarray) -> tuple[pd.Series, pd.Series]:
    maximum = col.maximum if col.maximum is not None else INT_MAX
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = pd.to_numeric(raw, errors="coerce").astype(float)
        problem = pd.Series(None, index=raw.index, dtype=object)
    else:
        text, problem = normalise.as_text(raw)
        num = pd.to_numeric(normalise.stripped(text), errors="coerce").astype(float)
    values = num.to_numpy()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= 0) & (values <= maximum)
        ok &= np.floor(np.where(ok, values, 0)) == np.where(ok, values, 0)
    bad = ~ok & (~blank | col.required)
    converted = pd.Series(np.where(ok, values, np.nan), index=raw.index).astype("Int64")
    reason = f"missing or not an integer from 0 to {maximum}"
    return converted, _reasons(raw.index, bad, reason, problem)


def reject(frame: pd.DataFrame, reasons: pd.Series, path: Path | str, column: str) -> pd.DataFrame:
    """Rejected rows of ``frame`` where ``reasons`` is set (``record`` filled later)."""
    bad = reasons.notna().to_numpy()
    if not bad.any():
        return no_rejects()
    rows = frame[bad]
    values = (
        rows[column].map(lambda v: None if v is None else str(v)[:200]) if column in rows else None
    )
    return pd.DataFrame(
        {
            "file": str(path),
            "row": rows.index.to_numpy(np.int64),
            "column": column,
            "reason": reasons[bad].to_numpy(),
            "value": values.to_numpy(dtype=object) if values is not None else None,
            "record": None,
        }
    )


def validate_table(
    frame: pd.DataFrame, spec: TableSpec, path: Path, allow_absent: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate ``frame`` (raw values, indexed by row number) against ``spec``.

    Returns (valid rows with converted columns, rejected rows). Absent optional columns
    are added, empty. Raises InputError when a required column is missing or a column
    name appears twice.
    """
    frame = check_columns(frame, spec, path, allow_absent)
    out = frame.copy()
    problems: list[pd.DataFrame] = []
    for col in spec.columns:
        if col.name not in frame.columns:
            out[col.name] = None
            continue
        converted, reasons = column_values(frame[col.name], col)
        out[col.name] = converted
        problems.append(reject(frame, reasons, path, col.name))
    if not spec.keep_extra:
        out = out[list(spec.column_names)]
    problems = [p for p in problems if not p.empty]
    rejected = pd.concat(problems, ignore_index=True) if problems else no_rejects()
    keep = ~out.index.isin(rejected["row"].to_numpy())
    return out[keep], rejected
