"""Pure canonicalisers."""

from __future__ import annotations

import datetime as dt
import ipaddress
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linker.ingest import ipvec, normalise


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (" 1.2.3.4 ", "1.2.3.4"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:0102:0304", "1.2.3.4"),
        ("2001:0DB8:0000::0001", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("1.2.3", None),
        ("999.1.1.1", None),
        ("", None),
    ],
)
def test_canonical_ip(raw: str, canonical: str | None) -> None:
    assert normalise.canonical_ip(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("10.1.2.3/24", "10.1.2.0/24"),
        ("2001:DB8:1:2::/48", "2001:db8:1::/48"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("10.0.0.1", "10.0.0.1/32"),
        ("10.0.0.0/33", None),
    ],
)
def test_canonical_network(raw: str, canonical: str | None) -> None:
    assert normalise.canonical_network(raw) == canonical


def test_prefixes() -> None:
    assert normalise.ip_prefix("81.2.3.4") == "81.2.3.0/24"
    assert normalise.ip_prefix("2001:db8:aa:bb::1") == "2001:db8:aa::/48"


def test_values_by_kind() -> None:
    kinds = pd.Series(["ip", "email", "phone", "device", "payment", "ip"])
    values = pd.Series(
        [" ::ffff:8.8.8.8", " Bob@X.COM ", "+1 (555) 010-9999", " AbC ", "pm_1", "x"]
    )
    want = ["8.8.8.8", "bob@x.com", "+15550109999", "AbC", "pm_1", None]
    # object text gives None where a value is invalid; pyarrow-backed text (as the
    # readers give it) stays pyarrow-backed, missing where a value is invalid
    assert normalise.canonical_values(kinds, values.astype(object)).tolist() == want
    out = normalise.canonical_values(kinds, values.astype("str"))
    assert normalise.is_arrow_text(out)
    assert [v if isinstance(v, str) else None for v in out] == want


def test_timestamps_without_offset_are_utc() -> None:
    parsed = normalise.parse_timestamps(
        pd.Series(["2026-01-01T10:00:00", "2026-01-01T12:00:00+02:00", "2026-01-01", "nope", None])
    )
    assert parsed[0] == parsed[1] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert parsed[2] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert parsed[3:].isna().all()


# --- properties ------------------------------------------------------------------------
# Hypothesis, derandomized (the same examples every run) and bounded.

ADDRESS_TEXT = st.text(alphabet="0123456789abcdefABCDEF:.%[]/ x\t-", max_size=45)
ANY_TEXT = st.one_of(st.text(max_size=40), ADDRESS_TEXT)
PROPERTY = settings(derandomize=True, max_examples=300, deadline=None)


@PROPERTY
@given(ANY_TEXT)
def test_canonical_ip_never_raises_and_is_idempotent(text: str) -> None:
    canonical = normalise.canonical_ip(text)
    if canonical is not None:
        assert normalise.canonical_ip(canonical) == canonical
        assert canonical == canonical.strip().lower()


@PROPERTY
@given(st.ip_addresses(), st.sampled_from(["plain", "upper", "exploded", "bracket", "spaced"]))
def test_canonical_ip_round_trips_every_spelling(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, spelling: str
) -> None:
    text = {
        "plain": str(addr),
        "upper": str(addr).upper(),
        "exploded": addr.exploded,
        "bracket": f"[{addr}]",
        "spaced": f"  {addr}\t",
    }[spelling]
    mapped = getattr(addr, "ipv4_mapped", None)
    assert normalise.canonical_ip(text) == str(mapped if mapped is not None else addr)


@PROPERTY
@given(ANY_TEXT)
def test_canonical_network_never_raises_and_is_idempotent(text: str) -> None:
    canonical = normalise.canonical_network(text)
    if canonical is not None:
        assert normalise.canonical_network(canonical) == canonical
        ipaddress.ip_network(canonical)  # strict: host bits are clear


@PROPERTY
@given(st.ip_addresses(v=4), st.integers(0, 32))
def test_canonical_network_holds_its_address(addr: ipaddress.IPv4Address, bits: int) -> None:
    net = normalise.canonical_network(f"{addr}/{bits}")
    assert net is not None and addr in ipaddress.ip_network(net)
    assert net.endswith(f"/{bits}")


@PROPERTY
@given(st.ip_addresses())
def test_prefix_holds_the_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    ip = normalise.canonical_ip(str(addr))
    assert ip is not None
    prefix = normalise.ip_prefix(ip)
    net = ipaddress.ip_network(prefix)
    assert ipaddress.ip_address(ip) in net
    assert net.prefixlen == (48 if net.version == 6 else 24)
    assert normalise.ip_prefix(str(net.network_address)) == prefix


VALUES = st.one_of(
    st.none(), st.text(max_size=30), ADDRESS_TEXT, st.integers(), st.floats(), st.booleans()
)
KINDS = st.sampled_from(["ip", "email", "phone", "device", "payment", "imei", " IP ", "Phone"])


@PROPERTY
@given(st.lists(st.tuples(KINDS, VALUES), max_size=30))
def test_canonical_values_never_raise_and_are_idempotent(pairs: list[tuple[str, object]]) -> None:
    kinds = normalise.canonical_kind(pd.Series([k for k, _ in pairs], dtype=object))
    assert normalise.canonical_kind(kinds).tolist() == kinds.tolist()
    once = normalise.canonical_values(kinds, pd.Series([v for _, v in pairs], dtype=object))
    twice = normalise.canonical_values(kinds, once)
    assert once.tolist() == twice.tolist()
    for value in once:
        assert value is None or (isinstance(value, str) and value == value.strip() and value)


OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
TIMES = st.datetimes(
    min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2250, 1, 1), timezones=OFFSETS
)


@PROPERTY
@given(st.lists(TIMES, max_size=20), st.sampled_from(["T", " "]))
def test_timestamps_round_trip_to_the_same_instant(times: list[dt.datetime], sep: str) -> None:
    parsed = normalise.parse_timestamps(
        pd.Series([t.isoformat(sep=sep) for t in times], dtype=object)
    )
    assert str(parsed.dtype) == "datetime64[ns, UTC]"
    assert [p.to_pydatetime() for p in parsed] == [t.astimezone(dt.UTC) for t in times]
    again = normalise.parse_timestamps(pd.Series([p.isoformat() for p in parsed], dtype=object))
    assert again.tolist() == parsed.tolist()


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=30),
            st.integers(),
            st.floats(),
            st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.+Z-]{0,20}\Z"),
        ),
        max_size=20,
    )
)
def test_timestamps_never_raise(values: list[object]) -> None:
    parsed = normalise.parse_timestamps(pd.Series(values, dtype=object))
    assert str(parsed.dtype) == "datetime64[ns, UTC]" and len(parsed) == len(values)
    blank = normalise.is_blank(pd.Series(values, dtype=object))
    assert not (parsed.notna() & blank).any()  # a blank value is never a time


@PROPERTY
@given(
    st.lists(
        st.one_of(
            VALUES,
            st.binary(max_size=8),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
        max_size=20,
    )
)
def test_as_text_never_raises(values: list[object]) -> None:
    text, problem = normalise.as_text(pd.Series(values, dtype=object))
    for t, p in zip(text, problem, strict=True):
        assert t is None or isinstance(t, str)
        assert p is None or t is None


def test_py_whitespace_is_what_str_strip_removes() -> None:
    spaces = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(normalise.PY_WHITESPACE) == spaces


def _none_for_missing(values: pd.Series) -> list[object]:
    return [v if isinstance(v, str) else None for v in values]


#: text with the characters where pyarrow's and Python's string functions could part:
#: Python-only whitespace, case mappings of more than one character, Unicode digits
ODD_TEXT = st.text(
    alphabet=st.sampled_from(list(" \t\x1c\x85\xa0\u3000aZ9\u0130\u03a3\u00df\u0663+-@.:")),
    max_size=12,
)


@PROPERTY
@given(st.lists(st.one_of(st.none(), ODD_TEXT, st.text(max_size=12)), max_size=30), KINDS)
def test_arrow_text_agrees_with_python_text(values: list[str | None], kind: str) -> None:
    """The pyarrow path (text as the readers give it) against the object path."""
    as_object = pd.Series(values, dtype=object)
    as_arrow = pd.Series(values, dtype="str")
    assert normalise.is_arrow_text(as_arrow) and not normalise.is_arrow_text(as_object)
    assert _none_for_missing(normalise.stripped(as_arrow)) == normalise.stripped(as_object).tolist()
    assert normalise.is_blank(as_arrow).tolist() == normalise.is_blank(as_object).tolist()
    assert _none_for_missing(normalise.lower(as_arrow)) == _none_for_missing(
        normalise.lower(as_object)
    )
    kinds = normalise.canonical_kind(pd.Series([kind] * len(values), dtype=object))
    assert _none_for_missing(normalise.canonical_values(kinds, as_arrow)) == (
        normalise.canonical_values(kinds, as_object).tolist()
    )


@PROPERTY
@given(
    st.lists(st.text(max_size=4), unique=True, max_size=20),
    st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=30),
)
def test_positions_and_membership_agree_with_pandas(keys: list[str], values: list[str]) -> None:
    index = pd.Index(keys, dtype="str")
    wanted = pd.Series(values, dtype="str")
    want = pd.Index(keys, dtype=object).get_indexer(pd.Index(values, dtype=object))
    assert normalise.positions(index, wanted).tolist() == want.tolist()
    assert normalise.is_in(wanted, index).tolist() == (want >= 0).tolist()


# --- IPv6 all at once --------------------------------------------------------------------
# The vector paths (linker.ingest.ipvec) against ipaddress, with the per-value functions
# made to fail: each assertion holds only if the vector path itself answered.

#: any 128 bits, and addresses of mostly zero hextets (runs of every length and place,
#: equal runs, single zeros)
V6_INTS = st.one_of(
    st.integers(0, 2**128 - 1),
    st.lists(
        st.sampled_from([0, 0, 0, 1, 0xF, 0x10, 0xFFF, 0x1000, 0xFFFF]), min_size=8, max_size=8
    ).map(lambda hextets: sum(h << (16 * (7 - i)) for i, h in enumerate(hextets))),
)
#: how an export may write one: as ipaddress does, all eight hextets with or without
#: leading zeros, upper case
V6_SPELLINGS = st.sampled_from(["compressed", "exploded", "full", "upper"])


def _spell(value: int, spelling: str) -> str:
    addr = ipaddress.IPv6Address(value)
    if spelling == "exploded":
        return addr.exploded
    if spelling == "full":
        return ":".join(f"{int(h, 16):x}" for h in addr.exploded.split(":"))
    return str(addr).upper() if spelling == "upper" else str(addr)


def _per_value_forbidden(name: str) -> mock._patch[mock.MagicMock]:
    return mock.patch.object(normalise, name, side_effect=AssertionError(f"{name} called"))


@PROPERTY
@given(st.lists(st.tuples(V6_INTS, V6_SPELLINGS), min_size=1, max_size=20))
def test_ipv6_is_parsed_and_written_all_at_once_as_ipaddress_does(
    cases: list[tuple[int, str]],
) -> None:
    texts = np.array([_spell(v, s) for v, s in cases], dtype=object)
    addrs = [ipaddress.IPv6Address(t) for t in texts]
    ok, hextets = ipvec.parse_v6(texts)
    assert ok.all()
    hi, lo = ipvec.v6_halves(hextets)
    assert [(int(h) << 64) | int(low) for h, low in zip(hi, lo, strict=True)] == [
        int(a) for a in addrs
    ]
    assert ipvec.v6_texts(hextets).tolist() == [str(a) for a in addrs]
    with _per_value_forbidden("canonical_ip"):
        canonical = normalise.canonical_ips(pd.Series(texts)).tolist()
    assert canonical == [str(a.ipv4_mapped or a) for a in addrs]


@PROPERTY
@given(st.lists(V6_INTS, min_size=1, max_size=20))
def test_ipv6_prefixes_all_at_once_are_ipaddress_networks(values: list[int]) -> None:
    ips = pd.Series([str(ipaddress.IPv6Address(v)) for v in values])
    with _per_value_forbidden("ip_prefix"):
        prefixes = normalise.ip_prefixes(ips).tolist()
    assert prefixes == [str(ipaddress.ip_network(f"{ip}/48", strict=False)) for ip in ips]


@PROPERTY
@given(st.text(alphabet="01aF:", max_size=24))
def test_ipv6_parse_takes_exactly_the_hexadecimal_addresses(text: str) -> None:
    """Colons and hex digits only: parsed if and only if ipaddress reads an address."""
    try:
        want: int | None = int(ipaddress.IPv6Address(text))
    except ValueError:
        want = None
    ok, hextets = ipvec.parse_v6(np.array([text], dtype=object))
    assert bool(ok[0]) == (want is not None)
    if want is not None:
        hi, lo = ipvec.v6_halves(hextets)
        assert (int(hi[0]) << 64) | int(lo[0]) == want


@pytest.mark.parametrize(
    ("text", "canonical", "prefix"),
    [
        ("::", "::", "::/48"),
        ("::1", "::1", "::/48"),
        ("1::", "1::", "1::/48"),
        ("0:0:0:1:2:3:4:5", "::1:2:3:4:5", "::/48"),  # leading zero run
        ("1:2:3:4:5:0:0:0", "1:2:3:4:5::", "1:2:3::/48"),  # trailing zero run
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4", "1::/48"),  # two equal runs: the leftmost
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3", "1::/48"),  # the longer run, though later
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", "1:0:2::/48"),  # one zero hextet stays
        ("2001:DB8:1:2::1", "2001:db8:1:2::1", "2001:db8:1::/48"),
        ("2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1", "2001:db8::/48"),
        ("2001:0:1::", "2001:0:1::", "2001:0:1::/48"),
        ("0:1::", "0:1::", "0:1::/48"),
        ("0:0:1::", "0:0:1::", "0:0:1::/48"),
        ("::FFFF:102:304", "1.2.3.4", "1.2.3.0/24"),  # IPv4-mapped, in hextets
        ("::ffff:1.2.3.4", "1.2.3.4", "1.2.3.0/24"),  # IPv4-mapped, dotted
    ],
)
def test_ipv6_edge_cases_all_at_once(text: str, canonical: str, prefix: str) -> None:
    assert normalise.canonical_ip(text) == canonical  # the table is ipaddress's
    assert normalise.ip_prefix(canonical) == prefix
    with _per_value_forbidden("canonical_ip"), _per_value_forbidden("ip_prefix"):
        assert normalise.canonical_ips(pd.Series([text])).tolist() == [canonical]
        assert normalise.ip_prefixes(pd.Series([canonical])).tolist() == [prefix]
