"""Universities: students on campus NAT and dorm addresses, lab machines, university
email domains, sign-ups at semester start, and homework pasted near deadlines."""

from __future__ import annotations

from ..population import IP, Pool, Population, cumulative, zipf_cum
from ..timing import DAY, HOUR, HUMAN, MIN, T0, T1
from ..vocab import COURSES, UNI_DOMAIN_SUFFIX, UNI_NAMES


def build(pop: Population, q: int) -> None:
    """Build ``q`` student accounts spread over a few universities."""
    n_uni = max(1, round(q / pop.U(400, 900)))
    cum = cumulative([pop.rnd() + 0.4 for _ in range(n_uni)])
    sizes, prev = [], 0.0
    for c in cum:
        sizes.append(round(q * (c - prev)))
        prev = c
    sizes[-1] += q - sum(sizes)
    for s in sizes:
        if s > 0:
            _university(pop, s)


def _university(pop: Population, size: int) -> None:
    r, p = pop.r, pop.pick
    ci = pop.c_index[
        p(
            [
                "US",
                "US",
                "GB",
                "IN",
                "DE",
                "CA",
                "AU",
                "BR",
                "JP",
                "KR",
                "FR",
                "NL",
                "SG",
                "MX",
                "ES",
            ]
        )
    ]
    cc = pop.c_code[ci]
    uname = p(["University of ", "", "", "Institute of Technology "]) + p(UNI_NAMES)
    slug = uname.split()[-1].lower().replace(".", "")
    dom = slug + "." + UNI_DOMAIN_SUFFIX.get(cc, "edu")
    doms = [dom, "student." + dom, "mail." + dom] if pop.rnd() < 0.5 else [dom]
    uid = pop.gid("uni")
    aggregate = pop.rnd() < 0.5
    prov = pop.net.provider(
        "edu",
        cc,
        256 if aggregate else 2 + int(pop.rnd() * 5),
        "education",
        p_prefix=0.85,
        p_exact=0.05,
        aggregate=aggregate,
        v6=pop.rnd() < 0.5,
    )
    nat = Pool([pop.host_ip(prov) for _ in range(3 + int(pop.rnd() * 6))], zipf_cum(1, 1.0))
    nat.cum = zipf_cum(len(nat.codes), 0.8)
    labs = Pool([pop.device() for _ in range(10 + int(pop.rnd() * 30))], [])
    labs.cum = zipf_cum(len(labs.codes), 0.5)
    # courses with assignments (deadline, text)
    courses = []
    for c in r.sample(COURSES, min(len(COURSES), 4 + size // 60)):
        assigns = []
        for s0, s1 in (
            (T0, T0 + 45 * DAY),
            (T0 + 80 * DAY, T0 + 190 * DAY),
            (T1 - 55 * DAY, T1 - 2 * DAY),
        ):
            t = s0 + int(pop.rnd() * 10 * DAY)
            while t < s1:
                assigns.append((t, pop.tg.homework_text(c)))
                t += int(pop.U(9, 18) * DAY)
        courses.append(assigns)
    sem_starts = [T0 + 72 * DAY, T1 - 61 * DAY]  # mid-January, start of September
    for _ in range(size):
        u = pop.rnd()
        if u < 0.65:
            created = pop.pick(sem_starts) + int(pop.r.expovariate(1 / (4 * DAY)))
        else:
            created = pop.benign_created()
        created = min(created, T1 - DAY)
        lo, hi = pop.window(created)
        npr = pop.nprom(1.1)
        email = p(doms) if pop.rnd() < 0.7 else pop.email_domain(ci)
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
                    cats=["study", "study", "code", "creative", "summarize", "language", "fun"],
                    stepwise=(0.12, None),
                ),
            ),
            group="university",
            gid=uid,
        )
        dorm = pop.host_ip(prov) if pop.rnd() < 0.4 else None

        def campus(kk: int, a: int = a, lo: int = lo, hi: int = hi, dorm: int | None = dorm) -> int:
            if dorm is None or pop.rnd() < 0.6:
                return pop.obs_pool(a, nat, lo, hi, kk)
            pop.sig(a, IP, dorm, kk, lo, hi, HUMAN)
            return dorm

        h = pop.home(ci) if pop.rnd() < 0.5 else None
        pop.person_net(
            a,
            ci,
            created,
            lo,
            hi,
            npr,
            h,
            mobile_p=0.6,
            vpn_p=0.06,
            extra=[(1.5, campus)],
            signup_extra=h is None or u < 0.65,
        )
        devs = pop.person_devices()
        if pop.rnd() < 0.3:
            devs.append(pop.pick_cum(labs.codes, labs.cum))
        pop.person_rest(a, ci, created, lo, hi, npr, devs=devs, card_p=0.35, phone_p=0.3)
        for assigns in r.sample(courses, min(len(courses), 1 + int(pop.rnd() * 3))):
            for dl, text in assigns:
                if created < dl - HOUR and dl < hi and pop.rnd() < 0.35:
                    t = dl - int(pop.rnd() * 72 * HOUR)
                    pop.schedule(a, max(t, created + MIN), pop.tg.homework_copy(text))
