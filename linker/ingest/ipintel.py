"""Look up the category and ASN of addresses in the optional ip_info table."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linker.ingest.ipvec import parse_v6, v6_halves
from linker.ingest.normalise import is_canonical_v4

_LOW = (1 << 64) - 1


def address_ints(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each address text (object array) as ``(is_v6, hi, lo)``: the address's 128 bits
    as two uint64 halves (an IPv4 address in ``lo``). Canonical dotted quads and
    hexadecimal IPv6 texts are parsed all at once; other texts (zones, dotted-quad
    tails) one at a time with :mod:`ipaddress`, which raises ValueError for a text that
    is not an address."""
    n = len(texts)
    hi, lo = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    v4 = is_canonical_v4(texts)
    if v4.any():
        octets = pc.split_pattern(pa.array(texts[v4], type=pa.string()), ".").flatten()
        parts = octets.cast(pa.uint64()).to_numpy().reshape(-1, 4)
        lo[v4] = (parts[:, 0] << 24) | (parts[:, 1] << 16) | (parts[:, 2] << 8) | parts[:, 3]
    other = np.flatnonzero(~v4)
    ok, hextets = parse_v6(texts[other])
    is_v6 = np.zeros(n, dtype=bool)
    is_v6[other[ok]] = True
    hi[other[ok]], lo[other[ok]] = v6_halves(hextets)
    for i in other[~ok]:
        addr = ipaddress.ip_address(texts[i])
        value = int(addr)
        hi[i], lo[i] = value >> 64, value & _LOW
        is_v6[i] = addr.version == 6
    return is_v6, hi, lo


def _network_masks(length: int, version: int) -> tuple[np.uint64, np.uint64]:
    """The (hi, lo) masks of a /``length`` network of IP ``version``."""
    bits = 32 if version == 4 else 128
    mask = ((1 << length) - 1) << (bits - length)
    return np.uint64(mask >> 64), np.uint64(mask & _LOW)


def lookup_ip_info(ips: pd.Series, ip_info: pd.DataFrame | None) -> pd.DataFrame:
    """Longest-prefix match of each canonical address in ``ips`` against ``ip_info``
    (whose ``ip`` column holds canonical networks, as ingest writes them).

    Returns a frame aligned with ``ips`` with ``category`` ("unknown" when nothing
    matches) and ``asn`` (nullable Int64); of two ip_info rows for one network, the
    later wins. Addresses and networks are compared as integers: one pass per prefix
    length present in ``ip_info``, no per-address call.
    """
    result = pd.DataFrame(
        {"category": "unknown", "asn": pd.array([None] * len(ips), "Int64")}, index=ips.index
    )
    if ip_info is None or ip_info.empty or ips.empty:
        return result
    # a row without a category matches nothing (the next shorter prefix is tried)
    known = ip_info[ip_info["category"].notna().to_numpy()]
    nets = known["ip"].drop_duplicates(keep="last")
    table = known.loc[nets.index]
    net_v6, net_hi, net_lo = address_ints(
        np.asarray(nets.str.split("/").str[0].to_numpy(), dtype=object)
    )
    length = nets.str.split("/").str[1].astype(int).to_numpy()
    codes, distinct = pd.factorize(ips)
    is_v6, hi, lo = address_ints(np.asarray(distinct, dtype=object))
    found = np.full(len(distinct), -1, dtype=np.int64)
    groups = pd.DataFrame({"v6": net_v6, "length": length}).drop_duplicates()
    # longest prefix first, so a /32 entry wins over the /24 it sits in
    for v6, n in groups.sort_values("length", ascending=False).itertuples(index=False):
        todo = np.flatnonzero((found < 0) & (is_v6 == v6))
        if len(todo) == 0:
            continue
        mask_hi, mask_lo = _network_masks(int(n), 6 if v6 else 4)
        rows = np.flatnonzero((net_v6 == v6) & (length == n))
        keys = pd.MultiIndex.from_arrays([net_hi[rows], net_lo[rows]])
        hit = keys.get_indexer(pd.MultiIndex.from_arrays([hi[todo] & mask_hi, lo[todo] & mask_lo]))
        found[todo[hit >= 0]] = rows[hit[hit >= 0]]
    matched = found[codes]
    ok = matched >= 0
    category = table["category"].to_numpy(dtype=object)
    result["category"] = np.where(ok, category[np.maximum(matched, 0)], "unknown")
    result["asn"] = table["asn"].astype("Int64").array.take(matched, allow_fill=True)
    return result
