"""Pure canonicalisers for identifiers and timestamps.

Every function here is vectorised over the *distinct* values of a column: a signal
export has millions of rows but far fewer distinct addresses, so parsing each
distinct value once and mapping back keeps ingest near-linear.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linker.ingest.ipvec import is_str, parse_v6, v4_texts, v6_texts

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


def map_distinct(
    values: pd.Series,
    func: Callable[[Any], Any],
    fast: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.Series:
    """Apply ``func`` once per distinct value of ``values`` and map the results back.

    ``fast``, when given, takes the distinct values (an object array) and returns
    ``(done, results)``: a mask of the values it handled at once and their results;
    ``func`` runs on the others only. It must agree with ``func`` wherever it answers.
    """
    codes, found = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(found, dtype=object)
    mapped = np.full(len(uniques), None, dtype=object)
    done = np.zeros(len(uniques), dtype=bool)
    if fast is not None and len(uniques):
        done, results = fast(uniques)
        mapped[done] = results
    rest = np.flatnonzero(~done)
    mapped[rest] = np.array([func(v) for v in uniques[rest]], dtype=object)
    out = np.full(len(values), None, dtype=object)
    ok = codes >= 0
    out[ok] = mapped[codes[ok]]
    return pd.Series(out, index=values.index, dtype=object)


#: a dotted-quad IPv4 address as Python's ipaddress writes it (no leading zeros,
#: no spaces): its canonical text is itself
_V4_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_QUAD = rf"{_V4_OCTET}(\.{_V4_OCTET}){{3}}"
V4_CANONICAL = rf"^{_V4_QUAD}$"
#: an IPv4-mapped address with a canonical dotted-quad tail: its canonical text is the tail
_V4_MAPPED = rf"^::[fF]{{4}}:{_V4_QUAD}$"


def is_canonical_v4(texts: np.ndarray) -> np.ndarray:
    """Mask of the values (object array; non-strings are not) that are canonical
    dotted-quad IPv4 addresses, tested all at once."""
    text = is_str(texts)
    out = np.zeros(len(texts), dtype=bool)
    if text.any():
        arr = pa.array(texts[text], type=pa.string())
        out[text] = pc.match_substring_regex(arr, V4_CANONICAL).to_numpy(zero_copy_only=False)
    return out


def _canonical_fast(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical IPv4 texts as they are, ``::ffff:`` and a canonical dotted quad as the
    dotted quad, and hexadecimal IPv6 (either case, full or compressed, no zone,
    brackets or spaces) parsed and written again, IPv4-mapped ones as IPv4; other
    values are left to ipaddress."""
    done = is_canonical_v4(uniques)
    out = np.full(len(uniques), None, dtype=object)
    out[done] = uniques[done]
    rest = np.flatnonzero(~done)
    rest = rest[is_str(uniques[rest])]
    if len(rest):
        arr = pa.array(uniques[rest], type=pa.string())
        mapped = pc.match_substring_regex(arr, _V4_MAPPED).to_numpy(zero_copy_only=False)
        tails = pc.utf8_slice_codeunits(arr.filter(pa.array(mapped)), len("::ffff:"))
        out[rest[mapped]] = np.asarray(tails.to_numpy(zero_copy_only=False), dtype=object)
        done[rest[mapped]] = True
        rest = rest[~mapped]
    ok, hextets = parse_v6(uniques[rest])
    # ipaddress's ipv4_mapped: ::ffff:0:0/96
    v4 = (hextets[:, :5] == 0).all(axis=1) & (hextets[:, 5] == 0xFFFF)
    texts = np.empty(len(hextets), dtype=object)
    texts[~v4] = v6_texts(hextets[~v4])
    texts[v4] = v4_texts((hextets[v4, 6] << np.uint64(16)) | hextets[v4, 7])
    out[rest[ok]] = texts
    done[rest[ok]] = True
    return done, out[done]


def _v4_as_is(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    done = is_canonical_v4(uniques)
    return done, uniques[done]


def _prefixes_fast(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The /24 of canonical IPv4 texts by text rewriting, the /48 of hexadecimal IPv6
    texts from their parsed hextets (the first three kept)."""
    done = is_canonical_v4(uniques)
    out = np.full(len(uniques), None, dtype=object)
    arr = pa.array(uniques[done], type=pa.string())
    prefixes = pc.replace_substring_regex(arr, r"\.[0-9]+$", f".0/{IPV4_PREFIX}")
    out[done] = np.asarray(prefixes.to_numpy(zero_copy_only=False), dtype=object)
    rest = np.flatnonzero(~done)
    ok, hextets = parse_v6(uniques[rest])
    hextets[:, IPV6_PREFIX // 16 :] = 0
    out[rest[ok]] = v6_texts(hextets, suffix=f"/{IPV6_PREFIX}")
    done[rest[ok]] = True
    return done, out[done]


def _v4_hosts(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    done, texts = _v4_as_is(uniques)
    return done, texts + "/32"


def canonical_ips(values: pd.Series) -> pd.Series:
    """Canonicalise a column of IP texts; invalid entries become None. Canonical IPv4
    texts, IPv4-mapped dotted quads and hexadecimal IPv6 texts are rewritten all at
    once; the rest are parsed one distinct value at a time."""
    return map_distinct(values.astype(str), canonical_ip, _canonical_fast)


def canonical_networks(values: pd.Series) -> pd.Series:
    """:func:`canonical_network` of each value (None where it is none), bare canonical
    IPv4 addresses (``/32``) recognised all at once."""
    return map_distinct(values, canonical_network, _v4_hosts)


def ip_prefixes(ips: pd.Series) -> pd.Series:
    """The /24 or /48 prefix of each canonical address in ``ips``, all at once (IPv4 by
    text rewriting, hexadecimal IPv6 from its hextets); anything else one distinct
    address at a time."""
    return map_distinct(ips, ip_prefix, _prefixes_fast)


def canonical_kind(kinds: pd.Series) -> pd.Series:
    """Signal kinds are case- and whitespace-insensitive: ``' IP '`` is ``ip``."""
    return kinds.astype(str).str.strip().str.lower()


def canonical_values(kinds: pd.Series, values: pd.Series) -> pd.Series:
    """Canonicalise identifier values by kind; returns None where a value is invalid
    or missing.

    - ``ip``: :func:`canonical_ip` (invalid addresses become None);
    - ``email``: stripped and lower-cased;
    - ``phone``: digits and a leading ``+`` only;
    - anything else (payment, device, extra kinds): stripped, case kept, because
      opaque fingerprints may be case-sensitive.
    """
    text, _ = as_text(values)
    out = stripped(text)
    kind = kinds.to_numpy()
    is_ip = kind == "ip"
    if is_ip.any():
        out[is_ip] = canonical_ips(out[is_ip].fillna("")).to_numpy()
    is_email = (kind == "email") & out.notna().to_numpy()
    if is_email.any():
        out[is_email] = lower(out[is_email]).to_numpy()
    is_phone = (kind == "phone") & out.notna().to_numpy()
    if is_phone.any():
        phones = out[is_phone].astype(str).str.replace(_PHONE_STRIP, "", regex=True)
        phones = phones.astype(object)
        phones[phones.str.len() < 5] = None
        out[is_phone] = phones.to_numpy()
    return out.where(out.notna(), None)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse ISO-8601 timestamps to UTC; a missing offset means UTC.

    Returns a ``datetime64[ns, UTC]`` series with NaT where a value is missing,
    unparsable, not ISO-8601 (``now``, epoch numbers) or outside what a nanosecond
    timestamp holds (1677-09-21 to 2262-04-11); the caller decides which is an error.
    Never raises for any input.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _in_range(values.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _in_range(values.dt.tz_localize("UTC"))
    if is_arrow_text(values):  # matched and parsed as Python text, as any other text
        values = values.astype(object).where(values.notna(), None)
    text, _ = as_text(values)
    text = stripped(text)
    iso = text.str.match(_ISO_START).eq(True) if text.notna().any() else text.notna()
    text = text.where(iso, None)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    except (ValueError, OverflowError):  # one value pandas cannot place: parse one by one
        parsed = pd.Series(
            [_one_timestamp(v) for v in text], index=values.index, dtype="datetime64[us, UTC]"
        )
    return _in_range(parsed)


#: ISO-8601 starts with a four-digit year (words like ``now`` and signs are not it)
_ISO_START = re.compile(r"\d{4}")


def _one_timestamp(value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        out = pd.to_datetime(value, utc=True, format="ISO8601")
    except (ValueError, OverflowError):
        return None
    # pandas-stubs type to_datetime(str) as Timestamp, but a text such as "NaT" gives NaT
    return None if out is pd.NaT else out  # type: ignore[comparison-overlap]


def _in_range(parsed: pd.Series) -> pd.Series:
    """``parsed`` (tz-aware, any unit) as UTC nanoseconds, NaT where out of range."""
    lo = pd.Timestamp.min.tz_localize("UTC")
    hi = pd.Timestamp.max.tz_localize("UTC")
    ok = parsed.notna() & (parsed >= lo) & (parsed <= hi)
    out = parsed.where(ok)
    return out.astype("datetime64[ns, UTC]")


def is_blank(values: pd.Series) -> pd.Series:
    """True where a value is missing, NaN or only whitespace."""
    if is_arrow_text(values):
        return stripped(values).isna().astype(bool)
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return values.isna().astype(bool)
    text, problem = as_text(values)
    return (stripped(text).isna() & problem.isna()).astype(bool)


#: the characters Python's ``str.strip()`` removes (``str.isspace``), for pyarrow's
#: ``utf8_trim``: its own whitespace set is not Python's (a test holds the two together)
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_arrow_text(values: pd.Series) -> bool:
    """Whether ``values`` is a pyarrow-backed text column (as the readers give text)."""
    dtype = values.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    """The pyarrow array behind a pyarrow-backed text column."""
    array = pa.array(values.array)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _text_series(array: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """A pyarrow text array as a pyarrow-backed text column on ``index``."""
    text = pd.array(array, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return pd.Series(text, index=index, copy=False)


def stripped(text: pd.Series) -> pd.Series:
    """Text (str or None, as from :func:`as_text`) with surrounding whitespace removed;
    missing where nothing is left. A pyarrow-backed column is stripped in pyarrow, of
    Python's whitespace, and stays one (missing values NaN); other text comes back as
    an object series with None."""
    if is_arrow_text(text):
        trimmed = pc.utf8_trim(_arrow(text), characters=PY_WHITESPACE)
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
        return _text_series(trimmed, text.index)
    out = text.astype(object)
    if not out.notna().any():
        return pd.Series([None] * len(out), index=text.index, dtype=object)
    out = out.str.strip()
    return out.where(out.notna() & (out != ""), None).astype(object)


def is_in(values: pd.Series, known: pd.Index) -> np.ndarray:
    """Boolean array: whether each of ``values`` is in ``known`` (pandas ``isin``; in
    pyarrow when both are pyarrow-backed text, as the readers give them)."""
    if is_arrow_text(values) and is_arrow_text(pd.Series(known, copy=False)):
        value_set = _arrow(pd.Series(known, copy=False)).combine_chunks()
        found = pc.is_in(_arrow(values), value_set=value_set)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(values.isin(known).to_numpy(), dtype=bool)


class IdLookup:
    """Membership in a fixed set of ids (the accounts table's), asked batch after batch:
    the ids' 64-bit hashes are indexed once, so each batch costs its own length, not
    the set's (``pyarrow.compute.is_in`` builds its table again on every call). A hash
    match is confirmed by comparing the texts; ids whose hashes collide fall back to
    :func:`is_in`."""

    def __init__(self, known: pd.Index) -> None:
        self.known = known
        hashes = _hashes(pd.Series(known, copy=False))
        self._index: pd.Index | None = pd.Index(hashes)
        if not self._index.is_unique:
            self._index = None

    def contains(self, values: pd.Series) -> np.ndarray:
        """Boolean array: whether each of ``values`` is one of the ids."""
        if self._index is None:
            return is_in(values, self.known)
        found = np.asarray(self._index.get_indexer(pd.Index(_hashes(values))), dtype=np.intp)
        hit = np.flatnonzero(found >= 0)
        same = pd.Series(values.array[hit]).reset_index(drop=True) == pd.Series(
            self.known.take(found[hit]).array
        )
        out = np.zeros(len(values), dtype=bool)
        out[hit] = same.to_numpy(dtype=bool, na_value=False)
        return out


def _hashes(values: pd.Series) -> np.ndarray:
    """A 64-bit hash of each value (pandas' own, stable within a process)."""
    return np.asarray(pd.util.hash_pandas_object(values, index=False).to_numpy(), np.uint64)


def positions(index: pd.Index, values: pd.Series | pd.Index) -> np.ndarray:
    """``index.get_indexer(values)``: the position of each value in ``index`` (unique),
    -1 where it is not there; in pyarrow when both are pyarrow-backed text."""
    keys, wanted = pd.Series(index, copy=False), pd.Series(values, copy=False)
    if is_arrow_text(keys) and is_arrow_text(wanted):
        value_set = _arrow(keys).combine_chunks()
        if pc.count_distinct(value_set, mode="all").as_py() == len(value_set):
            found = pc.index_in(_arrow(wanted), value_set=value_set).fill_null(-1)
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.intp)
    return np.asarray(index.get_indexer(pd.Index(values)), dtype=np.intp)


def lower(text: pd.Series) -> pd.Series:
    """``str.lower()`` of each value of a text column (missing stays missing). A
    pyarrow-backed column is lowered in pyarrow when it is all ASCII (where pyarrow and
    Python agree) and in Python otherwise (Python's full case mapping)."""
    if is_arrow_text(text):
        array = _arrow(text)
        if pc.all(pc.string_is_ascii(array)).as_py() is not False:
            return _text_series(pc.utf8_lower(array), text.index)
        text = text.astype(object).where(text.notna(), None)
    return text.str.lower()


#: why a value is not text, by its Python type
NOT_TEXT = "a list or object, not a single value"
NOT_UTF8 = "not UTF-8 text"
NOT_TEXT_BOOL = "true/false, not text"


def as_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each value of a raw column as text: strings as they are, numbers and times as
    written, nulls as None.

    Returns (text, problem): object series of str or None (a pyarrow-backed text
    column as it is), and the reason a value has
    no text (a list or object, true/false, bytes that are not UTF-8), None elsewhere.
    Never raises.
    """
    if is_arrow_text(values):
        return values, pd.Series([None] * len(values), index=values.index, dtype=object)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        text = values.astype(object).where(values.notna(), None)
        return text, pd.Series([None] * len(values), index=values.index, dtype=object)
    pairs = [_one_text(v) for v in values.to_numpy(dtype=object)]
    text = pd.Series([p[0] for p in pairs], index=values.index, dtype=object)
    problem = pd.Series([p[1] for p in pairs], index=values.index, dtype=object)
    return text, problem


def _one_text(value: object) -> tuple[str | None, str | None]:
    if isinstance(value, str):
        return value, None
    if value is None or value is pd.NA or value is pd.NaT:
        return None, None
    if isinstance(value, bool | np.bool_):
        return None, NOT_TEXT_BOOL
    if isinstance(value, float | np.floating):
        return (None, None) if np.isnan(value) else (repr(float(value)), None)
    if isinstance(value, int | np.integer | decimal.Decimal):
        return str(value), None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, NOT_UTF8
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(), None
    if isinstance(value, dict | list | tuple | set | np.ndarray):
        return None, NOT_TEXT
    return str(value), None
