"""Pure canonicalisers for identifiers and timestamps.

Every function here is vectorised over the *distinct* values of a column: a signal
export has millions of rows but far fewer distinct addresses, so parsing each
distinct value once and mapping back keeps ingest near-linear.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

IPV4_PREFIX = 24
IPV6_PREFIX = 48

_PHONE_STRIP = re.compile(r"[^\d+]")


def canonical_ip(text: str) -> str | None:
    """Return the canonical text of an IP address, or None if it is not one.

    Whitespace is stripped, case folded, IPv6 compressed, IPv4-mapped IPv6
    (``::ffff:1.2.3.4``) and 6to4-free forms reduced to the IPv4 address, and a
    zone index (``fe80::1%eth0``) dropped.
    """
    raw = text.strip().lower()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    raw = raw.split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def canonical_network(text: str) -> str | None:
    """Return the canonical CIDR text of an address or prefix (host bits cleared), or None."""
    raw = text.strip().lower()
    if "/" not in raw:
        ip = canonical_ip(raw)
        if ip is None:
            return None
        return str(ipaddress.ip_network(ip))
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
        mapped = net.network_address.ipv4_mapped
        return str(ipaddress.ip_network(f"{mapped}/{max(net.prefixlen - 96, 0)}", strict=False))
    return str(net)


def ip_prefix(ip: str) -> str:
    """Return the /24 (IPv4) or /48 (IPv6) prefix of a canonical address."""
    bits = IPV6_PREFIX if ":" in ip else IPV4_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def map_distinct(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """Apply ``func`` once per distinct value of ``values`` and map the results back."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(v) for v in uniques], dtype=object)
    out = np.full(len(values), None, dtype=object)
    ok = codes >= 0
    out[ok] = mapped[codes[ok]]
    return pd.Series(out, index=values.index, dtype=object)


def canonical_ips(values: pd.Series) -> pd.Series:
    """Canonicalise a column of IP texts; invalid entries become None."""
    return map_distinct(values.astype(str), canonical_ip)


def ip_prefixes(ips: pd.Series) -> pd.Series:
    """The /24 or /48 prefix of each canonical address in ``ips``."""
    return map_distinct(ips, ip_prefix)


def canonical_kind(kinds: pd.Series) -> pd.Series:
    """Signal kinds are case- and whitespace-insensitive: ``' IP '`` is ``ip``."""
    return kinds.astype(str).str.strip().str.lower()


def canonical_values(kinds: pd.Series, values: pd.Series) -> pd.Series:
    """Canonicalise identifier values by kind; returns None where a value is invalid.

    - ``ip``: :func:`canonical_ip` (invalid addresses become None);
    - ``email``: stripped and lower-cased;
    - ``phone``: digits and a leading ``+`` only;
    - anything else (payment, device, extra kinds): stripped, case kept, because
      opaque fingerprints may be case-sensitive.
    """
    out = values.astype(str).str.strip().astype(object)
    out[out == ""] = None
    is_ip = (kinds == "ip").to_numpy()
    if is_ip.any():
        out[is_ip] = canonical_ips(out[is_ip].fillna("")).to_numpy()
    is_email = (kinds == "email").to_numpy()
    if is_email.any():
        out[is_email] = out[is_email].str.lower().to_numpy()
    is_phone = (kinds == "phone").to_numpy()
    if is_phone.any():
        phones = out[is_phone].astype(str).str.replace(_PHONE_STRIP, "", regex=True)
        phones[phones.str.len() < 5] = None
        out[is_phone] = phones.to_numpy()
    return out


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse ISO-8601 timestamps to UTC; a missing offset means UTC.

    Returns a ``datetime64[ns, UTC]`` series with NaT where a value is missing or
    unparsable (the caller decides which of the two is an error).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    text = values.astype(str).str.strip()
    text = text.where(~values.isna(), None)
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return parsed.astype("datetime64[ns, UTC]")


def is_blank(values: pd.Series) -> pd.Series:
    """True where a value is missing, NaN or only whitespace."""
    blank = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        blank = blank | (values.astype(str).str.strip() == "")
    return blank
