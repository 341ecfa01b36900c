"""Mobile users: mostly behind a carrier's CGNAT pool, which a few addresses serve for a
large share of a region's users."""

from __future__ import annotations

from ..population import IP, Population
from ..timing import HUMAN, MIN, SIGNUP


def build(pop: Population, q: int) -> None:
    """Build ``q`` mobile-first accounts."""
    mob_countries = [
        pop.c_index[c]
        for c in ("IN", "ID", "PH", "NG", "BR", "MX", "VN", "PK", "EG", "KE", "US", "TH")
    ]
    for _ in range(q):
        ci = pop.pick(mob_countries) if pop.rnd() < 0.5 else pop.country()
        created = pop.benign_created()
        lo, hi = pop.window(created)
        npr = pop.nprom(0.9)
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=("b", pop.persona(ci)),
            group="mobile",
            gid=None,
        )
        carrier = pop.carrier_of(ci)
        pop.a_gid[a] = "carrier-" + str(carrier[0].asn)
        k = 3 + pop.ip_budget(npr)
        first = pop.obs_mobile(a, ci, lo, hi, k, carrier)
        pop.sig(a, IP, first, 1, created, created + MIN, SIGNUP)
        if pop.rnd() < 0.15:
            pop.sig(a, IP, pop.hotspot(ci), 1 + pop.pois(1), lo, hi, HUMAN)
        pop.person_rest(
            a,
            ci,
            created,
            lo,
            hi,
            npr,
            devs=pop.person_devices(mobile_heavy=True),
            card_p=0.5,
            phone_p=0.5,
        )
