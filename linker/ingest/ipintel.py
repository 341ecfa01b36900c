"""Look up the category and ASN of addresses in the optional ip_info table."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd


def lookup_ip_info(ips: pd.Series, ip_info: pd.DataFrame | None) -> pd.DataFrame:
    """Longest-prefix match of each canonical address in ``ips`` against ``ip_info``.

    Returns a frame aligned with ``ips`` with ``category`` ("unknown" when nothing
    matches) and ``asn`` (nullable Int64). Work is done once per distinct address
    and once per prefix length present in ``ip_info``.
    """
    result = pd.DataFrame(
        {"category": "unknown", "asn": pd.array([None] * len(ips), "Int64")}, index=ips.index
    )
    if ip_info is None or ip_info.empty or ips.empty:
        return result
    table = ip_info.assign(
        prefixlen=ip_info["ip"].str.split("/").str[1].astype(int),
        version=np.where(ip_info["ip"].str.contains(":"), 6, 4),
    )
    distinct = pd.Series(ips.unique())
    found_cat = pd.Series(pd.NA, index=distinct.index, dtype=object)
    found_asn = pd.Series(pd.NA, index=distinct.index, dtype="Int64")
    # longest prefix first, so a /32 entry wins over the /24 it sits in
    order = (
        table[["version", "prefixlen"]].drop_duplicates().sort_values("prefixlen", ascending=False)
    )
    is_v6 = distinct.str.contains(":")
    for version, length in order.itertuples(index=False):
        todo = found_cat.isna() & (is_v6 if version == 6 else ~is_v6)
        if not todo.any():
            continue
        nets = distinct[todo].map(
            lambda ip, n=length: str(ipaddress.ip_network(f"{ip}/{n}", strict=False))
        )
        sub = table[(table["version"] == version) & (table["prefixlen"] == length)]
        sub = sub.drop_duplicates("ip", keep="last").set_index("ip")
        found_cat[todo] = nets.map(sub["category"]).to_numpy()
        found_asn[todo] = nets.map(sub["asn"]).astype("Int64").to_numpy()
    found_cat = found_cat.fillna("unknown")
    codes = pd.Index(distinct).get_indexer(pd.Index(ips))
    result["category"] = found_cat.to_numpy()[codes]
    result["asn"] = found_asn.array[codes]
    return result
