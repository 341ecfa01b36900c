"""Reseller campaigns: accounts resold to customers who exit through a few datacenter
relays (and a residential proxy provider), pay with cards shared by two to four
accounts, and send prompts at semi-regular intervals with two phrasings per clause."""

from __future__ import annotations

import math

from ..population import DEV, IP, PAY, PHONE, Pool, Population, zipf_cum
from ..timing import DAY, MACHINE, MIN, SEMI, SIGNUP
from .base import Tier, zipf_pool


class Reseller(Tier):
    name = "reseller"
    mode = "limited"
    cover = 0.06
    days = (30, 150)
    interval_s = (30, 240)
    median_prompts = 24
    sigma = 0.7
    tmode = SEMI

    @classmethod
    def draw_families(cls, pop: Population) -> int:
        return 2 + (pop.rnd() < 0.5)

    def setup(self) -> None:
        pop, size = self.pop, self.size
        self.exits = pop.resprov[pop.camp_provider[self.j]]
        _, relay = pop.relays[self.j]
        self.relay_pool = Pool(relay, zipf_cum(len(relay)))
        self.cards = zipf_pool([pop.card() for _ in range(max(1, math.ceil(size / pop.U(2, 4))))])
        self.devs = zipf_pool([pop.device() for _ in range(max(1, size // 8))])

    def times(self) -> tuple[int, int, int, bool]:
        pop, rnd, start = self.pop, self.pop.rnd, self.start
        created = start + int(rnd() * 14 * DAY)
        lo = created + int(rnd() * DAY)
        hi = int(start + self.dur * pop.U(0.5, 1.0))
        return created, lo, hi, False

    def observe(
        self, a: int, ci: int, created: int, lo: int, hi: int, npr: int, k_ip: int, aged: bool
    ) -> None:
        pop, rnd, cards, devs = self.pop, self.pop.rnd, self.cards, self.devs
        card = pop.pick_cum(cards.codes, cards.cum)
        if rnd() < 0.03 and pop.benign_cards:
            card = pop.pick(pop.benign_cards)
        pop.sig(a, PAY, card, 1 + pop.pois(1.0), created, hi, SIGNUP)
        d = pop.pick_cum(devs.codes, devs.cum) if rnd() < 0.2 else pop.device()
        pop.obs_devices(a, [d], lo, hi, npr, SEMI)
        pop.sig(a, DEV, d, 1, created, created + MIN, SIGNUP)
        first = pop.obs_pool(a, self.relay_pool, lo, hi, max(1, k_ip // 2), MACHINE)
        pop.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
        pop.obs_pool(a, self.exits, lo, hi, 2 + int(rnd() * 5), uniform=True)
        if rnd() < 0.4:
            pop.sig(a, PHONE, pop.pick(pop.sms_pool), 1, created, hi, SIGNUP)
