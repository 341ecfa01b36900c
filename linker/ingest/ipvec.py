"""IPv6 address texts read and written all at once, with pyarrow and numpy.

:mod:`ipaddress` costs microseconds per address, and a large export holds hundreds of
thousands of distinct IPv6 addresses. Here a column of texts becomes the addresses'
hextets in a few array passes, and hextets (or IPv4 addresses) become text exactly as
:mod:`ipaddress` writes them. Only plain hexadecimal IPv6 is read (either case, all
eight hextets or one ``::``); zones, brackets, whitespace and dotted-quad tails
(``::1.2.3.4``) are left to the caller's per-value path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_HEXTET = "[0-9a-fA-F]{1,4}"
#: all eight hextets
_FULL = rf"^{_HEXTET}(:{_HEXTET}){{7}}$"
#: one ``::`` with hextets on either side (at most seven of them, checked by count)
_COMPRESSED = rf"^({_HEXTET}(:{_HEXTET})*)?::({_HEXTET}(:{_HEXTET})*)?$"

#: a hexadecimal digit's value by its byte (either case)
_NIBBLE = np.zeros(256, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint64)
#: the byte of each hexadecimal digit, as ipaddress writes it (lower case)
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_COLON, _DOT, _ZERO = ord(":"), ord("."), ord("0")


def parse_v6(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``texts`` (object array; non-strings are not) are hexadecimal IPv6
    addresses, and their hextets: ``(ok, hextets)``, ``hextets`` a uint64 array of
    ``ok.sum()`` rows of eight, in the order of the texts.

    :mod:`ipaddress` reads every text marked ok as these hextets; a text not marked
    may still be an address, in a form not read here.
    """
    ok = np.zeros(len(texts), dtype=bool)
    idx = np.flatnonzero(is_str(texts))
    if len(idx) == 0:
        return ok, np.zeros((0, 8), dtype=np.uint64)
    arr = pa.array(texts[idx], type=pa.string())
    full = _matches(arr, _FULL)
    # hextets written in a compressed text: one per colon outside "::", plus one
    # unless "::" starts the text, plus one unless it ends it
    count = (
        np.asarray(pc.count_substring(arr, ":"), dtype=np.int64)
        - 2
        + ~np.asarray(pc.starts_with(arr, "::"), dtype=bool)
        + ~np.asarray(pc.ends_with(arr, "::"), dtype=bool)
    )
    short = _matches(arr, _COMPRESSED) & (count <= 7)
    # a compressed text with its "::" spelled out as the zero hextets it stands for,
    # one pass per number of them
    rows, parts = [np.flatnonzero(full)], [arr.filter(pa.array(full))]
    for missing in np.unique(8 - count[short]):
        sel = short & (count == 8 - missing)
        spelled = pc.replace_substring(arr.filter(pa.array(sel)), "::", ":" + "0:" * missing)
        rows.append(np.flatnonzero(sel))
        parts.append(pc.utf8_trim(spelled, characters=":"))
    order = np.concatenate(rows)
    ok[idx[order]] = True
    hextets = _hextets(pa.concat_arrays(parts))
    return ok, hextets[np.argsort(order)]


def is_str(values: np.ndarray) -> np.ndarray:
    """Mask of the values (object array) that are str; one C pass when all are."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return np.ones(len(values), dtype=bool)
    return np.fromiter((isinstance(v, str) for v in values), bool, len(values))


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(arr, pattern), dtype=bool)


def _hextets(texts: pa.Array) -> np.ndarray:
    """The hextets of texts of eight hexadecimal hextets each, as an (n, 8) uint64 array."""
    if len(texts) == 0:
        return np.zeros((0, 8), dtype=np.uint64)
    flat = pc.list_flatten(pc.split_pattern(texts, ":"))
    flat = pc.utf8_lpad(flat, width=4, padding="0")  # ASCII: four bytes each
    offsets = np.frombuffer(flat.buffers()[1], np.int32)[flat.offset : flat.offset + len(flat) + 1]
    data = np.frombuffer(flat.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _NIBBLE[data.reshape(-1, 8, 4)]
    return (
        (nibbles[..., 0] << 12) | (nibbles[..., 1] << 8) | (nibbles[..., 2] << 4) | nibbles[..., 3]
    )


def v6_halves(hextets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 128 bits of each address as two uint64 halves ``(hi, lo)``."""
    hi, lo = np.zeros(len(hextets), np.uint64), np.zeros(len(hextets), np.uint64)
    for i in range(4):
        shift = np.uint64(48 - 16 * i)
        hi |= hextets[:, i] << shift
        lo |= hextets[:, 4 + i] << shift
    return hi, lo


def v6_texts(hextets: np.ndarray, suffix: str = "") -> np.ndarray:
    """Each address (a row of eight hextets) as :mod:`ipaddress` writes it (RFC 5952):
    lower case, no leading zeros, the longest run of two or more zero hextets (the
    leftmost of equal runs) as ``::``; then ``suffix``. An object array of str."""
    n = len(hextets)
    # run[:, i]: the length of the run of zero hextets that starts at hextet i
    run = np.zeros((n, 9), dtype=np.int8)
    for i in range(7, -1, -1):
        run[:, i] = np.where(hextets[:, i] == 0, run[:, i + 1] + 1, 0)
    start = run[:, :8].argmax(axis=1)  # the first of the longest
    length = run[np.arange(n), start]
    length[length < 2] = 0
    end = start + length
    pos = np.arange(9)
    in_run = (pos[:8] >= start[:, None]) & (pos[:8] < end[:, None])
    # slot i (0..8): the colon before hextet i, then its four digits
    chars = np.full((n, 9, 5), _COLON, dtype=np.uint8)
    keep = np.zeros((n, 9, 5), dtype=bool)
    digits = 1 + (hextets > 0xF) + (hextets > 0xFF) + (hextets > 0xFFF)
    for k in range(4):
        chars[:, :8, 1 + k] = _HEX_DIGITS[(hextets >> np.uint64(12 - 4 * k)) & np.uint64(0xF)]
        keep[:, :8, 1 + k] = ~in_run & (digits >= 4 - k)
    keep[:, 1:8, 0] = ~in_run[:, :-1] & ~in_run[:, 1:]
    # the two colons of "::": before the run's first hextet and before the one after it
    has = length > 0
    keep[has, start[has], 0] = True
    keep[has, end[has], 0] = True
    return _texts(chars.reshape(n, 9 * 5), keep.reshape(n, 9 * 5), suffix)


def v4_texts(values: np.ndarray) -> np.ndarray:
    """Each 32-bit address (integer array) as a dotted quad, an object array of str."""
    n = len(values)
    octets = np.stack([(values >> (24 - 8 * j)) & 0xFF for j in range(4)], axis=1).astype(np.int64)
    # slot j: three decimal digits of octet j, then a dot (none after the last)
    chars = np.full((n, 4, 4), _DOT, dtype=np.uint8)
    keep = np.zeros((n, 4, 4), dtype=bool)
    digits = 1 + (octets >= 10) + (octets >= 100)
    for k, place in enumerate((100, 10, 1)):
        chars[:, :, k] = _ZERO + (octets // place) % 10
        keep[:, :, k] = digits >= 3 - k
    keep[:, :3, 3] = True
    return _texts(chars.reshape(n, 4 * 4), keep.reshape(n, 4 * 4), "")


def _texts(chars: np.ndarray, keep: np.ndarray, suffix: str) -> np.ndarray:
    """Row i's text: the bytes of ``chars[i]`` (uint8) where ``keep[i]``, then ``suffix``
    (ASCII); an object array of str."""
    n = len(chars)
    if suffix:
        tail = np.frombuffer(suffix.encode("ascii"), np.uint8)
        chars = np.concatenate([chars, np.broadcast_to(tail, (n, len(tail)))], axis=1)
        keep = np.concatenate([keep, np.ones((n, len(tail)), dtype=bool)], axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    data = np.ascontiguousarray(chars[keep])
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
