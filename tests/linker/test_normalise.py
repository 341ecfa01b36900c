"""Pure canonicalisers."""

from __future__ import annotations

import pandas as pd
import pytest

from linker.ingest import normalise


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
    out = normalise.canonical_values(kinds, values).tolist()
    assert out == ["8.8.8.8", "bob@x.com", "+15550109999", "AbC", "pm_1", None]


def test_timestamps_without_offset_are_utc() -> None:
    parsed = normalise.parse_timestamps(
        pd.Series(["2026-01-01T10:00:00", "2026-01-01T12:00:00+02:00", "2026-01-01", "nope", None])
    )
    assert parsed[0] == parsed[1] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert parsed[2] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert parsed[3:].isna().all()
