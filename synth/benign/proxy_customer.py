"""Residential-proxy customers: benign users of the residential proxy providers (and the
reseller relays) that hydra and reseller campaigns also exit from."""

from __future__ import annotations

from ..population import Pool, Population, zipf_cum
from ..timing import MACHINE
from ..vocab import V


def build(pop: Population, q: int) -> None:
    """Build ``q`` proxy-customer accounts."""
    relay_keys = list(pop.relays)
    for _ in range(q):
        ci = pop.country()
        created = pop.benign_created()
        lo, hi = pop.window(created)
        npr = pop.nprom(1.3)
        kw = {}
        if pop.rnd() < 0.4:
            kw["seo"] = (0.35, pop.pick(V["business"]))
        use_relay = relay_keys and pop.rnd() < 0.4
        if use_relay:
            j = pop.pick(relay_keys)
            gid, relay = pop.relays[j]
            pi = pop.camp_provider[j]
        else:
            pi = int(pop.rnd() * len(pop.resprov))
            gid, relay = pop.resprov_ids[pi], None
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=("b", pop.persona(ci, extra_kw=kw)),
            group="proxy_customer",
            gid=gid,
        )
        pool = pop.resprov[pi]
        extra = [
            (
                2.0,
                lambda kk, a=a, lo=lo, hi=hi, pool=pool: pop.obs_pool(
                    a, pool, lo, hi, 2 + 2 * kk, uniform=True
                ),
            )
        ]
        if relay is not None:
            extra.append(
                (
                    2.0,
                    lambda kk, a=a, lo=lo, hi=hi, relay=relay: pop.obs_pool(
                        a, Pool(relay, zipf_cum(len(relay))), lo, hi, kk, MACHINE
                    ),
                )
            )
        h = pop.home(ci) if pop.rnd() < 0.5 else None
        pop.person_net(
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
        pop.person_rest(a, ci, created, lo, hi, npr, card_p=0.8, phone_p=0.3)
