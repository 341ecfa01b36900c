"""Codes, group and tier names, and the small records the population builders share."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..text import House

PAY, IP, DEV, PHONE = 0, 1, 2, 3
KINDS = ("payment", "ip", "device", "phone")
BENIGN_GROUPS = (
    "solo",
    "household",
    "company",
    "university",
    "mobile",
    "vpn",
    "developer",
    "viral",
    "proxy_customer",
)
TIERS = ("sloppy", "rotating", "hydra", "reseller")


def zipf_cum(n: int, s: float = 1.1) -> list[float]:
    """Cumulative Zipf(s) weights of ``n`` ranks (the last is exactly 1.0)."""
    w = [1.0 / (i + 1) ** s for i in range(n)]
    tot = sum(w)
    out, acc = [], 0.0
    for x in w:
        acc += x / tot
        out.append(acc)
    out[-1] = 1.0
    return out


def cumulative(weights: list[float]) -> list[float]:
    """Cumulative normalised weights (the last is exactly 1.0), for ``bisect``."""
    tot = float(sum(weights))
    out, acc = [], 0.0
    for x in weights:
        acc += x / tot
        out.append(acc)
    out[-1] = 1.0
    return out


class Home:
    """A home connection: DHCP leases ``(ip code, start, end)`` and an IPv6 /64 code (0: none)."""

    __slots__ = ("leases", "v6")

    def __init__(self, leases: list[tuple[int, int, int]], v6: int) -> None:
        self.leases = leases
        self.v6 = v6


@dataclass
class Pool:
    """Value codes drawn with cumulative weights ``cum``."""

    codes: list[int]
    cum: list[float]


@dataclass
class Campaign:
    """One distillation campaign: its tier, window, template houses and accounts."""

    cid: str
    tier: str
    size: int
    start: int
    end: int
    houses: list[House]
    fam_cum: list[float]
    mode: str
    topic_chunk: int = 8
    accounts: list[int] = field(default_factory=list)
