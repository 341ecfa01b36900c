"""Households: two to five people behind one home connection, sometimes sharing a family
email domain, a card, a device or a phone."""

from __future__ import annotations

from ..population import PHONE, Population
from ..timing import DAY, SIGNUP, T1
from . import solo


def build(pop: Population, q: int) -> None:
    """Build ``q`` household accounts (a leftover single is a solo user)."""
    left = q
    while left >= 2:
        size = min(left, pop.pick([2, 2, 2, 2, 3, 3, 3, 4, 4]))
        if left - size == 1:
            size += 1
        left -= size
        ci = pop.country()
        hid = pop.gid("hh")
        h = pop.home(ci)
        fam_domain = pop.custom_domain() if pop.rnd() < 0.12 else None
        fam_card = pop.card() if pop.rnd() < 0.5 else None
        shared_dev = pop.device() if pop.rnd() < 0.35 else None
        shared_phone = pop.phone(ci) if pop.rnd() < 0.05 else None
        first = pop.benign_created()
        for j in range(size):
            created = (
                first if j == 0 else min(T1 - DAY, first + int(pop.r.expovariate(1 / (40 * DAY))))
            )
            lo, hi = pop.window(created)
            npr = pop.nprom()
            email = fam_domain if fam_domain and pop.rnd() < 0.8 else pop.email_domain(ci)
            a = pop.acct(
                created=created,
                lo=lo,
                hi=hi,
                ci=ci,
                email=email,
                nprom=npr,
                spec=("b", pop.persona(ci)),
                group="household",
                gid=hid,
            )
            pop.person_net(a, ci, created, lo, hi, npr, h, vpn_p=0.05)
            devs = pop.person_devices()
            if shared_dev is not None and pop.rnd() < 0.7:
                devs.append(shared_dev)
            card = fam_card if fam_card is not None and pop.rnd() < 0.8 else None
            pop.person_rest(
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
                pop.sig(a, PHONE, shared_phone, 1, created, hi, SIGNUP)
    for _ in range(left):  # leftover single: a solo
        solo.build(pop, 1)
