"""Builds the synthetic population: benign confounder groups and Sybil campaigns.

The builder works on integer codes and millisecond timestamps; it records

* accounts (one entry per account, in construction order: the caller shuffles),
* signal *assignments* ``(account, kind, value, n_obs, lo, hi, mode)`` which
  :mod:`.world` expands into observation rows with vectorised timestamps,
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .netspace import Net, Provider, v4str
from .text import AGENT_TOOLS, CRITERIA, FAMILY_NAMES, House, Persona, TextGen
from .timing import DAY, HOUR, HUMAN, MACHINE, MIN, MONTHLY, OFFICE, SEC, SEMI, SIGNUP, T0, T1
from .vocab import (
    COUNTRIES,
    COURSES,
    FREE_MAIL,
    INDUSTRIES,
    PRODUCT_WORDS,
    SURNAMES,
    SYLLABLES,
    TLDS,
    UNI_DOMAIN_SUFFIX,
    UNI_NAMES,
    WORDS_BIZ,
    WORDS_BIZ2,
    V,
)

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

REGION_OF = {
    **dict.fromkeys(["US", "CA", "MX"], "na"),
    **dict.fromkeys(["BR", "AR", "CO", "CL"], "latam"),
    **dict.fromkeys(["GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "CH", "PT", "IE", "UA"], "eu"),
    **dict.fromkeys(["TR", "EG", "NG", "IL", "AE", "ZA", "KE"], "mea"),
    **dict.fromkeys(["IN", "PK"], "sas"),
    **dict.fromkeys(["ID", "PH", "VN", "TH", "MY", "SG"], "sea"),
    **dict.fromkeys(["JP", "KR", "TW", "HK"], "ea"),
    **dict.fromkeys(["AU", "NZ"], "oc"),
}
PHONE_CC = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "IN": "91",
    "BR": "55",
    "JP": "81",
    "KR": "82",
    "ID": "62",
    "MX": "52",
    "ES": "34",
    "IT": "39",
    "NL": "31",
    "PL": "48",
    "TR": "90",
    "AU": "61",
    "PH": "63",
    "VN": "84",
    "NG": "234",
    "EG": "20",
    "PK": "92",
    "AR": "54",
    "CO": "57",
    "SE": "46",
    "CH": "41",
    "SG": "65",
    "TW": "886",
    "HK": "852",
    "IL": "972",
    "AE": "971",
    "ZA": "27",
    "KE": "254",
    "PT": "351",
    "IE": "353",
    "NZ": "64",
    "UA": "380",
    "TH": "66",
    "MY": "60",
    "CL": "56",
}
FAM_W = {
    "cot": 3.0,
    "rubric": 2.0,
    "agent_tools": 2.0,
    "agent_code": 2.0,
    "rewrite": 1.5,
    "synth_qa": 1.5,
    "pairwise": 1.0,
    "critique": 1.0,
}
MODE_OF_TIER = {
    "sloppy": "fixed",
    "rotating": "topics",
    "hydra": "paraphrase",
    "reseller": "limited",
}


def _zipf_cum(n: int, s: float = 1.1) -> list[float]:
    w = [1.0 / (i + 1) ** s for i in range(n)]
    tot = sum(w)
    out, acc = [], 0.0
    for x in w:
        acc += x / tot
        out.append(acc)
    out[-1] = 1.0
    return out


def _cum(weights: list[float]) -> list[float]:
    tot = float(sum(weights))
    out, acc = [], 0.0
    for x in weights:
        acc += x / tot
        out.append(acc)
    out[-1] = 1.0
    return out


class Home:
    __slots__ = ("leases", "v6")

    def __init__(self, leases: list[tuple[int, int, int]], v6: int) -> None:
        self.leases = leases
        self.v6 = v6


@dataclass
class Pool:
    codes: list[int]
    cum: list[float]


@dataclass
class Campaign:
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


class Population:
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
        self.a_spec: list[tuple] = []
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
        self.c_cum = _cum([c[1] for c in COUNTRIES])
        self.c_tz = [c[2] for c in COUNTRIES]
        self.c_lang = [c[3] for c in COUNTRIES]
        self.c_prov = [c[4] for c in COUNTRIES]
        self.c_index = {c: i for i, c in enumerate(self.c_code)}
        self.mail_names = [m for m, _ in FREE_MAIL]
        self.mail_cum = _cum([w for _, w in FREE_MAIL])
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

    def pick(self, lst):
        return lst[int(self.rnd() * len(lst))]

    def pick_cum(self, items, cum):
        return items[bisect.bisect_left(cum, self.rnd())]

    def _hex(self, nbytes: int) -> str:
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
        return self._val("pm_" + self._hex(12))

    def device(self) -> int:
        return self._val(self._hex(16))

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
        spec: tuple,
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
        return prefix + "-" + self._hex(4)

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

    # ----------------------------------------------------------- infrastructure
    def isp(self, ci: int) -> Provider:
        if ci not in self.isps:
            w = COUNTRIES[ci][1] / sum(c[1] for c in COUNTRIES)
            k = 2 + int(self.rnd() * 3)
            shares = _cum([self.rnd() + 0.3 for _ in range(k)])
            provs = []
            prev = 0.0
            for j in range(k):
                share = shares[j] - prev
                prev = shares[j]
                blocks = max(2, math.ceil(self.n * 0.9 * w * share * 1.7 * 6 / 254))
                provs.append(
                    self.net.provider(
                        "isp",
                        self.c_code[ci],
                        blocks,
                        "residential",
                        p_prefix=0.72,
                        p_exact=0.12,
                        aggregate=self.rnd() < 0.6,
                        v6=self.rnd() < 0.7,
                        p_v6_info=0.8,
                    )
                )
            self.isps[ci] = (provs, shares)
        provs, shares = self.isps[ci]
        return self.pick_cum(provs, shares)

    def home(self, ci: int) -> Home:
        isp = self.isp(ci)
        nle = 1 + self.pois(0.7)
        start = T0 - 60 * DAY
        cuts = sorted(int(self.U(start, T1)) for _ in range(nle - 1))
        bounds = [start, *cuts, T1]
        rel = self.released.setdefault(isp.asn, [])
        leases = []
        for i in range(nle):
            s, e = bounds[i], bounds[i + 1]
            code = -1
            if rel and self.rnd() < 0.25:  # DHCP hands out an address a stranger released
                for _ in range(3):
                    t_rel, c = rel[int(self.rnd() * len(rel))]
                    if t_rel + 3 * DAY < s:
                        code = c
                        break
            if code < 0:
                code = self.host_ip(isp)
            leases.append((code, s, e))
            if e < T1 and self.rnd() < 0.5:
                rel.append((e, code))
        v6 = self.v6net(self.net.v6_64(isp), isp.v6_rid) if isp.v6 >= 0 and self.rnd() < 0.45 else 0
        h = Home(leases, v6)
        self.homes.append(h)
        return h

    def hotspot(self, ci: int) -> int:
        if ci not in self.hotspots:
            w = COUNTRIES[ci][1] / sum(c[1] for c in COUNTRIES)
            pool = []
            for _ in range(max(2, int(self.n * w / 700))):
                code = self.host_ip(self.isp(ci))
                if self.rnd() < 0.3:
                    self.net.overrides.append(
                        (self.values[code], self.net.ranges[self.val_rid[code]].asn, "corporate")
                    )
                pool.append(code)
            self.hotspots[ci] = pool
        return self.pick(self.hotspots[ci])

    def infra(self, plan: dict) -> None:
        _r, net = self.r, self.net
        n = self.n
        # hosting (datacenter) providers
        self.hosting: list[Provider] = []
        for _ in range(8 + int(self.rnd() * 5)):
            self.hosting.append(
                net.provider(
                    "hosting",
                    self.pick(["US", "DE", "NL", "SG", "FR", "GB", "CA"]),
                    max(6, n // 3000) + int(self.rnd() * 10),
                    "datacenter",
                    p_prefix=0.78,
                    p_exact=0.08,
                    aggregate=self.rnd() < 0.5,
                    v6=self.rnd() < 0.6,
                    p_v6_info=0.9,
                )
            )
        # clouds (CI runners): huge pools, prefix-covered
        self.clouds: list[Provider] = []
        for _ in range(3):
            self.clouds.append(
                net.provider(
                    "cloud",
                    "US",
                    512,
                    "datacenter",
                    p_prefix=0.95,
                    p_exact=0.0,
                    aggregate=True,
                    v6=True,
                    p_v6_info=0.95,
                )
            )
        # mobile carriers per region; CGNAT pools sized so that a few addresses carry
        # a large share of the region's mobile users.
        region_w: dict[str, float] = {}
        for c in COUNTRIES:
            region_w[REGION_OF[c[0]]] = region_w.get(REGION_OF[c[0]], 0.0) + c[1]
        totw = sum(region_w.values())
        exp_mobile_users = plan["benign"] * 0.58
        self.carriers: dict[str, tuple[list[tuple[Provider, Pool]], list[float]]] = {}
        for region, w in region_w.items():
            k = 1 + int(self.rnd() * 2) + (1 if region in ("eu", "na") else 0)
            raw = sorted((self.rnd() + 0.15 for _ in range(k)), reverse=True)
            raw[0] += 1.2
            cum = _cum(raw)
            carriers = []
            prev = 0.0
            for j in range(k):
                share = cum[j] - prev
                prev = cum[j]
                users = exp_mobile_users * (w / totw) * share
                size = max(2, round(users / 900))
                p = net.provider(
                    "carrier",
                    region,
                    1 + size // 200,
                    "mobile",
                    p_prefix=0.7,
                    p_exact=0.22,
                    aggregate=self.rnd() < 0.5,
                    v6=True,
                    p_v6_info=0.75,
                )
                codes = [self.host_ip(p, int(self.rnd() * len(p.blocks))) for _ in range(size)]
                carriers.append((p, Pool(codes, _zipf_cum(size, 1.5))))
            self.carriers[region] = (carriers, cum)
        # commercial VPN providers: exits in hosting ASNs, flagged vpn in the feed (mostly)
        exp_vpn_users = plan["quota"]["vpn"] + 0.1 * plan["benign"]
        k = 3 + int(self.rnd() * 3)
        vcum = _cum(sorted((self.rnd() + 0.2 for _ in range(k)), reverse=True))
        self.vpns: list[Pool] = []
        self.vpn_ids: list[str] = []
        prev = 0.0
        for j in range(k):
            share = vcum[j] - prev
            prev = vcum[j]
            size = max(6, int(exp_vpn_users * share / 90))
            codes = []
            for _ in range(size):
                code = self.host_ip(self.pick(self.hosting))
                if self.rnd() < 0.72:
                    net.overrides.append(
                        (self.values[code], net.ranges[self.val_rid[code]].asn, "vpn")
                    )
                codes.append(code)
            self.vpns.append(Pool(codes, _zipf_cum(size, 1.0)))
            self.vpn_ids.append(self.gid("vpn"))
        self.vpn_cum = vcum
        # SMS-activation ("virtual number") pool, used by privacy-minded people and campaigns
        self.sms_pool = [
            self.phone(self.pick([0, 2, 17, 9, 19, 21])) for _ in range(max(10, n // 120))
        ]
        # very common device fingerprints (same phone model + OS build), and SDK client
        # fingerprints shared by every API user on the same SDK version
        self.common_dev = Pool([self.device() for _ in range(40)], _zipf_cum(40, 1.2))
        self.sdk_dev = Pool([self.device() for _ in range(8)], _zipf_cum(8, 1.0))
        self.cloud_count = 0

    def reserve(self, plan: dict) -> None:
        """Pick campaign infrastructure that benign builders must be able to collide with."""
        self.sloppy_block: dict[int, tuple[Provider, int]] = {}
        for j, t in enumerate(plan["camp_tiers"]):
            if t == "sloppy":
                host = self.pick(self.hosting)
                self.sloppy_block[j] = (host, int(self.rnd() * len(host.blocks)))

    def carrier_of(self, ci: int) -> tuple[Provider, Pool]:
        carriers, cum = self.carriers[REGION_OF[self.c_code[ci]]]
        return self.pick_cum(carriers, cum)

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

    def obs_mobile(self, a: int, ci: int, lo: int, hi: int, k: int, carrier=None) -> int:
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
    def plan(self) -> dict:
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

    # ================================================================ benign groups
    def build_solo(self, q: int) -> None:
        tg = self.tg
        for _ in range(q):
            ci = self.country()
            created = self.benign_created()
            lo, hi = self.window(created)
            npr = self.nprom()
            kw = {}
            if self.rnd() < 0.02:
                kw["teacher"] = (0.3, None)
            if self.rnd() < 0.01:
                kw["labeler"] = (0.9, self.pick(LABEL_TASKS))
                npr = max(npr, int(self.U(40, 400)))
            if self.rnd() < 0.03:
                kw["stepwise"] = (0.3, None)
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=("b", self.persona(ci, extra_kw=kw)),
                group="solo",
                gid=None,
            )
            h = self.home(ci)
            self.person_net(a, ci, created, lo, hi, npr, h)
            self.person_rest(a, ci, created, lo, hi, npr)
        del tg

    def build_household(self, q: int) -> None:
        left = q
        while left >= 2:
            size = min(left, self.pick([2, 2, 2, 2, 3, 3, 3, 4, 4]))
            if left - size == 1:
                size += 1
            left -= size
            ci = self.country()
            hid = self.gid("hh")
            h = self.home(ci)
            fam_domain = self.custom_domain() if self.rnd() < 0.12 else None
            fam_card = self.card() if self.rnd() < 0.5 else None
            shared_dev = self.device() if self.rnd() < 0.35 else None
            shared_phone = self.phone(ci) if self.rnd() < 0.05 else None
            first = self.benign_created()
            for j in range(size):
                created = (
                    first
                    if j == 0
                    else min(T1 - DAY, first + int(self.r.expovariate(1 / (40 * DAY))))
                )
                lo, hi = self.window(created)
                npr = self.nprom()
                email = fam_domain if fam_domain and self.rnd() < 0.8 else self.email_domain(ci)
                a = self.acct(
                    created=created,
                    lo=lo,
                    hi=hi,
                    ci=ci,
                    email=email,
                    nprom=npr,
                    spec=("b", self.persona(ci)),
                    group="household",
                    gid=hid,
                )
                self.person_net(a, ci, created, lo, hi, npr, h, vpn_p=0.05)
                devs = self.person_devices()
                if shared_dev is not None and self.rnd() < 0.7:
                    devs.append(shared_dev)
                card = fam_card if fam_card is not None and self.rnd() < 0.8 else None
                self.person_rest(
                    a,
                    ci,
                    created,
                    lo,
                    hi,
                    npr,
                    devs=devs,
                    card=card,
                    card_p=0.5 if fam_card is None else 0.2,
                    phone_p=0.3,
                )
                if shared_phone is not None:
                    self.sig(a, PHONE, shared_phone, 1, created, hi, SIGNUP)
        for _ in range(left):  # leftover single: a solo
            self.build_solo(1)

    def build_company(self, q: int) -> None:
        left = q
        while left >= 5:
            size = min(300, max(5, int(5 * self.r.paretovariate(1.15))))
            if size > left or left - size < 5:
                size = left
            left -= size
            self._company(size)
        if left:
            self.build_solo(left)

    def _company(self, size: int) -> None:
        p = self.pick
        ci = self.country()
        name = p(WORDS_BIZ).capitalize() + p(WORDS_BIZ2).capitalize()
        domain = (
            name.lower()
            + p(["", "", "-hq", "app", "group"])
            + "."
            + p(["com", "com", "io", "co", "net", "ai", "de", "co.uk"])
        )
        industry = p(INDUSTRIES)
        product = p(PRODUCT_WORDS)
        ctx = (name, product, industry)
        cid = self.gid("co")
        org = "org_" + self._hex(8)
        isp = self.isp(ci)
        nat = [
            self.host_ip(isp) for _ in range(1 + (size > 40) + (size > 150) + (self.rnd() < 0.2))
        ]
        u = self.rnd()
        for code in nat:
            asn = self.net.ranges[self.val_rid[code]].asn
            if u < 0.5:
                self.net.overrides.append((self.values[code], asn, "corporate"))
            elif u < 0.7:
                base = self.values[code].rsplit(".", 1)[0] + ".0/24"
                self.net.overrides.append((base, asn, "corporate"))
        corp_cards = [self.card() for _ in range(1 + (size > 120))]
        vdi = self.device() if self.rnd() < 0.3 else None
        adopt = self.benign_created()
        burst = size >= 10
        for _j in range(size):
            u = self.rnd()
            if burst and u < 0.45:
                created = adopt + int(self.rnd() * 8 * HOUR)
                has_org = True
            elif u < 0.6:
                created = T0 + int(self.rnd() * max(adopt - T0, DAY))
                has_org = self.rnd() < 0.5
            else:
                created = adopt + int(self.r.expovariate(1 / (60 * DAY)))
                has_org = self.rnd() < 0.95
            created = min(created, T1 - DAY)
            lo, hi = self.window(created)
            hi = max(hi, min(T1 - MIN, lo + 60 * DAY))
            npr = self.nprom(1.3)
            email = domain if self.rnd() < 0.93 else self.email_domain(ci)
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=email,
                nprom=npr,
                spec=(
                    "b",
                    self.persona(
                        ci,
                        cats=["work", "email", "code", "summarize", "work", "ideas"],
                        company=(0.45, ctx),
                    ),
                ),
                group="company",
                gid=cid,
                org=org if has_org else None,
                tmode=OFFICE if self.rnd() < 0.75 else HUMAN,
            )

            def work(kk: int, a: int = a, lo: int = lo, hi: int = hi) -> int:
                return self._obs_nat(a, nat, lo, hi, kk)

            h = self.home(ci) if self.rnd() < 0.8 else None
            self.person_net(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                h,
                mobile_p=0.4,
                vpn_p=0.04,
                extra=[(2.0, work)],
                signup_extra=u < 0.45,
            )
            devs = [vdi] if (vdi is not None and self.rnd() < 0.6) else self.person_devices()
            uu = self.rnd()
            card = self.pick(corp_cards) if uu < 0.75 else None
            self.person_rest(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                devs=devs,
                card=card,
                card_p=0.4 if uu < 0.85 else 0.0,
                phone_p=0.25,
            )

    def _obs_nat(self, a: int, nat: list[int], lo: int, hi: int, k: int) -> int:
        counts: dict[int, int] = {}
        for _ in range(k):
            c = nat[0] if self.rnd() < 0.7 else self.pick(nat)
            counts[c] = counts.get(c, 0) + 1
        for c, m in counts.items():
            self.sig(a, IP, c, m, lo, hi, OFFICE)
        return nat[0]

    def build_university(self, q: int) -> None:
        n_uni = max(1, round(q / self.U(400, 900)))
        cum = _cum([self.rnd() + 0.4 for _ in range(n_uni)])
        sizes, prev = [], 0.0
        for c in cum:
            sizes.append(round(q * (c - prev)))
            prev = c
        sizes[-1] += q - sum(sizes)
        for s in sizes:
            if s > 0:
                self._university(s)

    def _university(self, size: int) -> None:
        r, p = self.r, self.pick
        ci = self.c_index[
            p(
                [
                    "US",
                    "US",
                    "GB",
                    "IN",
                    "DE",
                    "CA",
                    "AU",
                    "BR",
                    "JP",
                    "KR",
                    "FR",
                    "NL",
                    "SG",
                    "MX",
                    "ES",
                ]
            )
        ]
        cc = self.c_code[ci]
        uname = p(["University of ", "", "", "Institute of Technology "]) + p(UNI_NAMES)
        slug = uname.split()[-1].lower().replace(".", "")
        dom = slug + "." + UNI_DOMAIN_SUFFIX.get(cc, "edu")
        doms = [dom, "student." + dom, "mail." + dom] if self.rnd() < 0.5 else [dom]
        uid = self.gid("uni")
        aggregate = self.rnd() < 0.5
        prov = self.net.provider(
            "edu",
            cc,
            256 if aggregate else 2 + int(self.rnd() * 5),
            "education",
            p_prefix=0.85,
            p_exact=0.05,
            aggregate=aggregate,
            v6=self.rnd() < 0.5,
        )
        nat = Pool([self.host_ip(prov) for _ in range(3 + int(self.rnd() * 6))], _zipf_cum(1, 1.0))
        nat.cum = _zipf_cum(len(nat.codes), 0.8)
        labs = Pool([self.device() for _ in range(10 + int(self.rnd() * 30))], [])
        labs.cum = _zipf_cum(len(labs.codes), 0.5)
        # courses with assignments (deadline, text)
        courses = []
        for c in r.sample(COURSES, min(len(COURSES), 4 + size // 60)):
            assigns = []
            for s0, s1 in (
                (T0, T0 + 45 * DAY),
                (T0 + 80 * DAY, T0 + 190 * DAY),
                (T1 - 55 * DAY, T1 - 2 * DAY),
            ):
                t = s0 + int(self.rnd() * 10 * DAY)
                while t < s1:
                    assigns.append((t, self.tg.homework_text(c)))
                    t += int(self.U(9, 18) * DAY)
            courses.append(assigns)
        sem_starts = [T0 + 72 * DAY, T1 - 61 * DAY]  # mid-January, start of September
        for _ in range(size):
            u = self.rnd()
            if u < 0.65:
                created = self.pick(sem_starts) + int(self.r.expovariate(1 / (4 * DAY)))
            else:
                created = self.benign_created()
            created = min(created, T1 - DAY)
            lo, hi = self.window(created)
            npr = self.nprom(1.1)
            email = p(doms) if self.rnd() < 0.7 else self.email_domain(ci)
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=email,
                nprom=npr,
                spec=(
                    "b",
                    self.persona(
                        ci,
                        cats=["study", "study", "code", "creative", "summarize", "language", "fun"],
                        stepwise=(0.12, None),
                    ),
                ),
                group="university",
                gid=uid,
            )
            dorm = self.host_ip(prov) if self.rnd() < 0.4 else None

            def campus(
                kk: int, a: int = a, lo: int = lo, hi: int = hi, dorm: int | None = dorm
            ) -> int:
                if dorm is None or self.rnd() < 0.6:
                    return self.obs_pool(a, nat, lo, hi, kk)
                self.sig(a, IP, dorm, kk, lo, hi, HUMAN)
                return dorm

            h = self.home(ci) if self.rnd() < 0.5 else None
            self.person_net(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                h,
                mobile_p=0.6,
                vpn_p=0.06,
                extra=[(1.5, campus)],
                signup_extra=h is None or u < 0.65,
            )
            devs = self.person_devices()
            if self.rnd() < 0.3:
                devs.append(self.pick_cum(labs.codes, labs.cum))
            self.person_rest(a, ci, created, lo, hi, npr, devs=devs, card_p=0.35, phone_p=0.3)
            for assigns in r.sample(courses, min(len(courses), 1 + int(self.rnd() * 3))):
                for dl, text in assigns:
                    if created < dl - HOUR and dl < hi and self.rnd() < 0.35:
                        t = dl - int(self.rnd() * 72 * HOUR)
                        self.schedule(a, max(t, created + MIN), self.tg.homework_copy(text))

    def build_mobile(self, q: int) -> None:
        mob_countries = [
            self.c_index[c]
            for c in ("IN", "ID", "PH", "NG", "BR", "MX", "VN", "PK", "EG", "KE", "US", "TH")
        ]
        for _ in range(q):
            ci = self.pick(mob_countries) if self.rnd() < 0.5 else self.country()
            created = self.benign_created()
            lo, hi = self.window(created)
            npr = self.nprom(0.9)
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=("b", self.persona(ci)),
                group="mobile",
                gid=None,
            )
            carrier = self.carrier_of(ci)
            self.a_gid[a] = "carrier-" + str(carrier[0].asn)
            k = 3 + self.ip_budget(npr)
            first = self.obs_mobile(a, ci, lo, hi, k, carrier)
            self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
            if self.rnd() < 0.15:
                self.sig(a, IP, self.hotspot(ci), 1 + self.pois(1), lo, hi, HUMAN)
            self.person_rest(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                devs=self.person_devices(mobile_heavy=True),
                card_p=0.5,
                phone_p=0.5,
            )

    def build_vpn(self, q: int) -> None:
        for _ in range(q):
            ci = self.country()
            created = self.benign_created()
            lo, hi = self.window(created)
            npr = self.nprom()
            j = bisect.bisect_left(self.vpn_cum, self.rnd())
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=("b", self.persona(ci)),
                group="vpn",
                gid=self.vpn_ids[j],
            )

            def vpn(kk: int, a: int = a, lo: int = lo, hi: int = hi, j: int = j) -> int:
                return self.obs_vpn(a, lo, hi, 2 + kk, j)

            h = self.home(ci) if self.rnd() < 0.5 else None
            self.person_net(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                h,
                vpn_p=0.0,
                mobile_p=0.3,
                extra=[(3.0, vpn)],
                signup_extra=True,
            )
            self.person_rest(a, ci, created, lo, hi, npr, card_p=0.6, phone_p=0.15)

    def build_developer(self, q: int) -> None:
        hack = [T0 + int(self.U(20, 340) * DAY) for _ in range(2 + int(self.rnd() * 2))]
        sloppy_blocks = list(self.sloppy_block.values())
        for _ in range(q):
            ci = self.country()
            if self.rnd() < 0.25:
                hk = int(self.rnd() * len(hack))
                created = hack[hk] + int(self.rnd() * 10 * HOUR)
                gid = f"hackathon-{hk}"
            else:
                created = self.benign_created()
                gid = None
            lo, hi = self.window(created)
            npr = self.nprom(1.4)
            kw: dict = {}
            if self.rnd() < 0.2:
                tools = ", ".join(self.r.sample(AGENT_TOOLS, 2 + int(self.rnd() * 4)))
                kw["agent_dev"] = (0.35, tools)
            if self.rnd() < 0.06:
                crit = ", ".join(self.r.sample(CRITERIA, 2 + int(self.rnd() * 3)))
                fmt = self.pick(
                    [
                        "Reply in JSON.",
                        "Answer with a single integer.",
                        "Explain briefly, then give the score.",
                        "Use the format SCORE: <n>.",
                    ]
                )
                kw["eval_"] = (0.55, (crit, fmt))
                npr = max(npr, int(self.U(20, 200)))
            sample = self.pick_cum(self.tg.sdk_samples, _SDK_CUM)
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=(
                    "b",
                    self.persona(
                        ci,
                        cats=["code", "code", "code", "work", "ideas", "tech"],
                        sdk=(0.04, None),
                        **kw,
                    ),
                ),
                group="developer",
                gid=gid or "sdk-quickstart",
            )
            # quick-start sample right after signup, verbatim
            t = created + int(self.U(1, 40) * MIN)
            for _ in range(1 + (self.rnd() < 0.4) + (self.rnd() < 0.15)):
                self.schedule(a, min(t, T1 - MIN), sample)
                t += int(self.U(5, 300) * SEC)
            extra: list = []
            devs = self.person_devices()
            if self.rnd() < 0.7:
                devs.append(self.pick_cum(self.sdk_dev.codes, self.sdk_dev.cum))
            if self.rnd() < 0.35:  # CI runner: cloud IPs, cron-regular smoke prompts
                self._ci(a, lo, hi)
            if self.rnd() < 0.1:  # a VPS; sometimes in the same /24 a sloppy campaign rents
                if sloppy_blocks and self.rnd() < 0.4:
                    prov, bi = self.pick(sloppy_blocks)
                else:
                    prov = self.pick(self.hosting)
                    bi = None
                vps = self.host_ip(prov, bi)
                extra.append(
                    (
                        1.0,
                        lambda kk, a=a, lo=lo, hi=hi, vps=vps: self.sig(
                            a, IP, vps, kk, lo, hi, MACHINE
                        ),
                    )
                )
            h = self.home(ci) if self.rnd() < 0.85 else None
            self.person_net(
                a, ci, created, lo, hi, npr, h, mobile_p=0.35, vpn_p=0.12, extra=extra or None
            )
            self.person_rest(a, ci, created, lo, hi, npr, devs=devs, card_p=0.85, phone_p=0.3)

    def _ci(self, a: int, lo: int, hi: int) -> None:
        cloud = self.pick(self.clouds)
        period = self.pick([DAY, DAY, DAY, HOUR, 6 * HOUR, 12 * HOUR, 7 * DAY])
        dur = int(self.U(7, 90) * DAY)
        start = lo + int(self.rnd() * max(hi - lo - dur, HOUR))
        n = max(1, min(100, (min(hi, start + dur) - start) // period))
        smoke = self.pick(self.tg.ci_smoke)
        for i in range(n):
            self.schedule(
                a, start + i * period + int(self.r.gauss(0, 20) * SEC) % (45 * SEC), smoke
            )
        for _ in range(min(n, 3 + int(self.rnd() * 12))):
            self.sig(
                a, IP, self.host_ip(cloud), 1 + self.pois(0.5), start, start + n * period, MACHINE
            )
        self.sig(
            a,
            DEV,
            self.pick_cum(self.sdk_dev.codes, self.sdk_dev.cum),
            n,
            start,
            start + n * period,
            MACHINE,
        )

    def build_viral(self, q: int) -> None:
        k = self.tg.n_viral
        dates = [T0 + int(self.U(10, 350) * DAY) for _ in range(k)]
        pop = _zipf_cum(k, 0.9)
        order = list(range(k))
        self.r.shuffle(order)
        for _ in range(q):
            i = order[bisect.bisect_left(pop, self.rnd())]
            ci = self.country()
            if self.rnd() < 0.6:
                created = min(T1 - DAY, dates[i] + int(self.r.expovariate(1 / (3 * DAY))))
            else:
                created = self.benign_created()
            lo, hi = self.window(created)
            npr = self.nprom()
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=("b", self.persona(ci, viral=(0.45, i), viral_=(0.1, None))),
                group="viral",
                gid=f"viral-{i}",
            )
            self.schedule(a, created + int(self.U(2, 25) * MIN), self.tg.viral_prompt(i))
            h = self.home(ci)
            self.person_net(a, ci, created, lo, hi, npr, h, mobile_p=0.6)
            self.person_rest(a, ci, created, lo, hi, npr, card_p=0.4)

    # ================================================================ proxies
    def build_proxies(self, plan: dict) -> None:
        net = self.net
        tiers, sizes = plan["camp_tiers"], plan["camp_sizes"]
        n_res = 2 + (self.rnd() < 0.5)
        self.resprov_ids = [self.gid("rpx") for _ in range(n_res)]
        draws = [0.0] * n_res
        self.camp_provider: dict[int, int] = {}
        for j, (t, s) in enumerate(zip(tiers, sizes, strict=False)):
            if t in ("hydra", "reseller"):
                pi = int(self.rnd() * n_res)
                self.camp_provider[j] = pi
                draws[pi] += s * (9 if t == "hydra" else 4)
        pc = plan["quota"]["proxy_customer"]
        for pi in range(n_res):
            draws[pi] += pc / n_res * 14
        self.resprov: list[Pool] = []
        homes = self.homes
        for pi in range(n_res):
            size = max(150, int(draws[pi] / 3.0))
            codes = []
            for _ in range(size):
                if homes and self.rnd() < 0.04:  # a home user's device is a proxy peer
                    code = self.pick(self.pick(homes).leases)[0]
                else:
                    code = self.host_ip(self.isp(self.country()))
                if self.rnd() < 0.15:
                    net.overrides.append(
                        (self.values[code], net.ranges[self.val_rid[code]].asn, "proxy")
                    )
                codes.append(code)
            self.resprov.append(Pool(codes, []))
        # reseller relays: a few datacenter addresses every reseller customer exits from
        self.relays: dict[int, tuple[str, list[int]]] = {}
        for j, t in enumerate(tiers):
            if t == "reseller":
                prov = self.pick(self.hosting)
                codes = [self.host_ip(prov) for _ in range(2 + int(self.rnd() * 4))]
                if self.rnd() < 0.3:
                    c = codes[0]
                    net.overrides.append((self.values[c], net.ranges[self.val_rid[c]].asn, "proxy"))
                self.relays[j] = (self.gid("rsl"), codes)

    def build_proxy_customer(self, q: int) -> None:
        relay_keys = list(self.relays)
        for _ in range(q):
            ci = self.country()
            created = self.benign_created()
            lo, hi = self.window(created)
            npr = self.nprom(1.3)
            kw = {}
            if self.rnd() < 0.4:
                kw["seo"] = (0.35, self.pick(V["business"]))
            use_relay = relay_keys and self.rnd() < 0.4
            if use_relay:
                j = self.pick(relay_keys)
                gid, relay = self.relays[j]
                pi = self.camp_provider[j]
            else:
                pi = int(self.rnd() * len(self.resprov))
                gid, relay = self.resprov_ids[pi], None
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=self.email_domain(ci),
                nprom=npr,
                spec=("b", self.persona(ci, extra_kw=kw)),
                group="proxy_customer",
                gid=gid,
            )
            pool = self.resprov[pi]
            extra = [
                (
                    2.0,
                    lambda kk, a=a, lo=lo, hi=hi, pool=pool: self.obs_pool(
                        a, pool, lo, hi, 2 + 2 * kk, uniform=True
                    ),
                )
            ]
            if relay is not None:
                extra.append(
                    (
                        2.0,
                        lambda kk, a=a, lo=lo, hi=hi, relay=relay: self.obs_pool(
                            a, Pool(relay, _zipf_cum(len(relay))), lo, hi, kk, MACHINE
                        ),
                    )
                )
            h = self.home(ci) if self.rnd() < 0.5 else None
            self.person_net(
                a,
                ci,
                created,
                lo,
                hi,
                npr,
                h,
                mobile_p=0.3,
                vpn_p=0.05,
                extra=extra,
                signup_extra=True,
            )
            self.person_rest(a, ci, created, lo, hi, npr, card_p=0.8, phone_p=0.3)

    # ================================================================ campaigns
    def build_campaigns(self, plan: dict) -> None:
        for j, (tier, size) in enumerate(zip(plan["camp_tiers"], plan["camp_sizes"], strict=False)):
            self._campaign(j, tier, size)

    def _campaign(self, j: int, tier: str, size: int) -> None:
        r, rnd, p = self.r, self.rnd, self.pick
        cid = "cmp-" + self._hex(3)
        dur = {
            "sloppy": self.U(4, 25),
            "rotating": self.U(10, 60),
            "hydra": self.U(40, 160),
            "reseller": self.U(30, 150),
        }[tier] * DAY
        start = T0 + 15 * DAY + int(rnd() * (T1 - T0 - 20 * DAY - dur))
        end = int(start + dur)
        nfam = {
            "sloppy": 1,
            "rotating": 1 + (rnd() < 0.5),
            "hydra": 1 + int(rnd() * 3),
            "reseller": 2 + (rnd() < 0.5),
        }[tier]
        fams: list[str] = []
        while len(fams) < nfam:
            f = r.choices(FAMILY_NAMES, weights=[FAM_W[x] for x in FAMILY_NAMES])[0]
            if f not in fams:
                fams.append(f)
        houses = [self.tg.make_house(f, n_pool=6 + int(rnd() * 12)) for f in fams]
        camp = Campaign(
            cid,
            tier,
            size,
            start,
            end,
            houses,
            _cum([rnd() + 0.3 for _ in fams]),
            MODE_OF_TIER[tier],
            topic_chunk=4 + int(rnd() * 12),
        )
        self.campaigns.append(camp)
        # claimed identity: countries and a skewed (but ordinary) free-mail mixture
        cset = [self.country() for _ in range(1 + int(rnd() * 3))]
        mw = [w * r.gammavariate(0.6, 1.0) + 1e-6 for _, w in FREE_MAIL]
        mcum = _cum(mw)
        op_tz = p([8, 8, 3, 2, 1, 5, 7, -5, 0, 9])  # where the operators actually sit
        base_iv = {
            "sloppy": self.U(15, 90),
            "rotating": self.U(20, 150),
            "reseller": self.U(30, 240),
            "hydra": 60.0,
        }[tier] * SEC
        med = {"sloppy": 28, "rotating": 30, "hydra": 18, "reseller": 24}[tier] * self.U(0.7, 1.4)
        sig_ = {"sloppy": 0.7, "rotating": 0.6, "hydra": 0.8, "reseller": 0.7}[tier]
        # ---- tier infrastructure
        if tier == "sloppy":
            cards = Pool([self.card() for _ in range(max(1, round(size / self.U(25, 60))))], [])
            devs = Pool([self.device() for _ in range(max(1, round(size / self.U(12, 35))))], [])
            host, bi = self.sloppy_block[j]
            hosts = r.sample(range(1, 255), 6 + int(rnd() * 15))
            ips = Pool([self.ip4(host.blocks[bi] | h, host.rid[bi]) for h in hosts], [])
            phones = Pool(r.sample(self.sms_pool, min(len(self.sms_pool), max(1, size // 20))), [])
        elif tier == "rotating":
            cards = Pool([self.card() for _ in range(max(1, math.ceil(size / self.U(5, 20))))], [])
            devs = Pool([self.device() for _ in range(max(1, math.ceil(size / self.U(5, 20))))], [])
            hs = r.sample(self.hosting, min(len(self.hosting), 3 + int(rnd() * 4)))
            ips = Pool(
                [self.host_ip(p(hs)) for _ in range(max(3, math.ceil(size * 3.5 / self.U(3, 8))))],
                [],
            )
            v6h = [h for h in hs if h.v6 >= 0]
            v6 = self.net.v6_64(v6h[0]) if v6h and rnd() < 0.35 else None
            v6rid = v6h[0].v6_rid if v6h else -1
            phones = Pool(
                [
                    self.pick(self.sms_pool) if rnd() < 0.5 else self.phone(p(cset))
                    for _ in range(max(1, size // 5))
                ],
                [],
            )
        elif tier == "hydra":
            pool = self.resprov[self.camp_provider[j]]
        else:  # reseller
            pool = self.resprov[self.camp_provider[j]]
            _, relay = self.relays[j]
            relay_pool = Pool(relay, _zipf_cum(len(relay)))
            cards = Pool([self.card() for _ in range(max(1, math.ceil(size / self.U(2, 4))))], [])
            devs = Pool([self.device() for _ in range(max(1, size // 8))], [])
        for c in (
            locals().get("cards"),
            locals().get("devs"),
            locals().get("ips"),
            locals().get("phones"),
        ):
            if isinstance(c, Pool) and not c.cum:
                c.cum = _zipf_cum(len(c.codes), 0.7)
        # ---- accounts
        for i in range(size):
            ci = p(cset) if tier != "hydra" else self.country()
            aged = False
            if tier == "sloppy":
                created = start + int(rnd() * self.U(2, 8) * HOUR)
                lo = created + int(rnd() * 30 * MIN)
                hi = end
            elif tier == "rotating":
                created = start + int(rnd() * self.U(1, 4) * DAY)
                lo = created + int(rnd() * 2 * HOUR)
                hi = end
            elif tier == "hydra":
                if rnd() < 0.25:
                    aged = True
                    created = start - int(self.U(30, 200) * DAY)
                    if created < T0:  # not that much history in the window: age it less
                        created = T0 + int(rnd() * (start - T0))
                else:
                    created = start + int(rnd() * dur * 0.7)
                lo = max(created, start) + int(rnd() * dur * 0.5)
                hi = min(end, lo + int(self.U(14, 60) * DAY))
            else:
                created = start + int(rnd() * 14 * DAY)
                lo = created + int(rnd() * DAY)
                hi = int(start + dur * self.U(0.5, 1.0))
            hi = max(hi, lo + 2 * HOUR)
            email = (
                self.pick_cum(self.mail_names, mcum)
                if (rnd() < 0.88 or not self.c_prov[ci])
                else p(self.c_prov[ci])
            )
            npr = max(3, min(800, round(r.lognormvariate(math.log(med), sig_))))
            if tier != "sloppy" and rnd() < 0.04:  # reserve account, never (yet) used
                npr = 0
            tmode = {"sloppy": MACHINE, "rotating": MACHINE, "hydra": HUMAN, "reseller": SEMI}[tier]
            a = self.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=email,
                nprom=npr,
                spec=("c", camp, i, int(rnd() * 2)),
                group="campaign",
                gid=cid,
                label="sybil",
                cid=cid,
                tier=tier,
                tz=op_tz + (int(rnd() * 3) - 1 if tier == "hydra" else 0),
                tmode=tmode,
                interval=int(base_iv * self.U(0.95, 1.05)),
                runlen=8 + int(rnd() * 50),
            )
            camp.accounts.append(a)
            lo, hi = self.a_lo[a], self.a_hi[a]
            k_ip = self.ip_budget(npr)
            if tier == "sloppy":
                if rnd() < 0.85:
                    c = self.pick_cum(cards.codes, cards.cum)
                    self.sig(a, PAY, c, 1 + self.pois(1.5), created, hi, SIGNUP)
                dl = [self.pick_cum(devs.codes, devs.cum) for _ in range(1 + (rnd() < 0.4))]
                if rnd() < 0.4:
                    dl.append(self.pick_cum(self.sdk_dev.codes, self.sdk_dev.cum))
                self.obs_devices(a, dl, lo, hi, npr, MACHINE)
                self.sig(a, DEV, dl[0], 1, created, created + MIN, SIGNUP)
                first = self.obs_pool(a, ips, lo, hi, k_ip, MACHINE)
                self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
                if rnd() < 0.5:
                    self.sig(
                        a, PHONE, self.pick_cum(phones.codes, phones.cum), 1, created, hi, SIGNUP
                    )
            elif tier == "rotating":
                for _ in range(1 + (rnd() < 0.3)):
                    self.sig(
                        a, PAY, self.pick(cards.codes), 1 + self.pois(1.0), created, hi, SIGNUP
                    )
                dl = [self.pick(devs.codes) for _ in range(1 + (rnd() < 0.35))]
                if rnd() < 0.25:
                    dl.append(self.pick_cum(self.sdk_dev.codes, self.sdk_dev.cum))
                self.obs_devices(a, dl, lo, hi, npr, MACHINE)
                self.sig(a, DEV, dl[0], 1, created, created + MIN, SIGNUP)
                sub = Pool([self.pick(ips.codes) for _ in range(2 + int(rnd() * 4))], [])
                first = self.obs_pool(a, sub, lo, hi, k_ip, MACHINE, uniform=True)
                self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
                if v6 is not None:
                    self.sig(a, IP, self.v6net(v6, v6rid), 1 + self.pois(2), lo, hi, MACHINE)
                if rnd() < 0.6:
                    self.sig(a, PHONE, self.pick(phones.codes), 1, created, hi, SIGNUP)
            elif tier == "hydra":
                u = rnd()
                if u < 0.025 and self.benign_cards:  # a stolen card whose owner is a real user
                    self.sig(
                        a,
                        PAY,
                        self.pick(self.benign_cards),
                        1 + self.pois(1.0),
                        created,
                        hi,
                        SIGNUP,
                    )
                elif u < 0.95:
                    self.obs_card(a, self.card(), created, hi)
                d = (
                    self.device()
                    if rnd() > 0.03
                    else self.pick_cum(self.common_dev.codes, self.common_dev.cum)
                )
                self.obs_devices(a, [d], lo, hi, npr)
                self.sig(a, DEV, d, 1, created, created + MIN, SIGNUP)
                self.sig(a, IP, self.pick(pool.codes), 1, created, created + MIN, SIGNUP)
                for _ in range(3 + int(rnd() * 13)):
                    t0 = lo + int(rnd() * max(hi - lo, 1))
                    self.sig(
                        a,
                        IP,
                        self.pick(pool.codes),
                        1 + self.pois(0.8),
                        t0,
                        min(hi, t0 + 2 * DAY),
                        HUMAN,
                    )
                if rnd() < 0.35:
                    ph = self.pick(self.sms_pool) if rnd() < 0.2 else self.phone(ci)
                    self.sig(a, PHONE, ph, 1, created, hi, SIGNUP)
                if aged:  # a few cover prompts while the account ages
                    for _ in range(1 + int(rnd() * 4)):
                        t = created + int(rnd() * min(40 * DAY, max(lo - created, HOUR)))
                        self.schedule(a, t, self.tg.generic())
            else:  # reseller
                card = self.pick_cum(cards.codes, cards.cum)
                if rnd() < 0.03 and self.benign_cards:
                    card = self.pick(self.benign_cards)
                self.sig(a, PAY, card, 1 + self.pois(1.0), created, hi, SIGNUP)
                d = self.pick_cum(devs.codes, devs.cum) if rnd() < 0.2 else self.device()
                self.obs_devices(a, [d], lo, hi, npr, SEMI)
                self.sig(a, DEV, d, 1, created, created + MIN, SIGNUP)
                first = self.obs_pool(a, relay_pool, lo, hi, max(1, k_ip // 2), MACHINE)
                self.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
                self.obs_pool(a, pool, lo, hi, 2 + int(rnd() * 5), uniform=True)
                if rnd() < 0.4:
                    self.sig(a, PHONE, self.pick(self.sms_pool), 1, created, hi, SIGNUP)

    # ================================================================ prompts
    def campaign_texts(self, camp: Campaign, slot: int, alt: int, n: int) -> list[str]:
        tg, rnd = self.tg, self.tg.rnd
        out = []
        cover = {"hydra": 0.15, "reseller": 0.06}.get(camp.tier, 0.0)
        base_k = slot * camp.topic_chunk
        cum = camp.fam_cum
        houses = camp.houses
        for i in range(n):
            if cover and rnd() < cover:
                out.append(tg.generic())
                continue
            u = rnd()
            h = houses[bisect.bisect_left(cum, u)]
            mode = camp.mode
            if mode == "limited" and rnd() < 0.3:
                mode = "paraphrase"
            out.append(tg.campaign_prompt(h, mode, base_k + i, alt))
        return out

    def all_prompt_texts(self) -> list[str]:
        tg = self.tg
        texts: list[str] = []
        ext = texts.extend
        bo = tg.benign_one
        N = len(self.a_nprom)
        step = max(1, N // 10)
        for a in range(N):
            k = self.a_nprom[a]
            if k:
                spec = self.a_spec[a]
                if spec[0] == "b":
                    p = spec[1]
                    ext([bo(p) for _ in range(k)])
                else:
                    ext(self.campaign_texts(spec[1], spec[2], spec[3], k))
            if a % step == 0:
                self.progress("prompts", 0.45 + 0.35 * a / N)
        return texts


_SDK_CUM = _zipf_cum(10, 1.3)
LABEL_TASKS = [
    "Classify the sentiment of this review as positive, negative or neutral:",
    "Extract the product name and price from this listing:",
    "Is this message spam? Answer yes or no:",
    "Tag this support ticket with one of: billing, bug, feature request, other:",
    "Translate this customer review into English:",
]
