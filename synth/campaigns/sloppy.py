"""Sloppy campaigns: a burst of sign-ups over a few hours from a handful of addresses in
one rented /24, a few shared cards and devices, SMS-activation phones, and machine-timed
near-duplicate prompts."""

from __future__ import annotations

from ..population import DEV, IP, PAY, PHONE, Population
from ..timing import HOUR, MACHINE, MIN, SIGNUP
from .base import Tier, zipf_pool


class Sloppy(Tier):
    name = "sloppy"
    mode = "fixed"
    days = (4, 25)
    interval_s = (15, 90)
    median_prompts = 28
    sigma = 0.7
    tmode = MACHINE
    reserve_accounts = False

    @classmethod
    def draw_families(cls, pop: Population) -> int:
        return 1

    def setup(self) -> None:
        pop, r, rnd, size = self.pop, self.pop.r, self.pop.rnd, self.size
        self.cards = zipf_pool([pop.card() for _ in range(max(1, round(size / pop.U(25, 60))))])
        self.devs = zipf_pool([pop.device() for _ in range(max(1, round(size / pop.U(12, 35))))])
        host, bi = pop.sloppy_block[self.j]
        hosts = r.sample(range(1, 255), 6 + int(rnd() * 15))
        self.ips = zipf_pool([pop.ip4(host.blocks[bi] | h, host.rid[bi]) for h in hosts])
        self.phones = zipf_pool(r.sample(pop.sms_pool, min(len(pop.sms_pool), max(1, size // 20))))

    def times(self) -> tuple[int, int, int, bool]:
        pop, rnd = self.pop, self.pop.rnd
        created = self.start + int(rnd() * pop.U(2, 8) * HOUR)
        lo = created + int(rnd() * 30 * MIN)
        return created, lo, self.end, False

    def observe(
        self, a: int, ci: int, created: int, lo: int, hi: int, npr: int, k_ip: int, aged: bool
    ) -> None:
        pop, rnd = self.pop, self.pop.rnd
        cards, devs, phones = self.cards, self.devs, self.phones
        if rnd() < 0.85:
            c = pop.pick_cum(cards.codes, cards.cum)
            pop.sig(a, PAY, c, 1 + pop.pois(1.5), created, hi, SIGNUP)
        dl = [pop.pick_cum(devs.codes, devs.cum) for _ in range(1 + (rnd() < 0.4))]
        if rnd() < 0.4:
            dl.append(pop.pick_cum(pop.sdk_dev.codes, pop.sdk_dev.cum))
        pop.obs_devices(a, dl, lo, hi, npr, MACHINE)
        pop.sig(a, DEV, dl[0], 1, created, created + MIN, SIGNUP)
        first = pop.obs_pool(a, self.ips, lo, hi, k_ip, MACHINE)
        pop.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
        if rnd() < 0.5:
            pop.sig(a, PHONE, pop.pick_cum(phones.codes, phones.cum), 1, created, hi, SIGNUP)
