"""Masking of identifier values in what the CLI prints and draws.

The API uses the same rule (``api/masking.py`` is :func:`mask_value`): a masked value
keeps just enough to tell values apart in a review (the e-mail domain, the network half
of an address, the last digits of a card or phone) and hides the rest. Template family
ids are not identifiers of a person: the CLI shows them as they are.
"""

from __future__ import annotations

import ipaddress
import re

MASK = "***"

#: kinds shown unmasked: ids the linker made, not values a user gave
UNMASKED_KINDS = frozenset({"prompt_template"})


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}{MASK}@{domain}" if local else f"{MASK}@{domain}"


def _mask_ip(value: str) -> str | None:
    address, slash, length = value.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 4:
        head = ".".join(str(ip).split(".")[:2])
        return f"{head}.x.x" + (f"/{length}" if slash else "")
    groups = ip.exploded.split(":")[:2]
    return ":".join(groups) + ":x:x:x:x:x:x" + (f"/{length}" if slash else "")


def _mask_tail(value: str, keep: int) -> str:
    if len(value) <= 2 * keep:
        return MASK
    return MASK + value[-keep:]


def mask_identifier(kind: str, value: str) -> str:
    """:func:`mask_value`, except that template family ids are returned as they are."""
    return str(value) if kind in UNMASKED_KINDS else mask_value(kind, value)


def mask_value(kind: str, value: str) -> str:
    """``value`` masked by its ``kind``: e-mails keep the first letter and the domain,
    IP addresses and prefixes their first half, phones the last 2 digits, cards, devices
    and anything else (template ids too) the last 4 characters (short values are masked
    whole). The API's rule (``api/masking.py``)."""
    value = str(value)
    if kind == "email" and "@" in value:
        return _mask_email(value)
    if kind in ("ip", "ip_prefix"):
        masked = _mask_ip(value)
        if masked is not None:
            return masked
    if kind == "phone":
        return _mask_tail(value, 2)
    return _mask_tail(value, 4)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?![\w.])")
#: IPv6-shaped runs; only those ``ipaddress`` reads as an address are masked
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:/\d{1,3})?(?![\w:])")
#: a card: four groups of four digits (the last of 1-7), any separator of up to two
#: spaces, dots, dashes or no-break spaces
_CARD = re.compile(r"(?<![\w.-])\d{4}(?:[ .\u00a0-]{0,2}\d{4}){2}[ .\u00a0-]{0,2}\d{1,7}(?![\w-])")
#: a phone or account number: six or more digits, maybe split by single spaces or
#: dashes, not inside a word (an id like acc_00012345 stays) and not an ISO date
_NUMBER = re.compile(r"(?<![\w-])(?!\d{4}-\d\d-\d\d(?!\d))\+?\d(?:[ -]?\d){5,}(?![\w-])")


def mask_free_text(text: str) -> str:
    """Free text an analyst wrote (a verdict's reason) with what looks like an identifier
    in it masked by the rule of :func:`mask_value`: e-mail addresses keep the first
    letter and the domain, IPv4 and IPv6 addresses their first half, cards their last 4
    digits, other numbers of six digits or more (phones, accounts) their last 2. Dates
    and the linker's own ids (``acc_…``, ``c_…``) are left as they are. Served beside
    cluster reasons to readers without ``identifiers:read``."""

    def digits(match: re.Match[str], keep: int) -> str:
        return _mask_tail(re.sub(r"\D", "", match.group()), keep)

    out = _EMAIL.sub(lambda m: _mask_email(m.group()), str(text))
    out = _IPV4.sub(lambda m: _mask_ip(m.group()) or MASK, out)
    out = _IPV6.sub(lambda m: _mask_ip(m.group()) or m.group(), out)
    out = _CARD.sub(lambda m: digits(m, 4), out)
    return _NUMBER.sub(lambda m: digits(m, 2), out)
