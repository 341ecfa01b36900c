"""Rotating campaigns: accounts created over a few days that rotate through a pool of
hosting addresses (and sometimes one IPv6 /64), share cards and devices in small
groups, and walk a topic space systematically with machine-timed prompts."""

from __future__ import annotations

import math

from ..population import DEV, IP, PAY, PHONE, Pool, Population
from ..timing import DAY, HOUR, MACHINE, MIN, SIGNUP
from .base import Tier, zipf_pool


class Rotating(Tier):
    name = "rotating"
    mode = "topics"
    days = (10, 60)
    interval_s = (20, 150)
    median_prompts = 30
    sigma = 0.6
    tmode = MACHINE

    @classmethod
    def draw_families(cls, pop: Population) -> int:
        return 1 + (pop.rnd() < 0.5)

    def setup(self) -> None:
        pop, r, rnd, p, size = self.pop, self.pop.r, self.pop.rnd, self.pop.pick, self.size
        self.cards = zipf_pool([pop.card() for _ in range(max(1, math.ceil(size / pop.U(5, 20))))])
        self.devs = zipf_pool([pop.device() for _ in range(max(1, math.ceil(size / pop.U(5, 20))))])
        hs = r.sample(pop.hosting, min(len(pop.hosting), 3 + int(rnd() * 4)))
        self.ips = zipf_pool(
            [pop.host_ip(p(hs)) for _ in range(max(3, math.ceil(size * 3.5 / pop.U(3, 8))))]
        )
        v6h = [h for h in hs if h.v6 >= 0]
        self.v6 = pop.net.v6_64(v6h[0]) if v6h and rnd() < 0.35 else None
        self.v6rid = v6h[0].v6_rid if v6h else -1
        self.phones = zipf_pool(
            [
                pop.pick(pop.sms_pool) if rnd() < 0.5 else pop.phone(p(self.cset))
                for _ in range(max(1, size // 5))
            ]
        )

    def times(self) -> tuple[int, int, int, bool]:
        pop, rnd = self.pop, self.pop.rnd
        created = self.start + int(rnd() * pop.U(1, 4) * DAY)
        lo = created + int(rnd() * 2 * HOUR)
        return created, lo, self.end, False

    def observe(
        self, a: int, ci: int, created: int, lo: int, hi: int, npr: int, k_ip: int, aged: bool
    ) -> None:
        pop, rnd = self.pop, self.pop.rnd
        for _ in range(1 + (rnd() < 0.3)):
            pop.sig(a, PAY, pop.pick(self.cards.codes), 1 + pop.pois(1.0), created, hi, SIGNUP)
        dl = [pop.pick(self.devs.codes) for _ in range(1 + (rnd() < 0.35))]
        if rnd() < 0.25:
            dl.append(pop.pick_cum(pop.sdk_dev.codes, pop.sdk_dev.cum))
        pop.obs_devices(a, dl, lo, hi, npr, MACHINE)
        pop.sig(a, DEV, dl[0], 1, created, created + MIN, SIGNUP)
        sub = Pool([pop.pick(self.ips.codes) for _ in range(2 + int(rnd() * 4))], [])
        first = pop.obs_pool(a, sub, lo, hi, k_ip, MACHINE, uniform=True)
        pop.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
        if self.v6 is not None:
            pop.sig(a, IP, pop.v6net(self.v6, self.v6rid), 1 + pop.pois(2), lo, hi, MACHINE)
        if rnd() < 0.6:
            pop.sig(a, PHONE, pop.pick(self.phones.codes), 1, created, hi, SIGNUP)
