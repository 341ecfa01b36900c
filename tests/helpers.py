"""Small hand-built inputs for unit tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

T0 = pd.Timestamp("2026-03-01T12:00:00Z")


def write_input(
    root: Path,
    accounts: list[str] | pd.DataFrame,
    signals: list[tuple[str, str, str, str | None]],
    ip_info: list[tuple[str, int, str]] | None = None,
    prompts: list[tuple[str, str, str]] | None = None,
) -> Path:
    """Write a minimal csv input directory and return it."""
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(accounts, list):
        accounts = pd.DataFrame(
            {"account_id": accounts, "created_at": [T0.isoformat()] * len(accounts)}
        )
    accounts.to_csv(root / "accounts.csv", index=False)
    pd.DataFrame(signals, columns=["account_id", "kind", "value", "ts"]).to_csv(
        root / "signals.csv", index=False
    )
    if ip_info is not None:
        pd.DataFrame(ip_info, columns=["ip", "asn", "category"]).to_csv(
            root / "ip_info.csv", index=False
        )
    if prompts is not None:
        pd.DataFrame(prompts, columns=["account_id", "ts", "text"]).to_csv(
            root / "prompts.csv", index=False
        )
    return root


def ts(minutes: float) -> str:
    """ISO time ``minutes`` after T0."""
    return (T0 + pd.Timedelta(minutes=minutes)).isoformat()


def write_text(root: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``root/name`` (gzip-compressed for a ``.gz`` name); returns the path."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path
