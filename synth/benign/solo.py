"""Solo users: one person, one account, their own home connection, card and devices."""

from __future__ import annotations

from typing import Any

from ..population import Population
from ..text import LABEL_TASKS


def build(pop: Population, q: int) -> None:
    """Build ``q`` solo accounts (a few teachers, labelers and step-by-step learners)."""
    for _ in range(q):
        ci = pop.country()
        created = pop.benign_created()
        lo, hi = pop.window(created)
        npr = pop.nprom()
        kw: dict[str, tuple[float, Any]] = {}
        if pop.rnd() < 0.02:
            kw["teacher"] = (0.3, None)
        if pop.rnd() < 0.01:
            kw["labeler"] = (0.9, pop.pick(LABEL_TASKS))
            npr = max(npr, int(pop.U(40, 400)))
        if pop.rnd() < 0.03:
            kw["stepwise"] = (0.3, None)
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=("b", pop.persona(ci, extra_kw=kw)),
            group="solo",
            gid=None,
        )
        h = pop.home(ci)
        pop.person_net(a, ci, created, lo, hi, npr, h)
        pop.person_rest(a, ci, created, lo, hi, npr)
