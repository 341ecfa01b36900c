"""The vectorised hot paths against slow, obvious references on seeded random inputs:
IP canonicalisation, prefixes, address parsing and ip_info lookup (per value with
``ipaddress``; address parsing also on hypothesis examples), the identifier numbering
(one joined key string per row), pair expansion and the projection in chunks (one
whole frame)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linker.evidence import pairs as pairs_module
from linker.evidence.identifiers import link_input, number_identifiers
from linker.evidence.pairs import expand_pairs, pair_chunks
from linker.evidence.projection import build_projection
from linker.ingest import ipintel, normalise
from linker.ingest.dataset import load_dataset
from linker.ingest.ipintel import lookup_ip_info
from linker.settings import LinkageSettings, is_instrument
from synth import generate_world, write_world

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


#: any 128 bits, and addresses of mostly zero hextets
V6_INTS = st.one_of(
    st.integers(0, 2**128 - 1),
    st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF]), min_size=8, max_size=8).map(
        lambda hextets: sum(h << (16 * (7 - i)) for i, h in enumerate(hextets))
    ),
)
#: what ipaddress reads but the vector path leaves to it: dotted-quad tails, zones
FALLBACK = ["::1.2.3.4", "::ffff:1.2.3.4", "64:ff9b::10.0.0.1", "fe80::1%eth0"]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(V6_INTS, st.sampled_from(["compressed", "exploded", "upper"])),
        min_size=1,
        max_size=20,
    ),
    st.lists(st.sampled_from(FALLBACK), max_size=3),
    st.lists(st.ip_addresses(v=4).map(str), max_size=3),
)
def test_address_ints_parse_ipv6_at_once_as_ipaddress_reads_it(
    cases: list[tuple[int, str]], fallback: list[str], v4: list[str]
) -> None:
    """Only the texts the vector path does not read reach ipaddress, and every text
    comes out as ipaddress reads it."""
    spelled = {
        "compressed": lambda a: str(a),
        "exploded": lambda a: a.exploded,
        "upper": lambda a: str(a).upper(),
    }
    hexes = [spelled[s](ipaddress.IPv6Address(v)) for v, s in cases]
    texts = np.array(hexes + fallback + v4, dtype=object)
    with mock.patch.object(ipintel.ipaddress, "ip_address", wraps=ipaddress.ip_address) as slow:
        is_v6, hi, lo = ipintel.address_ints(texts)
    assert slow.call_count == len(fallback)
    addrs = [ipaddress.ip_address(t) for t in texts]
    assert is_v6.tolist() == [a.version == 6 for a in addrs]
    assert [(int(h) << 64) | int(low) for h, low in zip(hi, lo, strict=True)] == [
        int(a) for a in addrs
    ]


@pytest.mark.parametrize("bad", ["not an ip", "1::2::3", ":::", "12345::", "1:2:3:4:5:6:7:8:9", ""])
def test_address_ints_still_raise_for_a_non_address(bad: str) -> None:
    with pytest.raises(ValueError):
        ipintel.address_ints(np.array(["::1", "2001:db8::", bad, "10.0.0.1"], dtype=object))


def _random_texts(rng: np.random.Generator, n: int) -> list[str]:
    pieces = ["1", "01", "255", "256", "0", "99", "199", "249", " ", "a", ":", "::", "ffff"]
    out = _random_ips(rng, n // 2)
    # full-length IPv6 texts, with leading zeros, some upper-case, some with zero hextets
    for _ in range(n // 4):
        hextets = [
            int(rng.choice([0, 1, 0xAB, 0xFFFF, int(rng.integers(0, 2**16))])) for _ in range(8)
        ]
        text = ipaddress.IPv6Address(sum(h << (16 * i) for i, h in enumerate(hextets))).exploded
        out.append(text.upper() if rng.random() < 0.2 else text)
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
        "::FFFF:1.2.3.4",
        "::ffff:1.2.3.04",
        "2001:DB8::1",
        "2001:db8::1:0:0:1",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8::",
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


def _slow_expand(
    ident: np.ndarray, account: np.ndarray, degree: np.ndarray, settings: LinkageSettings
) -> pd.DataFrame:
    """Every part concatenated, then one drop_duplicates over the whole frame (the
    reference: how pairs were expanded before they came in chunks)."""
    order = np.lexsort((account, ident))
    ident, account = ident[order], account[order]
    starts = np.flatnonzero(np.r_[True, ident[1:] != ident[:-1]])
    group_ids, sizes = ident[starts], degree[ident[starts]]
    a_all, b_all, g_all = [], [], []
    for size in np.unique(sizes):
        if size < 2:
            continue
        for s in np.flatnonzero(sizes == size):
            members = account[starts[s] : starts[s] + size]
            if size <= settings.dense_limit:
                iu, ju = np.triu_indices(size, k=1)
                a, b = members[iu], members[ju]
            else:
                # each identifier's expander from its own generator (seed, identifier)
                rng = np.random.default_rng([settings.seed, int(group_ids[s])])
                perms = [rng.permutation(members) for _ in range(settings.sparse_partners // 2)]
                a = np.concatenate(perms)
                b = np.concatenate([np.roll(p, -1) for p in perms])
            a_all.append(a)
            b_all.append(b)
            g_all.append(np.full(len(a), group_ids[s]))
    a, b, g = (np.concatenate(x).astype(np.int64) for x in (a_all, b_all, g_all))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    frame = pd.DataFrame({"a": lo, "b": hi, "ident": g})[lo != hi]
    return frame.drop_duplicates(ignore_index=True)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_chunked_pair_expansion_matches_one_whole_frame(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    settings = LinkageSettings(dense_limit=6, sparse_partners=4, seed=seed)
    degree_of = rng.integers(1, 15, size=60)
    rows = [(i, acc) for i, d in enumerate(degree_of) for acc in rng.choice(200, d, False)]
    ident = np.array([r[0] for r in rows], dtype=np.int64)
    account = np.array([r[1] for r in rows], dtype=np.int64)
    degree = np.bincount(ident, minlength=len(degree_of))
    monkeypatch.setattr(pairs_module, "CHUNK_ROWS", 7)  # many small parts and chunks
    expected = _slow_expand(ident, account, degree, settings)
    pd.testing.assert_frame_equal(expand_pairs(ident, account, degree, settings), expected)
    chunks = list(pair_chunks(ident, account, degree, settings, rows=20))
    assert len(chunks) > 1
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), expected)


def test_projection_is_the_same_in_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3,000-account world projected with pair chunks of 500 rows gives exactly the
    edges of one whole frame (same rows in the same order, so the same float sums)."""
    write_world(generate_world(3000, seed=4), tmp_path)
    inp = link_input(load_dataset(tmp_path))
    whole = build_projection(inp)
    monkeypatch.setattr(pairs_module, "CHUNK_ROWS", 500)
    chunked = build_projection(inp)
    pd.testing.assert_frame_equal(chunked.edges, whole.edges, check_exact=True)
    pd.testing.assert_frame_equal(chunked.identifiers, whole.identifiers, check_exact=True)
