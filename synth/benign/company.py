"""Companies: staff behind the office NAT, on the company email domain and corporate
cards, often signing up in a burst when the company adopts the product."""

from __future__ import annotations

from ..population import IP, Population
from ..timing import DAY, HOUR, HUMAN, MIN, OFFICE, T0, T1
from ..vocab import INDUSTRIES, PRODUCT_WORDS, WORDS_BIZ, WORDS_BIZ2
from . import solo


def build(pop: Population, q: int) -> None:
    """Build ``q`` company accounts in companies of 5 to 300 (a remainder below 5 is solo)."""
    left = q
    while left >= 5:
        size = min(300, max(5, int(5 * pop.r.paretovariate(1.15))))
        if size > left or left - size < 5:
            size = left
        left -= size
        _company(pop, size)
    if left:
        solo.build(pop, left)


def _company(pop: Population, size: int) -> None:
    p = pop.pick
    ci = pop.country()
    name = p(WORDS_BIZ).capitalize() + p(WORDS_BIZ2).capitalize()
    domain = (
        name.lower()
        + p(["", "", "-hq", "app", "group"])
        + "."
        + p(["com", "com", "io", "co", "net", "ai", "de", "co.uk"])
    )
    industry = p(INDUSTRIES)
    product = p(PRODUCT_WORDS)
    ctx = (name, product, industry)
    cid = pop.gid("co")
    org = "org_" + pop.hex_token(8)
    isp = pop.isp(ci)
    nat = [pop.host_ip(isp) for _ in range(1 + (size > 40) + (size > 150) + (pop.rnd() < 0.2))]
    u = pop.rnd()
    for code in nat:
        asn = pop.net.ranges[pop.val_rid[code]].asn
        if u < 0.5:
            pop.net.overrides.append((pop.values[code], asn, "corporate"))
        elif u < 0.7:
            base = pop.values[code].rsplit(".", 1)[0] + ".0/24"
            pop.net.overrides.append((base, asn, "corporate"))
    corp_cards = [pop.card() for _ in range(1 + (size > 120))]
    vdi = pop.device() if pop.rnd() < 0.3 else None
    adopt = pop.benign_created()
    burst = size >= 10
    for _j in range(size):
        u = pop.rnd()
        if burst and u < 0.45:
            created = adopt + int(pop.rnd() * 8 * HOUR)
            has_org = True
        elif u < 0.6:
            created = T0 + int(pop.rnd() * max(adopt - T0, DAY))
            has_org = pop.rnd() < 0.5
        else:
            created = adopt + int(pop.r.expovariate(1 / (60 * DAY)))
            has_org = pop.rnd() < 0.95
        created = min(created, T1 - DAY)
        lo, hi = pop.window(created)
        hi = max(hi, min(T1 - MIN, lo + 60 * DAY))
        npr = pop.nprom(1.3)
        email = domain if pop.rnd() < 0.93 else pop.email_domain(ci)
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=email,
            nprom=npr,
            spec=(
                "b",
                pop.persona(
                    ci,
                    cats=["work", "email", "code", "summarize", "work", "ideas"],
                    company=(0.45, ctx),
                ),
            ),
            group="company",
            gid=cid,
            org=org if has_org else None,
            tmode=OFFICE if pop.rnd() < 0.75 else HUMAN,
        )

        def work(kk: int, a: int = a, lo: int = lo, hi: int = hi) -> int:
            return _obs_nat(pop, a, nat, lo, hi, kk)

        h = pop.home(ci) if pop.rnd() < 0.8 else None
        pop.person_net(
            a,
            ci,
            created,
            lo,
            hi,
            npr,
            h,
            mobile_p=0.4,
            vpn_p=0.04,
            extra=[(2.0, work)],
            signup_extra=u < 0.45,
        )
        devs = [vdi] if (vdi is not None and pop.rnd() < 0.6) else pop.person_devices()
        uu = pop.rnd()
        card = pop.pick(corp_cards) if uu < 0.75 else None
        pop.person_rest(
            a,
            ci,
            created,
            lo,
            hi,
            npr,
            devs=devs,
            card=card,
            card_p=0.4 if uu < 0.85 else 0.0,
            phone_p=0.25,
        )


def _obs_nat(pop: Population, a: int, nat: list[int], lo: int, hi: int, k: int) -> int:
    counts: dict[int, int] = {}
    for _ in range(k):
        c = nat[0] if pop.rnd() < 0.7 else pop.pick(nat)
        counts[c] = counts.get(c, 0) + 1
    for c, m in counts.items():
        pop.sig(a, IP, c, m, lo, hi, OFFICE)
    return nat[0]
