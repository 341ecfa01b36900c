"""Tests for the synthetic world generator (synth)."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linker.ingest import contract
from synth import BENIGN_GROUPS, TIERS, World, generate_world, read_world, write_world
from synth.naive import naive_report

pytestmark = pytest.mark.xdist_group("synth")

N_SMALL = 4000
IP_CATEGORIES = set(contract.IP_CATEGORIES)
COLUMNS = {
    "accounts": ["account_id", "created_at", "email_domain", "country", "org_id"],
    "signals": ["account_id", "kind", "value", "ts"],
    "prompts": ["account_id", "ts", "text"],
    "ip_info": ["ip", "asn", "category"],
    "labels": ["account_id", "label", "campaign_id", "tier", "group", "group_id"],
}
TS = {"accounts": ["created_at"], "signals": ["ts"], "prompts": ["ts"]}


@pytest.fixture(scope="module")
def small() -> World:
    return generate_world(N_SMALL, seed=123)


@pytest.fixture(scope="module")
def big() -> tuple[World, float]:
    t0 = time.perf_counter()
    w = generate_world(20_000, seed=5)
    return w, time.perf_counter() - t0


def _labelled(w: World) -> pd.DataFrame:
    return w.accounts.merge(w.labels, on="account_id", validate="1:1")


# ----------------------------------------------------------------- determinism
def test_same_seed_identical(small: World) -> None:
    again = generate_world(N_SMALL, seed=123)
    for name, df in small.tables().items():
        pd.testing.assert_frame_equal(df, again.tables()[name], obj=name)


def test_different_seed_differs(small: World) -> None:
    other = generate_world(N_SMALL, seed=124)
    assert set(other.accounts["account_id"]).isdisjoint(set(small.accounts["account_id"]))
    assert len(other.prompts) != len(small.prompts) or not other.prompts["text"].equals(
        small.prompts["text"]
    )
    assert not other.labels["group"].equals(small.labels["group"])


# ----------------------------------------------------------------- contract
def test_contract_columns_and_dtypes(small: World) -> None:
    for name, cols in COLUMNS.items():
        df = small.tables()[name]
        assert list(df.columns) == cols, name
        assert len(df) > 0, name
        for c in cols:
            if c in TS.get(name, []):
                assert isinstance(df[c].dtype, pd.DatetimeTZDtype), (name, c)
                assert str(df[c].dt.tz) == "UTC"
            elif c == "asn":
                assert pd.api.types.is_integer_dtype(df[c])
            else:
                assert pd.api.types.is_string_dtype(df[c]), (name, c, df[c].dtype)
    acc = small.accounts
    assert acc["account_id"].is_unique
    assert acc["account_id"].notna().all() and acc["created_at"].notna().all()
    assert acc["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert set(small.signals["kind"]) == {"payment", "ip", "device", "phone"}
    assert set(small.ip_info["category"]) <= IP_CATEGORIES
    assert small.ip_info["ip"].is_unique
    assert set(small.labels["account_id"]) == set(acc["account_id"])
    for name in ("signals", "prompts"):
        assert small.tables()[name]["account_id"].isin(acc["account_id"]).all()


def test_value_formats(small: World) -> None:
    s = small.signals
    pay = s.loc[s["kind"] == "payment", "value"]
    assert pay.str.fullmatch(r"pm_[0-9a-f]{24}").all()
    dev = s.loc[s["kind"] == "device", "value"]
    assert dev.str.fullmatch(r"[0-9a-f]{32}").all()
    ips = s.loc[s["kind"] == "ip", "value"]
    parsed = [ipaddress.ip_address(v.strip().lower()) for v in ips.unique()]
    assert any(p.version == 6 for p in parsed)
    # normalisation is exercised: mapped IPv4, upper-case IPv6, stray whitespace
    assert ips.str.startswith("::ffff:").any()
    assert (ips.str.contains(":") & ips.str.contains(r"[A-F]")).any()
    assert (ips != ips.str.strip()).any()
    for cidr in small.ip_info["ip"]:
        ipaddress.ip_network(cidr, strict=True)


def test_labels_consistent(small: World) -> None:
    lab = small.labels
    syb = lab["label"] == "sybil"
    assert set(lab["label"]) == {"sybil", "benign"}
    assert lab.loc[syb, "campaign_id"].notna().all()
    assert lab.loc[~syb, "campaign_id"].isna().all()
    assert lab.loc[~syb, "tier"].isna().all()
    assert set(lab.loc[syb, "tier"]) == set(TIERS)
    assert (lab.loc[syb, "group"] == "campaign").all()
    assert (lab.loc[syb, "group_id"] == lab.loc[syb, "campaign_id"]).all()
    assert set(lab.loc[~syb, "group"]) == set(BENIGN_GROUPS)
    assert 0.075 <= syb.mean() <= 0.125
    org = _labelled(small)
    assert org.loc[org["org_id"].notna(), "group"].eq("company").all()


def test_time_bounds(small: World) -> None:
    lo, hi = pd.Timestamp("2025-11-01", tz="UTC"), pd.Timestamp("2026-11-01", tz="UTC")
    created = small.accounts.set_index("account_id")["created_at"]
    for name in ("signals", "prompts"):
        df = small.tables()[name]
        assert df["ts"].between(lo, hi).all()
        assert (df["ts"].to_numpy() >= created.loc[df["account_id"]].to_numpy()).all(), name
        assert df["ts"].is_monotonic_increasing
    assert created.between(lo, hi).all()


# ----------------------------------------------------------------- no label leak
def test_no_leak_in_id_order(small: World) -> None:
    df = _labelled(small)
    ids = df["account_id"]
    assert ids.str.len().nunique() == 1
    assert ids.str[:4].nunique() == 1
    for order in (df.index.to_numpy(), np.argsort(ids.to_numpy())):
        y = (df["label"].to_numpy()[order] == "sybil").astype(int)
        # runs test: the number of label switches is what random order gives
        p = y.mean()
        expected = 2 * len(y) * p * (1 - p)
        switches = int(np.abs(np.diff(y)).sum())
        assert abs(switches - expected) < 5 * np.sqrt(expected)
        # and no decile of the order is dominated by sybils
        dec = np.array_split(y, 10)
        assert max(d.mean() for d in dec) < 2.5 * p


def test_no_leak_in_created_or_email(small: World) -> None:
    df = _labelled(small)
    syb = df["label"] == "sybil"
    # campaign signups fall inside the benign signup range, amid plenty of benign signups
    s_lo, s_hi = df.loc[syb, "created_at"].min(), df.loc[syb, "created_at"].max()
    ben = df.loc[~syb, "created_at"]
    b_lo, b_hi = ben.quantile(0.01), ben.quantile(0.99)
    assert df.loc[syb, "created_at"].between(b_lo, b_hi).mean() > 0.95
    assert ben.between(s_lo, s_hi).mean() > 0.3
    # every campaign email domain is an ordinary domain benign users have too
    ben_domains = set(df.loc[~syb, "email_domain"])
    assert df.loc[syb, "email_domain"].isin(ben_domains).mean() > 0.97
    top = df.loc[syb, "email_domain"].value_counts(normalize=True)
    assert top.iloc[0] < 0.7


# ----------------------------------------------------------------- behaviours
def test_tiers_tradecraft(small: World) -> None:
    s = small.signals.merge(small.labels, on="account_id")
    camp = s[s["label"] == "sybil"]

    def max_share(tier: str, kind: str) -> float:
        sub = camp[(camp["tier"] == tier) & (camp["kind"] == kind)]
        per = sub.groupby(["campaign_id", "value"])["account_id"].nunique()
        return float(per.max())

    # sloppy: few cards/devices reused across many accounts
    assert max_share("sloppy", "payment") >= 5
    assert max_share("sloppy", "device") >= 5
    # hydra: no card reuse, devices only shared through common fingerprints
    hyd = camp[camp["tier"] == "hydra"]
    per_card = hyd[hyd["kind"] == "payment"].groupby("value")["account_id"].nunique()
    assert (per_card <= 1).mean() > 0.95
    # hydra exits are shared with benign proxy customers
    exits = set(hyd.loc[hyd["kind"] == "ip", "value"])
    pc = s[(s["group"] == "proxy_customer") & (s["kind"] == "ip")]
    assert len(exits & set(pc["value"])) > 0


def test_prompt_volume(small: World) -> None:
    n = small.prompts.groupby("account_id").size()
    lab = small.labels.set_index("account_id")
    n = n.reindex(lab.index, fill_value=0)
    ben, syb = n[lab["label"] == "benign"], n[lab["label"] == "sybil"]
    assert 4 < ben.mean() < 16
    assert 18 < syb.mean() < 50
    assert (ben > syb.median()).mean() > 0.03  # benign power users overlap
    # campaign prompts are in the published distillation shapes
    texts = small.prompts.merge(small.labels, on="account_id")
    ct = texts.loc[texts["label"] == "sybil", "text"].str.lower()
    shapes = (
        r"step|reason|grade|rubric|score|rewrite|sensitive|tool|agent|repositor|critic|draft"
        r"|question-answer|response|training examples|answer|solution"
    )
    assert ct.str.contains(shapes).mean() > 0.8


def test_shared_text_confounders(small: World) -> None:
    p = small.prompts.merge(small.labels, on="account_id")
    ben = p[p["label"] == "benign"]
    per_text = ben.groupby("text")["account_id"].nunique().sort_values(ascending=False)
    # SDK samples / homework are sent verbatim by many unrelated benign accounts
    assert per_text.iloc[0] >= 30
    assert "Hello, Claude" in set(per_text.index[:20])


# ----------------------------------------------------------------- 20k world
def test_big_world(big: tuple[World, float]) -> None:
    w, secs = big
    assert secs < 60
    lab = w.labels
    n_camp = lab["campaign_id"].nunique()
    assert 8 <= n_camp <= 14
    sizes = lab["campaign_id"].value_counts()
    assert sizes.min() >= 5 and sizes.min() <= 15 and sizes.max() >= 300


def test_cgnat_shared_by_thousand(big: tuple[World, float]) -> None:
    w, _ = big
    ip = w.signals[w.signals["kind"] == "ip"].merge(w.labels, on="account_id")
    per = ip.groupby("value")["account_id"].nunique()
    top = per.idxmax()
    assert per.max() >= 1000
    users = ip.loc[ip["value"] == top].drop_duplicates("account_id")
    assert (users["label"] == "benign").mean() > 0.9
    assert users["group"].nunique() >= 5  # strangers from every walk of life


def test_naive_linker_fails(big: tuple[World, float]) -> None:
    w, _ = big
    rep = naive_report(w)
    assert rep["benign_either"] > 0.5
    assert rep["largest_component_frac"] > 0.5


# ----------------------------------------------------------------- IO
def _canon(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].astype("datetime64[us, UTC]")
        elif c == "asn":
            out[c] = out[c].astype("int64")
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_write_round_trip(fmt: str, tmp_path: Path) -> None:
    w = generate_world(600, seed=9)
    paths = write_world(w, tmp_path, fmt)
    assert set(paths) == set(COLUMNS)
    for name, path in paths.items():
        assert path == tmp_path / f"{name}.{fmt}" and path.exists()
    if fmt in ("csv", "jsonl"):
        raw = (tmp_path / f"prompts.{fmt}").read_text(encoding="utf-8")
        assert "Z" in raw and "+00:00" not in raw
    back = read_world(tmp_path, fmt)
    for name, df in w.tables().items():
        pd.testing.assert_frame_equal(_canon(df), _canon(back.tables()[name]), obj=name)


def test_write_rejects_unknown_format(tmp_path: Path) -> None:
    w = generate_world(300, seed=1)
    with pytest.raises(ValueError):
        write_world(w, tmp_path, "xlsx")
