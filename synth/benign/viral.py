"""Viral-template pasters: people who paste a prompt template that went viral, mostly
signing up in the days after it did."""

from __future__ import annotations

import bisect

from ..population import Population, zipf_cum
from ..timing import DAY, MIN, T0, T1


def build(pop: Population, q: int) -> None:
    """Build ``q`` accounts of viral-template pasters."""
    k = pop.tg.n_viral
    dates = [T0 + int(pop.U(10, 350) * DAY) for _ in range(k)]
    popularity = zipf_cum(k, 0.9)
    order = list(range(k))
    pop.r.shuffle(order)
    for _ in range(q):
        i = order[bisect.bisect_left(popularity, pop.rnd())]
        ci = pop.country()
        if pop.rnd() < 0.6:
            created = min(T1 - DAY, dates[i] + int(pop.r.expovariate(1 / (3 * DAY))))
        else:
            created = pop.benign_created()
        lo, hi = pop.window(created)
        npr = pop.nprom()
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=("b", pop.persona(ci, viral=(0.45, i), viral_=(0.1, None))),
            group="viral",
            gid=f"viral-{i}",
        )
        pop.schedule(a, created + int(pop.U(2, 25) * MIN), pop.tg.viral_prompt(i))
        h = pop.home(ci)
        pop.person_net(a, ci, created, lo, hi, npr, h, mobile_p=0.6)
        pop.person_rest(a, ci, created, lo, hi, npr, card_p=0.4)
