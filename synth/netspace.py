"""Synthetic address space: who owns which IPv4/IPv6 blocks, under which ASN, and how
(in)completely an IP-intelligence feed describes them.

Every allocation is a :class:`Range`. Its ``mode`` says how ``ip_info`` covers it:
``prefix`` (one CIDR row), ``exact`` (one row per address actually seen, with
dropout), or ``missing`` (no row; a longest-prefix lookup may still hit an enclosing
aggregate). ``override`` rows (e.g. a handful of residential-proxy exits flagged as
``proxy`` inside a residential prefix) are kept separately.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

# First octets that are plausible public unicast space (no 0/10/100/127/169/172/192/198/203/224+).
_FIRST_OCTETS = [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)]


def v4str(x: int) -> str:
    return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


def v6str(x: int) -> str:
    return ipaddress.IPv6Address(x).compressed


@dataclass
class Range:
    cidr: str
    asn: int
    category: str
    mode: str  # prefix | exact | missing


@dataclass
class Provider:
    """An ASN-holding network: ISP, carrier, hosting, cloud, university, ..."""

    kind: str
    asn: int
    country: str
    blocks: list[int] = field(default_factory=list)  # /24 base addresses
    rid: list[int] = field(default_factory=list)  # range id per block
    v6: int = -1  # /32 prefix (top 32 bits), -1 if none
    v6_rid: int = -1
    pool: list[int] = field(default_factory=list)  # special addresses (CGNAT, NAT, exits)


class Net:
    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.ranges: list[Range] = []
        self.overrides: list[tuple[str, int, str]] = []
        self._used16: set[int] = set()
        self._used32: set[int] = set()
        self._asns: set[int] = set()

    # ------------------------------------------------------------------ allocators
    def new_asn(self) -> int:
        while True:
            a = self.r.choice((self.r.randint(1000, 65000), self.r.randint(131072, 401000)))
            if a not in self._asns:
                self._asns.add(a)
                return a

    def new16(self) -> int:
        while True:
            b = (self.r.choice(_FIRST_OCTETS) << 24) | (self.r.randint(0, 255) << 16)
            if b not in self._used16:
                self._used16.add(b)
                return b

    def new_v6_32(self) -> int:
        while True:
            hi = self.r.choice(
                (0x2001, 0x2400, 0x2600, 0x2800, 0x2A00, 0x2A01, 0x2A02, 0x2C0F, 0x2406, 0x2607)
            )
            hi = (hi << 16) | self.r.randint(0x0100, 0xFFFF)
            if hi not in self._used32:
                self._used32.add(hi)
                return hi

    def add_range(self, cidr: str, asn: int, category: str, mode: str) -> int:
        self.ranges.append(Range(cidr, asn, category, mode))
        return len(self.ranges) - 1

    def coverage(self, p_prefix: float, p_exact: float) -> str:
        u = self.r.random()
        return "prefix" if u < p_prefix else ("exact" if u < p_prefix + p_exact else "missing")

    # ------------------------------------------------------------------ providers
    def provider(
        self,
        kind: str,
        country: str,
        n_blocks: int,
        category: str,
        *,
        p_prefix: float,
        p_exact: float,
        aggregate: bool,
        v6: bool,
        v6_category: str | None = None,
        p_v6_info: float = 0.85,
    ) -> Provider:
        """Allocate ``n_blocks`` /24s (from as many /16s as needed) for a new ASN.

        With ``aggregate`` the ip_info row (if any) is the whole /16; otherwise each
        /24 is covered on its own (and may independently be missing).
        """
        r = self.r
        p = Provider(kind, self.new_asn(), country)
        left = n_blocks
        while left > 0:
            base16 = self.new16()
            take = min(left, 256)
            thirds = r.sample(range(256), take)
            mode16 = self.coverage(p_prefix, p_exact)
            cat = category if r.random() > 0.06 else "unknown"
            rid16 = self.add_range(f"{v4str(base16)}/16", p.asn, cat, mode16) if aggregate else -1
            for t in thirds:
                base = base16 | (t << 8)
                if aggregate:
                    rid = rid16
                else:
                    rid = self.add_range(
                        f"{v4str(base)}/24", p.asn, cat, self.coverage(p_prefix, p_exact)
                    )
                p.blocks.append(base)
                p.rid.append(rid)
            left -= take
        if v6:
            p.v6 = self.new_v6_32()
            mode = "prefix" if r.random() < p_v6_info else "missing"
            p.v6_rid = self.add_range(
                f"{v6str(p.v6 << 96)}/32", p.asn, v6_category or category, mode
            )
        return p

    def host(self, p: Provider, i: int | None = None) -> tuple[int, int]:
        """A random host address in one of the provider's /24s: (address, range id)."""
        if i is None:
            i = int(self.r.random() * len(p.blocks))
        return p.blocks[i] | (1 + int(self.r.random() * 254)), p.rid[i]

    def v6_64(self, p: Provider) -> int:
        """A random /64 (top 64 bits) inside the provider's /32."""
        return (p.v6 << 32) | int(self.r.random() * (1 << 32))

    def noise_ranges(self, n: int) -> None:
        """Unused, unrelated prefixes, as any real feed has."""
        cats = ["residential", "datacenter", "mobile", "corporate", "education", "vpn", "unknown"]
        for _ in range(n):
            base16 = self.new16()
            if self.r.random() < 0.5:
                cidr = f"{v4str(base16)}/16"
            else:
                cidr = f"{v4str(base16 | (self.r.randint(0, 255) << 8))}/24"
            self.add_range(cidr, self.new_asn(), self.r.choice(cats), "prefix")
