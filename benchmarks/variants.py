"""World families built from a generated world (docs/quality.md).

Each function copies a world directory (parquet tables as ``synth.write_world`` writes
them) to ``dst`` with one change, and returns a short description of what it did:

- (c) metamorphic variants: identifier kinds renamed to names the linker has never seen;
  the optional ``ts`` of signals dropped; ``ip_info`` dropped; ``org_id`` and
  ``email_domain`` dropped;
- (d) heavy-tailed hubs: identifiers shared by thousands of unrelated accounts (a
  payment processor, exchange wallets, public Wi-Fi addresses, popular device
  fingerprints), and campaigns' residential proxy exits also used by the households
  that own them.

Everything is seeded; nothing here looks at prompt text.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def _copy(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)


def _table(world: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(world / f"{name}.parquet")


def _write(world: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_parquet(world / f"{name}.parquet", index=False)


def renamed_kind(kind: str) -> str:
    """A name no rule of the linker knows, stable for a kind."""
    return "k" + hashlib.sha1(kind.encode()).hexdigest()[:6]


def rename_kinds(src: Path, dst: Path, seed: int = 0) -> str:
    """Every identifier kind renamed (payment, ip, device, phone, email, ...)."""
    _copy(src, dst)
    signals = _table(dst, "signals")
    kinds = sorted(signals["kind"].unique())
    signals["kind"] = signals["kind"].map({k: renamed_kind(k) for k in kinds})
    _write(dst, "signals", signals)
    return f"kinds renamed: {', '.join(f'{k}->{renamed_kind(k)}' for k in kinds)}"


def drop_ts(src: Path, dst: Path, seed: int = 0) -> str:
    """The optional ``ts`` column of signals dropped."""
    _copy(src, dst)
    _write(dst, "signals", _table(dst, "signals").drop(columns=["ts"]))
    return "signals without ts"


def drop_ip_info(src: Path, dst: Path, seed: int = 0) -> str:
    """No IP intelligence table."""
    _copy(src, dst)
    (dst / "ip_info.parquet").unlink()
    return "no ip_info"


def drop_org(src: Path, dst: Path, seed: int = 0) -> str:
    """Accounts without ``org_id`` and ``email_domain``."""
    _copy(src, dst)
    accounts = _table(dst, "accounts")
    _write(dst, "accounts", accounts.drop(columns=["org_id", "email_domain"], errors="ignore"))
    return "accounts without org_id and email_domain"


def heavy_hubs(src: Path, dst: Path, seed: int = 0) -> str:
    """Hubs shared by thousands of unrelated accounts, and campaigns' residential proxy
    exits shared with the households that own them."""
    _copy(src, dst)
    rng = np.random.default_rng(1000 + seed)
    accounts = _table(dst, "accounts")["account_id"].to_numpy()
    signals = _table(dst, "signals")
    labels = _table(dst, "labels")
    lo, hi = signals["ts"].min(), signals["ts"].max()
    span = (hi - lo).value
    n = len(accounts)
    rows: list[pd.DataFrame] = []

    def hub(kind: str, value: str, size: int) -> None:
        members = rng.choice(accounts, size=min(size, n), replace=False)
        ts = lo + pd.to_timedelta(rng.integers(0, span, len(members)), unit="ns")
        rows.append(pd.DataFrame({"account_id": members, "kind": kind, "value": value, "ts": ts}))

    # a payment processor's shared token and a marketplace's card-on-file
    hub("payment", "pm_hub_processor_0001", int(0.15 * n))
    hub("payment", "pm_hub_marketplace_02", int(0.05 * n))
    # exchange deposit wallets: a kind the linker has no rule for, heavy-tailed sizes
    for i, share in enumerate((0.10, 0.04, 0.02, 0.01, 0.005, 0.005)):
        hub("wallet", f"0xhubwallet{i:04d}", int(share * n))
    # public Wi-Fi and airport addresses (no ip_info entry: category unknown)
    for i, share in enumerate((0.08, 0.05, 0.03, 0.02, 0.01)):
        hub("ip", f"198.51.100.{10 + i}", int(share * n))
    # popular device fingerprints (one phone model, one browser build)
    for i, share in enumerate((0.2, 0.1, 0.05)):
        hub("device", f"fp_popular_{i:02d}", int(share * n))
    hubs = sum(len(r) for r in rows)
    # residential proxy exits: each campaign address in a residential range is also the
    # home address of 1-3 households' accounts (the owners of the infected devices)
    info = _table(dst, "ip_info") if (dst / "ip_info.parquet").exists() else None
    sybil = set(labels.loc[labels["label"] == "sybil", "account_id"])
    households = labels.loc[labels["group"] == "household", "account_id"].to_numpy()
    camp_ips = signals[(signals["kind"] == "ip") & signals["account_id"].isin(sybil)]["value"]
    camp_ips = pd.Series(camp_ips.unique())
    if info is not None:
        from linker.ingest import normalise
        from linker.ingest.ipintel import lookup_ip_info

        info = info.assign(ip=normalise.map_distinct(info["ip"], normalise.canonical_network))
        camp_ips = normalise.canonical_ips(camp_ips).dropna().drop_duplicates()
        category = lookup_ip_info(camp_ips, info.dropna(subset=["ip"]))["category"].to_numpy()
        camp_ips = camp_ips[category == "residential"]
    shared = 0
    if len(households) and len(camp_ips):
        for ip in camp_ips.to_numpy():
            owners = rng.choice(households, size=int(rng.integers(1, 4)), replace=False)
            for owner in owners:
                k = int(rng.integers(3, 15))
                ts = lo + pd.to_timedelta(rng.integers(0, span, k), unit="ns")
                rows.append(
                    pd.DataFrame({"account_id": owner, "kind": "ip", "value": ip, "ts": ts})
                )
                shared += 1
    _write(dst, "signals", pd.concat([signals, *rows], ignore_index=True))
    return (
        f"{hubs:,} hub observations on 16 hub identifiers; {len(camp_ips):,} campaign "
        f"residential exits shared with {shared:,} household accounts"
    )


VARIANTS: dict[str, Callable[[Path, Path, int], str]] = {
    "renamed_kinds": rename_kinds,
    "no_ts": drop_ts,
    "no_ip_info": drop_ip_info,
    "no_org": drop_org,
    "heavy_hubs": heavy_hubs,
}


def family_world(base: Path, family: str, out: Path, seed: int) -> tuple[Path, str]:
    """The world of ``family`` made from the generated world ``base`` (under ``out``,
    made once), and a line on what was done to it: ``a`` is ``base`` itself, ``b`` the
    re-texted world (benchmarks/families/retext.py), anything else a :data:`VARIANTS`
    entry."""
    if family == "a":
        return base, "as generated"
    if family == "b":
        from benchmarks.families.retext import retext_world

        summary = retext_world(base, out, seed)
        return out, "re-texted: " + ", ".join(f"{k} {v}" for k, v in summary.items())[:200]
    return out, VARIANTS[family](base, out, seed)
