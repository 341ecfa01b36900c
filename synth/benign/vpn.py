"""Commercial-VPN users: most of their traffic exits from a VPN provider's shared exits."""

from __future__ import annotations

import bisect

from ..population import Population


def build(pop: Population, q: int) -> None:
    """Build ``q`` accounts of VPN users."""
    for _ in range(q):
        ci = pop.country()
        created = pop.benign_created()
        lo, hi = pop.window(created)
        npr = pop.nprom()
        j = bisect.bisect_left(pop.vpn_cum, pop.rnd())
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=("b", pop.persona(ci)),
            group="vpn",
            gid=pop.vpn_ids[j],
        )

        def vpn(kk: int, a: int = a, lo: int = lo, hi: int = hi, j: int = j) -> int:
            return pop.obs_vpn(a, lo, hi, 2 + kk, j)

        h = pop.home(ci) if pop.rnd() < 0.5 else None
        pop.person_net(
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
        pop.person_rest(a, ci, created, lo, hi, npr, card_p=0.6, phone_p=0.15)
