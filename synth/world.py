"""Public API of the synthetic world: :class:`World`, :func:`generate_world`,
:func:`write_world`.

A world is five tables that follow the project's data contract (accounts, signals,
prompts, ip_info, labels). ``labels`` is the ground truth; nothing in the other four
tables encodes it directly (ids are random, rows are shuffled or time-ordered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benign import BUILDERS
from .campaigns import build_campaigns, campaign_texts
from .netspace import v6str
from .population import BENIGN_GROUPS, IP, KINDS, PHONE, TIERS, Population
from .timing import SEC, T0, T1, prompt_times, signal_times

TABLE_NAMES = ("accounts", "signals", "prompts", "ip_info", "labels")
FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
TS_COLUMNS = {"accounts": ("created_at",), "signals": ("ts",), "prompts": ("ts",)}
START = pd.Timestamp(T0, unit="ms", tz="UTC")
END = pd.Timestamp(T1, unit="ms", tz="UTC")


@dataclass(eq=False)
class World:
    """The five tables of a synthetic world."""

    accounts: pd.DataFrame
    signals: pd.DataFrame
    prompts: pd.DataFrame
    ip_info: pd.DataFrame
    labels: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    def summary(self) -> dict[str, object]:
        """Row counts and ground-truth composition (for reports and docs)."""
        lab = self.labels
        return {
            "accounts": len(self.accounts),
            "sybil": int((lab["label"] == "sybil").sum()),
            "campaigns": int(lab["campaign_id"].nunique()),
            "groups": lab["group"].value_counts().to_dict(),
            "tiers": lab["tier"].value_counts().to_dict(),
            "campaign_sizes": sorted(lab["campaign_id"].value_counts().tolist(), reverse=True),
            "signals": len(self.signals),
            "signals_by_kind": self.signals["kind"].value_counts().to_dict(),
            "prompts": len(self.prompts),
            "ip_info": len(self.ip_info),
        }


_STR: Any
try:  # pandas >= 2.3 / 3.x: the default "str" dtype, backed by Arrow
    _STR = pd.StringDtype("pyarrow", na_value=np.nan)
except Exception:  # pragma: no cover - older pandas
    _STR = None


def _str(arr: np.ndarray) -> pd.Series:
    """Object array of str/None -> string Series, built through Arrow (much faster
    than letting pandas infer the dtype from Python objects)."""
    if _STR is not None:
        try:
            import pyarrow as pa

            return pd.Series(
                pd.array(pa.array(arr, type=pa.large_string(), from_pandas=True), dtype=_STR)
            )
        except Exception:  # pragma: no cover
            pass
    return pd.Series(arr, dtype=object)


def _take(table: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``table[codes]`` as a string Series; gathers in Arrow when available."""
    if _STR is not None:
        try:
            import pyarrow as pa

            arr = pa.array(table, type=pa.large_string()).take(pa.array(codes))
            return pd.Series(pd.array(arr, dtype=_STR))
        except Exception:  # pragma: no cover
            pass
    return _str(table[codes])


def _ts(ms: np.ndarray) -> pd.Series:
    return (
        pd.Series(ms.astype("datetime64[ms]")).dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    )


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    while True:
        raw = rng.bytes(10 * n)
        ids = np.array(["acc_" + raw[i : i + 10].hex() for i in range(0, 10 * n, 10)], dtype=object)
        if len(set(ids)) == n:
            return ids


def _noisy_ips(rng: np.random.Generator, vals: np.ndarray, is_ip: np.ndarray) -> None:
    """In place: some IPv4 as IPv4-mapped IPv6, upper-case / expanded IPv6, stray
    whitespace (different log pipelines write addresses differently)."""
    idx = np.flatnonzero(is_ip)
    if len(idx) == 0:
        return
    u = rng.random(len(idx))
    w = rng.random(len(idx))
    for j, i in enumerate(idx):
        s = vals[i]
        if ":" in s:
            if u[j] < 0.2:
                s = s.upper()
            elif u[j] < 0.23:
                import ipaddress

                s = ipaddress.IPv6Address(s).exploded
        elif u[j] < 0.008:
            s = "::ffff:" + s
        if w[j] < 0.004:
            s = " " + s if w[j] < 0.002 else s + " "
        vals[i] = s


def _noisy_phones(rng: np.random.Generator, vals: np.ndarray, is_phone: np.ndarray) -> None:
    idx = np.flatnonzero(is_phone)
    u = rng.random(len(idx))
    for j, i in enumerate(idx):
        if u[j] < 0.08:
            s = vals[i]
            cut = 2 if s.startswith("+1") else 3
            vals[i] = f"{s[:cut]} {s[cut : cut + 3]} {s[cut + 3 : cut + 6]} {s[cut + 6 :]}"
        elif u[j] < 0.1:
            vals[i] = vals[i].lstrip("+").rstrip()


def generate_world(
    n_accounts: int, seed: int, *, progress: Callable[[str, float], None] | None = None
) -> World:
    """Generate a deterministic synthetic world of ``n_accounts`` accounts.

    Roughly 8-12 % of the accounts are Sybils spread over a heavy-tailed set of
    campaigns (tiers sloppy / rotating / hydra / reseller); the rest are benign users
    in confounder groups (households, companies, universities, mobile CGNAT, VPN,
    developers, viral templates, proxy customers, solo users). ``progress`` is called
    as ``progress(stage, fraction)``.
    """
    prog = progress or (lambda stage, frac: None)
    pop = Population(n_accounts, seed, prog)
    prog("plan", 0.0)
    plan = pop.plan()
    pop.infra(plan)
    pop.reserve(plan)
    q = plan["quota"]
    # every benign group but the proxy customers, who need the proxies (built next,
    # sized by the campaigns that will share them)
    steps = [g for g in BENIGN_GROUPS if g != "proxy_customer"]
    for i, g in enumerate(steps):
        prog(f"benign:{g}", 0.02 + 0.3 * i / len(steps))
        BUILDERS[g](pop, q[g])
    pop.build_proxies(plan)
    prog("benign:proxy_customer", 0.33)
    BUILDERS["proxy_customer"](pop, q["proxy_customer"])
    prog("campaigns", 0.38)
    build_campaigns(pop, plan)
    return _assemble(pop, prog)


def _prompt_texts(pop: Population) -> list[str]:
    """The texts of every account's generated prompts, account by account (the
    explicitly scheduled prompts come separately, from ``pop.p_text``)."""
    tg = pop.tg
    texts: list[str] = []
    ext = texts.extend
    bo = tg.benign_one
    N = len(pop.a_nprom)
    step = max(1, N // 10)
    for a in range(N):
        k = pop.a_nprom[a]
        if k:
            spec = pop.a_spec[a]
            if spec[0] == "b":
                p = spec[1]
                ext([bo(p) for _ in range(k)])
            else:
                ext(campaign_texts(tg, spec[1], spec[2], spec[3], k))
        if a % step == 0:
            pop.progress("prompts", 0.45 + 0.35 * a / N)
    return texts


def _assemble(pop: Population, prog: Callable[[str, float], None]) -> World:
    rng = pop.rng
    N = len(pop.a_created)
    created = np.array(pop.a_created, dtype=np.int64)
    lo = np.array(pop.a_lo, dtype=np.int64)
    hi = np.array(pop.a_hi, dtype=np.int64)
    tz = np.array(pop.a_tz, dtype=np.int64)
    # ------------------------------------------------------------- prompts
    prog("prompts", 0.45)
    texts = _prompt_texts(pop)
    counts = np.array(pop.a_nprom, dtype=np.int64)
    ts = prompt_times(
        rng,
        counts,
        lo,
        hi,
        tz,
        np.array(pop.a_tmode),
        np.array(pop.a_interval, dtype=np.int64),
        np.array(pop.a_runlen, dtype=np.int64),
    )
    p_acc = np.concatenate([np.repeat(np.arange(N), counts), np.array(pop.p_a, dtype=np.int64)])
    ts = np.concatenate([ts, np.array(pop.p_t, dtype=np.int64)])
    texts.extend(pop.p_text)
    ts = np.clip(ts, created[p_acc], T1 - 1)
    order = np.argsort(ts, kind="stable")
    text_arr = np.empty(len(texts), dtype=object)
    text_arr[:] = texts
    del texts
    # ------------------------------------------------------------- signals
    prog("signals", 0.82)
    sa = np.array(pop.s_a, dtype=np.int64)
    sk = np.array(pop.s_k, dtype=np.int8)
    sv = np.array(pop.s_v, dtype=np.int64)
    sn = np.maximum(np.array(pop.s_n, dtype=np.int64), 1)
    idx = np.repeat(np.arange(len(sa)), sn)
    s_ts = signal_times(
        rng,
        idx,
        np.array(pop.s_lo, dtype=np.int64),
        np.array(pop.s_hi, dtype=np.int64),
        np.array(pop.s_m, dtype=np.int8),
        tz[sa],
    )
    s_acc, s_kind, s_val = sa[idx], sk[idx], sv[idx]
    s_ts = np.clip(s_ts, created[s_acc], T1 - 1)
    values = np.empty(len(pop.values), dtype=object)
    values[:] = pop.values
    vals = np.empty(len(idx), dtype=object)
    pos = s_val >= 0
    vals[pos] = values[s_val[pos]]
    neg = np.flatnonzero(~pos)
    if len(neg):
        iid = rng.integers(1, 2**63 - 1, size=len(neg), dtype=np.int64)
        v6hi = pop.v6_hi
        nv = s_val[neg]
        vals[neg] = [
            v6str((v6hi[-int(v) - 1] << 64) | (int(x) << 1 | 1))
            for v, x in zip(nv, iid, strict=True)
        ]
    _noisy_ips(rng, vals, s_kind == IP)
    _noisy_phones(rng, vals, s_kind == PHONE)
    s_order = np.argsort(s_ts, kind="stable")
    # ------------------------------------------------------------- ip_info
    prog("ip_info", 0.9)
    net = pop.net
    net.noise_ranges(max(20, N // 400))
    rows_ip: list[str] = []
    rows_asn: list[int] = []
    rows_cat: list[str] = []
    for rg in net.ranges:
        if rg.mode == "prefix":
            rows_ip.append(rg.cidr)
            rows_asn.append(rg.asn)
            rows_cat.append(rg.category)
    rid = np.array(pop.val_rid, dtype=np.int64)
    modes = np.array([rg.mode == "exact" for rg in net.ranges] + [False])
    keep = np.flatnonzero((rid >= 0) & modes[rid] & (rng.random(len(rid)) < 0.88))
    for c in keep:
        rg = net.ranges[rid[c]]
        rows_ip.append(pop.values[c])
        rows_asn.append(rg.asn)
        rows_cat.append(rg.category)
    for ip, asn, cat in net.overrides:
        rows_ip.append(ip)
        rows_asn.append(asn)
        rows_cat.append(cat)
    ip_info = pd.DataFrame(
        {
            "ip": _str(np.array(rows_ip, dtype=object)),
            "asn": np.array(rows_asn, dtype=np.int64),
            "category": _str(np.array(rows_cat, dtype=object)),
        }
    )
    ip_info = ip_info.drop_duplicates("ip", keep="last")
    ip_info = ip_info.iloc[rng.permutation(len(ip_info))].reset_index(drop=True)
    # ------------------------------------------------------------- frames
    prog("frames", 0.94)
    ids = _ids(rng, N)
    perm = rng.permutation(N)

    def col(xs: list[Any]) -> np.ndarray:
        arr = np.empty(N, dtype=object)
        arr[:] = xs
        return arr[perm]

    accounts = pd.DataFrame(
        {
            "account_id": _str(ids[perm]),
            "created_at": _ts(created[perm]),
            "email_domain": _str(col(pop.a_email)),
            "country": _str(col(pop.a_country)),
            "org_id": _str(col(pop.a_org)),
        }
    )
    labels = pd.DataFrame(
        {
            "account_id": _str(ids[perm]),
            "label": _str(col(pop.a_label)),
            "campaign_id": _str(col(pop.a_cid)),
            "tier": _str(col(pop.a_tier)),
            "group": _str(col(pop.a_group)),
            "group_id": _str(col(pop.a_gid)),
        }
    )
    signals = pd.DataFrame(
        {
            "account_id": _take(ids, s_acc[s_order]),
            "kind": _str(np.array(KINDS, dtype=object)[s_kind[s_order]]),
            "value": _str(vals[s_order]),
            "ts": _ts(s_ts[s_order]),
        }
    )
    prompts = pd.DataFrame(
        {
            "account_id": _take(ids, p_acc[order]),
            "ts": _ts(ts[order]),
            "text": _str(text_arr[order]),
        }
    )
    prog("done", 1.0)
    return World(
        accounts=accounts, signals=signals, prompts=prompts, ip_info=ip_info, labels=labels
    )


def _iso(s: pd.Series) -> pd.Series:
    arr = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    out = pd.Series(np.datetime_as_string(arr, unit="ms"), index=s.index).astype(object) + "Z"
    return out


def write_world(world: World, out_dir: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write the five tables as ``<name>.<fmt>`` in ``out_dir`` (created if needed).

    ``parquet`` keeps native timestamps; ``csv`` and ``jsonl`` write timestamps as
    ISO-8601 strings with millisecond precision and a ``Z`` suffix.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, df in world.tables().items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        else:
            df = df.copy()
            for c in TS_COLUMNS.get(name, ()):
                df[c] = _iso(df[c])
            if fmt == "csv":
                df.to_csv(path, index=False)
            else:
                df.to_json(path, orient="records", lines=True, force_ascii=False)
        paths[name] = path
    return paths


def read_world(in_dir: Path, fmt: str = "parquet") -> World:
    """Read a world written by :func:`write_world` back (timestamps parsed to UTC)."""
    in_dir = Path(in_dir)
    frames = {}
    for name in TABLE_NAMES:
        path = in_dir / f"{name}.{fmt}"
        if fmt == "parquet":
            df = pd.read_parquet(path)
        elif fmt == "csv":
            df = pd.read_csv(
                path,
                dtype={
                    "account_id": str,
                    "value": str,
                    "ip": str,
                    "org_id": str,
                    "campaign_id": str,
                    "group_id": str,
                    "text": str,
                },
                keep_default_na=False,
                na_values=[""],
            )
        else:
            df = pd.read_json(path, orient="records", lines=True, dtype=False)
        for c in TS_COLUMNS.get(name, ()):
            df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
        frames[name] = df
    return World(**frames)


__all__ = ["BENIGN_GROUPS", "SEC", "TIERS", "World", "generate_world", "read_world", "write_world"]
