"""The vectorised hot paths against slow, obvious references on seeded random inputs:
IP canonicalisation, prefixes and ip_info lookup (per value with ``ipaddress``), the
identifier numbering (one joined key string per row)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd
import pytest

from linker.evidence.identifiers import number_identifiers
from linker.ingest import normalise
from linker.ingest.ipintel import lookup_ip_info
from linker.settings import is_instrument

SEEDS = [1, 2, 3]


def _slow_lookup(ips: pd.Series, ip_info: pd.DataFrame) -> pd.DataFrame:
    """Longest-prefix match one address at a time (the reference)."""
    nets = {}
    for row in ip_info.itertuples(index=False):
        nets[str(row.ip)] = (row.category, row.asn)
    cats, asns = [], []
    for ip in ips:
        addr = ipaddress.ip_address(ip)
        hit = ("unknown", pd.NA)
        for length in range(addr.max_prefixlen, -1, -1):
            net = str(ipaddress.ip_network(f"{ip}/{length}", strict=False))
            if net in nets:
                hit = nets[net]
                break
        cats.append(hit[0])
        asns.append(hit[1])
    return pd.DataFrame({"category": cats, "asn": pd.array(asns, dtype="Int64")})


def _random_ips(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            # few /16s so that prefixes are shared
            out.append(f"10.{rng.integers(0, 3)}.{rng.integers(0, 4)}.{rng.integers(0, 256)}")
        else:
            out.append(
                str(
                    ipaddress.IPv6Address(
                        int(rng.integers(0, 4)) << 100 | int(rng.integers(0, 2**40))
                    )
                )
            )
    return out


def _random_info(rng: np.random.Generator, ips: list[str]) -> pd.DataFrame:
    rows = []
    for ip in rng.choice(ips, size=len(ips) // 3):
        v6 = ":" in ip
        length = int(rng.choice([32, 48, 64, 100, 128] if v6 else [8, 16, 24, 32]))
        net = str(ipaddress.ip_network(f"{ip}/{length}", strict=False))
        rows.append((net, int(rng.integers(1, 1000)), str(rng.choice(["vpn", "datacenter"]))))
    return pd.DataFrame(rows, columns=["ip", "asn", "category"]).drop_duplicates("ip")


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_lookup_ip_info_matches_a_per_address_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ips = _random_ips(rng, 600)
    info = _random_info(rng, ips)
    fast = lookup_ip_info(pd.Series(ips), info)
    slow = _slow_lookup(pd.Series(ips), info)
    assert fast["category"].tolist() == slow["category"].tolist()
    assert fast["asn"].astype(object).tolist() == slow["asn"].astype(object).tolist()


def _random_texts(rng: np.random.Generator, n: int) -> list[str]:
    pieces = ["1", "01", "255", "256", "0", "99", "199", "249", " ", "a", ":", "::", "ffff"]
    out = _random_ips(rng, n // 2)
    for _ in range(n - len(out)):
        k = int(rng.integers(1, 8))
        sep = str(rng.choice([".", ":", ""]))
        out.append(sep.join(str(rng.choice(pieces)) for _ in range(k)))
    out += [
        "1.2.3.4",
        " 1.2.3.4",
        "1.2.3.04",
        "::ffff:1.2.3.4",
        "[::1]",
        "fe80::1%eth0",
        "1.2.3.4/24",
    ]
    return out


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_ip_canonicalisers_match_ipaddress_per_value(seed: int) -> None:
    texts = pd.Series(_random_texts(np.random.default_rng(seed), 800))
    assert normalise.canonical_ips(texts).tolist() == [normalise.canonical_ip(t) for t in texts]
    assert normalise.canonical_networks(texts).tolist() == [
        normalise.canonical_network(t) for t in texts
    ]
    ips = normalise.canonical_ips(texts).dropna()
    assert normalise.ip_prefixes(ips).tolist() == [normalise.ip_prefix(t) for t in ips]


def _slow_numbering(memberships: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """Identifier numbers from one joined key string per membership row (the reference)."""
    kind = memberships["kind"].astype(str)
    role = pd.Series(np.where(is_instrument(kind), "instrument", kind), index=kind.index)
    keys = role + "\x1f" + memberships["value"].astype(str) + "\x1f" + kind
    codes, uniques = pd.factorize(keys, sort=True)
    split = pd.Series(uniques).str.split("\x1f", n=2, expand=True)
    return codes, split[2].tolist(), split[1].tolist()


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_identifier_numbering_matches_joined_key_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kinds = ["ip", "ip_prefix", "device", "payment", "prompt_template", "wallet", "Device"]
    values = ["a", "A", "ab", "a b", "é", "zz", "1.2.3.4", "1.2.3.0/24", "ü", "", "~", "10"]
    n = 3000
    memberships = pd.DataFrame(
        {"kind": rng.choice(kinds, n), "value": rng.choice(values, n).astype(object)}
    )
    codes, kind, value = number_identifiers(memberships)
    slow_codes, slow_kind, slow_value = _slow_numbering(memberships)
    assert codes.tolist() == slow_codes.tolist()
    assert kind.tolist() == slow_kind
    assert value.tolist() == slow_value
