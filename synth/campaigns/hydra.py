"""Hydra campaigns: the careful operators. Every account has its own card and device,
exits from a residential proxy provider, claims any country, keeps human hours near
the operators' time zone, some accounts are aged (created long before use, with cover
prompts), and the prompts are paraphrased on every send."""

from __future__ import annotations

from ..population import DEV, IP, PAY, PHONE, Population
from ..timing import DAY, HOUR, HUMAN, MIN, SIGNUP, T0
from .base import Tier


class Hydra(Tier):
    name = "hydra"
    mode = "paraphrase"
    cover = 0.15
    days = (40, 160)
    interval_s = 60.0
    median_prompts = 18
    sigma = 0.8
    tmode = HUMAN

    @classmethod
    def draw_families(cls, pop: Population) -> int:
        return 1 + int(pop.rnd() * 3)

    def setup(self) -> None:
        pop = self.pop
        self.exits = pop.resprov[pop.camp_provider[self.j]]

    def country(self) -> int:
        return self.pop.country()

    def times(self) -> tuple[int, int, int, bool]:
        pop, rnd, start, dur = self.pop, self.pop.rnd, self.start, self.dur
        aged = False
        if rnd() < 0.25:
            aged = True
            created = start - int(pop.U(30, 200) * DAY)
            if created < T0:  # not that much history in the window: age it less
                created = T0 + int(rnd() * (start - T0))
        else:
            created = start + int(rnd() * dur * 0.7)
        lo = max(created, start) + int(rnd() * dur * 0.5)
        hi = min(self.end, lo + int(pop.U(14, 60) * DAY))
        return created, lo, hi, aged

    def account_tz(self, op_tz: int) -> int:
        return op_tz + (int(self.pop.rnd() * 3) - 1)

    def observe(
        self, a: int, ci: int, created: int, lo: int, hi: int, npr: int, k_ip: int, aged: bool
    ) -> None:
        pop, rnd, exits = self.pop, self.pop.rnd, self.exits
        u = rnd()
        if u < 0.025 and pop.benign_cards:  # a stolen card whose owner is a real user
            pop.sig(a, PAY, pop.pick(pop.benign_cards), 1 + pop.pois(1.0), created, hi, SIGNUP)
        elif u < 0.95:
            pop.obs_card(a, pop.card(), created, hi)
        d = pop.device() if rnd() > 0.03 else pop.pick_cum(pop.common_dev.codes, pop.common_dev.cum)
        pop.obs_devices(a, [d], lo, hi, npr)
        pop.sig(a, DEV, d, 1, created, created + MIN, SIGNUP)
        pop.sig(a, IP, pop.pick(exits.codes), 1, created, created + MIN, SIGNUP)
        for _ in range(3 + int(rnd() * 13)):
            t0 = lo + int(rnd() * max(hi - lo, 1))
            pop.sig(
                a, IP, pop.pick(exits.codes), 1 + pop.pois(0.8), t0, min(hi, t0 + 2 * DAY), HUMAN
            )
        if rnd() < 0.35:
            ph = pop.pick(pop.sms_pool) if rnd() < 0.2 else pop.phone(ci)
            pop.sig(a, PHONE, ph, 1, created, hi, SIGNUP)
        if aged:  # a few cover prompts while the account ages
            for _ in range(1 + int(rnd() * 4)):
                t = created + int(rnd() * min(40 * DAY, max(lo - created, HOUR)))
                pop.schedule(a, t, pop.tg.generic())
