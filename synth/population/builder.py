"""The population builder: :class:`Population`, the shared core every group and tier
module builds on. It adds to the state, primitives (:mod:`.core`) and infrastructure
(:mod:`.infra`) the helpers that make a person (email domain, signup time, activity
window, prompt count, persona), record what the world observes of them (IPs, devices,
cards, phones), and the plan (group quotas, campaign sizes and tiers)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..netspace import Provider
from ..text import Persona
from ..timing import DAY, HOUR, HUMAN, MIN, MONTHLY, SIGNUP, T0, T1
from ..vocab import SURNAMES, SYLLABLES, TLDS
from .common import DEV, IP, PAY, PHONE, TIERS, Home, Pool
from .infra import Infrastructure


class Population(Infrastructure):
    """A world under construction, with the helpers the group and tier builders share."""

    # ================================================================ people
    def email_domain(self, ci: int) -> str:
        u = self.rnd()
        if u < 0.8:
            return self.pick_cum(self.mail_names, self.mail_cum)
        if u < 0.92 and self.c_prov[ci]:
            return self.pick(self.c_prov[ci])
        return self.custom_domain()

    def custom_domain(self) -> str:
        p = self.pick
        u = self.rnd()
        if u < 0.5:
            return f"{p(SURNAMES)}{p(['', '-', ''])}{p(SYLLABLES)}.{p(TLDS)}"
        return f"{p(SYLLABLES)}{p(SYLLABLES)}{p(['', 'mail', 'home', 'net'])}.{p(TLDS)}"

    def benign_created(self) -> int:
        x = -1.0 + math.sqrt(1.0 + 3.0 * self.rnd())  # density grows 1 -> 2 over the year
        return T0 + int(x * (T1 - T0 - DAY))

    def window(self, created: int) -> tuple[int, int]:
        lo = created + int(self.rnd() * 20 * MIN)
        if self.rnd() < 0.35:
            return lo, T1 - MIN
        life = int(self.r.lognormvariate(math.log(40.0), 1.2) * DAY)
        return lo, min(T1 - MIN, lo + max(life, 2 * HOUR))

    def nprom(self, mult: float = 1.0, p_zero: float = 0.08) -> int:
        if self.rnd() < p_zero:
            return 0
        x = self.r.lognormvariate(math.log(3.0 * mult), 1.0)
        if self.rnd() < 0.015:
            x *= self.U(8, 40)
        return max(1, min(3000, round(x)))

    def persona(
        self,
        ci: int,
        cats: list[str] | None = None,
        extra_kw: dict[str, tuple[float, Any]] | None = None,
        **kw: tuple[float, Any],
    ) -> Persona:
        kw = {**(extra_kw or {}), **kw}
        if cats is not None:
            k = 1 + int(self.rnd() * 3)
            cats = [self.pick(cats) for _ in range(k)]
        p = self.tg.persona(self.c_lang[ci], cats=cats)
        extras: list[tuple[float, str, object]] = []
        acc = 0.0
        for kind, (prob, arg) in kw.items():
            acc += prob
            extras.append((acc, kind.rstrip("_"), arg))
        if self.rnd() < 0.15:
            acc += 0.05
            extras.append((acc, "viral", None))
        p.extras = extras
        return p

    # ----------------------------------------------------------- observation helpers
    def ip_budget(self, nprom: int) -> int:
        return 2 + min(nprom, 90) // 3 + self.pois(1.0)

    def obs_pool(
        self, a: int, pool: Pool, lo: int, hi: int, k: int, mode: int = HUMAN, uniform: bool = False
    ) -> int:
        """k draws from a pool (Zipf unless uniform), aggregated per distinct value.
        Returns the first drawn code (usable as the signup value)."""
        counts: dict[int, int] = {}
        first = -1
        for _ in range(k):
            if uniform:
                c = pool.codes[int(self.rnd() * len(pool.codes))]
            else:
                c = pool.codes[bisect.bisect_left(pool.cum, self.rnd())]
            if first < 0:
                first = c
            counts[c] = counts.get(c, 0) + 1
        for c, m in counts.items():
            self.sig(a, IP, c, m, lo, hi, mode)
        return first

    def obs_home(self, a: int, h: Home, lo: int, hi: int, k: int, mode: int = HUMAN) -> None:
        span = max(hi - lo, 1)
        for code, s, e in h.leases:
            olo, ohi = max(lo, s), min(hi, e)
            if ohi <= olo:
                continue
            kk = max(1, round(k * (ohi - olo) / span))
            if h.v6 and kk > 1:
                k6 = kk // 2
                self.sig(a, IP, h.v6, k6, olo, ohi, mode)
                kk -= k6
            self.sig(a, IP, code, kk, olo, ohi, mode)

    def home_ip_at(self, h: Home, t: int) -> int:
        for code, s, e in h.leases:
            if s <= t < e:
                return code
        return h.leases[-1][0]

    def obs_mobile(
        self,
        a: int,
        ci: int,
        lo: int,
        hi: int,
        k: int,
        carrier: tuple[Provider, Pool] | None = None,
    ) -> int:
        p, pool = carrier or self.carrier_of(ci)
        k6 = int(k * 0.25 + self.rnd())
        if k6:
            self.sig(a, IP, self.v6net(self.net.v6_64(p), p.v6_rid), k6, lo, hi, HUMAN)
        if k - k6 > 0:
            return self.obs_pool(a, pool, lo, hi, k - k6)
        return pool.codes[0]

    def obs_vpn(self, a: int, lo: int, hi: int, k: int, j: int | None = None) -> int:
        if j is None:
            j = bisect.bisect_left(self.vpn_cum, self.rnd())
        return self.obs_pool(a, self.vpns[j], lo, hi, k)

    def obs_devices(
        self, a: int, devs: list[int], lo: int, hi: int, nprom: int, mode: int = HUMAN
    ) -> None:
        per = max(1, min(nprom, 80) // (3 * len(devs)))
        for d in devs:
            self.sig(a, DEV, d, 1 + self.pois(per), lo, hi, mode)

    def obs_card(self, a: int, card: int, created: int, hi: int) -> None:
        if self.a_label[a] == "benign" and len(self.benign_cards) < 5000:
            self.benign_cards.append(card)
        t = created + (0 if self.rnd() < 0.5 else int(self.rnd() * 30 * DAY))
        if t >= hi:
            t = created
        n = max(1, min(13, 1 + (hi - t) // (30 * DAY)))
        self.sig(a, PAY, card, n, t, hi, MONTHLY)

    def person_devices(self, mobile_heavy: bool = False) -> list[int]:
        k = 1 + (self.rnd() < 0.55) + (self.rnd() < 0.2)
        devs = []
        for _ in range(k):
            if self.rnd() < (0.09 if mobile_heavy else 0.04):
                devs.append(self.pick_cum(self.common_dev.codes, self.common_dev.cum))
            else:
                devs.append(self.device())
        return devs

    def person_net(
        self,
        a: int,
        ci: int,
        created: int,
        lo: int,
        hi: int,
        nprom: int,
        home: Home | None,
        *,
        mobile_p: float = 0.5,
        vpn_p: float = 0.08,
        hotspot_p: float = 0.15,
        extra: Sequence[tuple[float, Callable[..., int | None]]] | None = None,
        signup_extra: bool = False,
    ) -> None:
        """A person's IP footprint: home leases (+IPv6), sometimes mobile CGNAT, public
        VPN, hotspots, plus ``extra`` channels (work NAT, campus, proxy ...) given as
        (weight, fn(k) -> first code)."""
        k = self.ip_budget(nprom)
        chans: list[tuple[float, Callable[..., int | None]]] = []
        if home is not None:
            chans.append((1.0, lambda kk: self.obs_home(a, home, lo, hi, kk)))
        if self.rnd() < mobile_p:
            chans.append((0.5, lambda kk: self.obs_mobile(a, ci, lo, hi, kk)))
        if self.rnd() < vpn_p:
            chans.append((0.5, lambda kk: self.obs_vpn(a, lo, hi, kk)))
        if self.rnd() < hotspot_p:
            chans.append((0.15, lambda kk: self.sig(a, IP, self.hotspot(ci), kk, lo, hi, HUMAN)))
        if extra:
            chans.extend(extra)
        if not chans:
            chans.append((0.5, lambda kk: self.obs_mobile(a, ci, lo, hi, kk)))
        tot = sum(w for w, _ in chans)
        first = None
        for w, fn in chans:
            kk = max(1, round(k * w / tot))
            got = fn(kk)
            if first is None and got is not None:
                first = got
        # signup observation
        if signup_extra and first is not None:
            self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
        elif home is not None:
            self.sig(a, IP, self.home_ip_at(home, created), 1, created, created + MIN, SIGNUP)
        elif first is not None:
            self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)

    def person_rest(
        self,
        a: int,
        ci: int,
        created: int,
        lo: int,
        hi: int,
        nprom: int,
        *,
        card_p: float = 0.68,
        phone_p: float = 0.35,
        devs: list[int] | None = None,
        card: int | None = None,
    ) -> None:
        devs = devs if devs is not None else self.person_devices()
        self.obs_devices(a, devs, lo, hi, nprom)
        self.sig(a, DEV, devs[0], 1, created, created + MIN, SIGNUP)
        if card is not None:
            self.obs_card(a, card, created, hi)
        elif self.rnd() < card_p:
            self.obs_card(a, self.card(), created, hi)
        if self.rnd() < phone_p:
            ph = self.pick(self.sms_pool) if self.rnd() < 0.02 else self.phone(ci)
            self.sig(a, PHONE, ph, 1 + (self.rnd() < 0.25), created, hi, SIGNUP)

    # ================================================================ plan
    def plan(self) -> dict[str, Any]:
        r, n = self.r, self.n
        frac = self.U(0.08, 0.12)
        n_camp_acc = round(n * frac)
        benign = n - n_camp_acc
        base = {
            "household": 0.13,
            "company": 0.11,
            "university": 0.09,
            "mobile": 0.08,
            "vpn": 0.045,
            "developer": 0.065,
            "viral": 0.045,
            "proxy_customer": 0.025,
        }
        quota = {g: round(benign * f * self.U(0.78, 1.22)) for g, f in base.items()}
        quota["solo"] = benign - sum(quota.values())
        # campaigns: count grows sub-linearly with n; sizes heavy-tailed
        k = max(6, round(self.U(8.5, 12.5) * (n / 20000) ** 0.55))
        k = max(4, min(k, n_camp_acc // 12))
        # log-normal weights (sigma ~1.4): a few campaigns of thousands, many of tens;
        # the last one is always tiny (5-12 accounts)
        w = sorted((r.lognormvariate(0.0, self.U(1.2, 1.6)) for _ in range(k - 1)), reverse=True)
        tot = sum(w)
        w = [min(x, 0.4 * tot) for x in w]
        small = min(5 + int(self.rnd() * 8), max(5, n_camp_acc - 5 * k))
        rest = n_camp_acc - small - 5 * (k - 1)
        sizes = [5 + int(rest * x / sum(w)) for x in w] + [small]
        sizes[0] += n_camp_acc - sum(sizes)
        tiers = list(TIERS) + r.choices(TIERS, weights=[3, 3, 2.5, 1.5], k=k - 4)
        r.shuffle(tiers)
        return {"benign": benign, "quota": quota, "camp_sizes": sizes, "camp_tiers": tiers}
