"""The world's state and primitives: the account, signal-assignment, scheduled-prompt
and value tables, and the random draws and value makers every builder uses.

The builder works on integer codes and millisecond timestamps; it records

* accounts (one entry per account, in construction order: the caller shuffles),
* signal *assignments* ``(account, kind, value, n_obs, lo, hi, mode)`` which
  :mod:`synth.world` expands into observation rows with vectorised timestamps,
* a prompt *spec* per account (persona or campaign) plus explicitly scheduled
  prompts (homework near deadlines, CI smoke tests, SDK samples after signup, ...).

Values (cards, devices, phones, IPs) live in one string table; rotating IPv6
addresses are stored as negative codes pointing at a /64 and materialised per row.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..netspace import Net, Provider, v4str
from ..text import TextGen
from ..timing import HOUR, HUMAN, MIN, SEC, T1
from ..vocab import COUNTRIES, FREE_MAIL, PHONE_CC
from .common import Campaign, Home, cumulative

T = TypeVar("T")


class Core:
    """State and primitives of a world under construction (see the module docstring)."""

    def __init__(
        self, n_accounts: int, seed: int, progress: Callable[[str, float], None] | None = None
    ) -> None:
        if n_accounts < 300:
            raise ValueError("n_accounts must be at least 300")
        self.n = n_accounts
        self.seed = seed
        ss = np.random.SeedSequence([seed, 0x5B11])
        s1, s2, s3 = ss.spawn(3)
        self.rng = np.random.default_rng(s1)
        self.r = random.Random(int(s2.generate_state(1)[0]))
        self.rnd = self.r.random
        self.tg = TextGen(random.Random(int(s3.generate_state(1)[0])))
        self.tg.make_bank(20_000 + 2 * n_accounts)
        self.net = Net(random.Random(int(s2.generate_state(2)[1])))
        self.progress = progress or (lambda stage, frac: None)
        # accounts
        self.a_created: list[int] = []
        self.a_lo: list[int] = []
        self.a_hi: list[int] = []
        self.a_country: list[str] = []
        self.a_email: list[str] = []
        self.a_org: list[str | None] = []
        self.a_tz: list[int] = []
        self.a_nprom: list[int] = []
        self.a_tmode: list[int] = []
        self.a_interval: list[int] = []
        self.a_runlen: list[int] = []
        self.a_spec: list[tuple[Any, ...]] = []
        self.a_label: list[str] = []
        self.a_group: list[str] = []
        self.a_gid: list[str | None] = []
        self.a_cid: list[str | None] = []
        self.a_tier: list[str | None] = []
        # signal assignments
        self.s_a: list[int] = []
        self.s_k: list[int] = []
        self.s_v: list[int] = []
        self.s_n: list[int] = []
        self.s_lo: list[int] = []
        self.s_hi: list[int] = []
        self.s_m: list[int] = []
        # scheduled prompts
        self.p_a: list[int] = []
        self.p_t: list[int] = []
        self.p_text: list[str] = []
        # value table
        self.values: list[str] = []
        self.val_rid: list[int] = []
        self._ip: dict[int, int] = {}
        self.v6_hi: list[int] = []
        self.v6_rid: list[int] = []
        self._hb = b""
        self._hp = 0
        # countries
        self.c_code = [c[0] for c in COUNTRIES]
        self.c_cum = cumulative([c[1] for c in COUNTRIES])
        self.c_tz = [c[2] for c in COUNTRIES]
        self.c_lang = [c[3] for c in COUNTRIES]
        self.c_prov = [c[4] for c in COUNTRIES]
        self.c_index = {c: i for i, c in enumerate(self.c_code)}
        self.mail_names = [m for m, _ in FREE_MAIL]
        self.mail_cum = cumulative([w for _, w in FREE_MAIL])
        self.isps: dict[int, tuple[list[Provider], list[float]]] = {}
        self.hotspots: dict[int, list[int]] = {}
        self.homes: list[Home] = []
        self.benign_cards: list[int] = []
        self.released: dict[int, list[tuple[int, int]]] = {}
        self.campaigns: list[Campaign] = []

    # ================================================================ primitives
    def U(self, a: float, b: float) -> float:
        return a + (b - a) * self.rnd()

    def pois(self, lam: float) -> int:
        if lam > 30:
            return max(0, round(self.r.gauss(lam, math.sqrt(lam))))
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rnd()
            if p <= L:
                return k
            k += 1

    def pick(self, lst: Sequence[T]) -> T:
        return lst[int(self.rnd() * len(lst))]

    def pick_cum(self, items: Sequence[T], cum: Sequence[float]) -> T:
        return items[bisect.bisect_left(cum, self.rnd())]

    def hex_token(self, nbytes: int) -> str:
        if self._hp + nbytes > len(self._hb):
            self._hb = self.rng.bytes(1 << 18)
            self._hp = 0
        s = self._hb[self._hp : self._hp + nbytes].hex()
        self._hp += nbytes
        return s

    def _val(self, s: str, rid: int = -1) -> int:
        self.values.append(s)
        self.val_rid.append(rid)
        return len(self.values) - 1

    def card(self) -> int:
        return self._val("pm_" + self.hex_token(12))

    def device(self) -> int:
        return self._val(self.hex_token(16))

    def phone(self, ci: int) -> int:
        cc = PHONE_CC.get(self.c_code[ci], "44")
        nd = 10 if cc == "1" else 9 + int(self.rnd() * 2)
        first = str(2 + int(self.rnd() * 8))
        rest = str(int(self.rnd() * 10 ** (nd - 1))).zfill(nd - 1)
        return self._val("+" + cc + first + rest)

    def ip4(self, addr: int, rid: int) -> int:
        c = self._ip.get(addr)
        if c is None:
            c = self._val(v4str(addr), rid)
            self._ip[addr] = c
        return c

    def host_ip(self, p: Provider, i: int | None = None) -> int:
        addr, rid = self.net.host(p, i)
        return self.ip4(addr, rid)

    def v6net(self, hi64: int, rid: int) -> int:
        self.v6_hi.append(hi64)
        self.v6_rid.append(rid)
        return -len(self.v6_hi)

    def country(self) -> int:
        return bisect.bisect_left(self.c_cum, self.rnd())

    def sig(self, a: int, kind: int, val: int, n: int, lo: int, hi: int, mode: int) -> None:
        self.s_a.append(a)
        self.s_k.append(kind)
        self.s_v.append(val)
        self.s_n.append(n)
        self.s_lo.append(lo)
        self.s_hi.append(hi)
        self.s_m.append(mode)

    def schedule(self, a: int, t: int, text: str) -> None:
        self.p_a.append(a)
        self.p_t.append(t)
        self.p_text.append(text)

    def acct(
        self,
        *,
        created: int,
        lo: int,
        hi: int,
        ci: int,
        email: str,
        nprom: int,
        spec: tuple[Any, ...],
        group: str,
        gid: str | None,
        label: str = "benign",
        org: str | None = None,
        tz: int | None = None,
        tmode: int = HUMAN,
        interval: int = 60 * SEC,
        runlen: int = 20,
        cid: str | None = None,
        tier: str | None = None,
    ) -> int:
        hi = max(hi, lo + HOUR)
        hi = min(hi, T1 - MIN)
        lo = min(lo, hi)
        self.a_created.append(created)
        self.a_lo.append(lo)
        self.a_hi.append(hi)
        self.a_country.append(self.c_code[ci])
        self.a_email.append(email)
        self.a_org.append(org)
        self.a_tz.append(self.c_tz[ci] if tz is None else tz)
        self.a_nprom.append(nprom)
        self.a_tmode.append(tmode)
        self.a_interval.append(interval)
        self.a_runlen.append(runlen)
        self.a_spec.append(spec)
        self.a_label.append(label)
        self.a_group.append(group)
        self.a_gid.append(gid)
        self.a_cid.append(cid)
        self.a_tier.append(tier)
        return len(self.a_created) - 1

    def gid(self, prefix: str) -> str:
        return prefix + "-" + self.hex_token(4)
