"""Developers: SDK quick-start samples right after signup, shared SDK client
fingerprints, hackathon sign-up bursts, CI runners on cloud IPs with cron-regular smoke
prompts, VPSs (sometimes next to a sloppy campaign's), agent and evaluation work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..population import DEV, IP, Population, zipf_cum
from ..text import AGENT_TOOLS, CRITERIA
from ..timing import DAY, HOUR, MACHINE, MIN, SEC, T0, T1

# popularity of the SDK quick-start samples (text.pools.SDK_SAMPLES, 10 of them)
_SDK_CUM = zipf_cum(10, 1.3)


def build(pop: Population, q: int) -> None:
    """Build ``q`` developer accounts."""
    hack = [T0 + int(pop.U(20, 340) * DAY) for _ in range(2 + int(pop.rnd() * 2))]
    sloppy_blocks = list(pop.sloppy_block.values())
    for _ in range(q):
        ci = pop.country()
        if pop.rnd() < 0.25:
            hk = int(pop.rnd() * len(hack))
            created = hack[hk] + int(pop.rnd() * 10 * HOUR)
            gid = f"hackathon-{hk}"
        else:
            created = pop.benign_created()
            gid = None
        lo, hi = pop.window(created)
        npr = pop.nprom(1.4)
        # Any: mypy checks a **dict against every keyword of persona, extra_kw included
        kw: dict[str, Any] = {}
        if pop.rnd() < 0.2:
            tools = ", ".join(pop.r.sample(AGENT_TOOLS, 2 + int(pop.rnd() * 4)))
            kw["agent_dev"] = (0.35, tools)
        if pop.rnd() < 0.06:
            crit = ", ".join(pop.r.sample(CRITERIA, 2 + int(pop.rnd() * 3)))
            fmt = pop.pick(
                [
                    "Reply in JSON.",
                    "Answer with a single integer.",
                    "Explain briefly, then give the score.",
                    "Use the format SCORE: <n>.",
                ]
            )
            kw["eval_"] = (0.55, (crit, fmt))
            npr = max(npr, int(pop.U(20, 200)))
        sample = pop.pick_cum(pop.tg.sdk_samples, _SDK_CUM)
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=pop.email_domain(ci),
            nprom=npr,
            spec=(
                "b",
                pop.persona(
                    ci,
                    cats=["code", "code", "code", "work", "ideas", "tech"],
                    sdk=(0.04, None),
                    **kw,
                ),
            ),
            group="developer",
            gid=gid or "sdk-quickstart",
        )
        # quick-start sample right after signup, verbatim
        t = created + int(pop.U(1, 40) * MIN)
        for _ in range(1 + (pop.rnd() < 0.4) + (pop.rnd() < 0.15)):
            pop.schedule(a, min(t, T1 - MIN), sample)
            t += int(pop.U(5, 300) * SEC)
        extra: list[tuple[float, Callable[..., int | None]]] = []
        devs = pop.person_devices()
        if pop.rnd() < 0.7:
            devs.append(pop.pick_cum(pop.sdk_dev.codes, pop.sdk_dev.cum))
        if pop.rnd() < 0.35:  # CI runner: cloud IPs, cron-regular smoke prompts
            _ci(pop, a, lo, hi)
        if pop.rnd() < 0.1:  # a VPS; sometimes in the same /24 a sloppy campaign rents
            if sloppy_blocks and pop.rnd() < 0.4:
                prov, bi = pop.pick(sloppy_blocks)
            else:
                prov = pop.pick(pop.hosting)
                bi = None
            vps = pop.host_ip(prov, bi)
            extra.append(
                (
                    1.0,
                    lambda kk, a=a, lo=lo, hi=hi, vps=vps: pop.sig(a, IP, vps, kk, lo, hi, MACHINE),
                )
            )
        h = pop.home(ci) if pop.rnd() < 0.85 else None
        pop.person_net(
            a, ci, created, lo, hi, npr, h, mobile_p=0.35, vpn_p=0.12, extra=extra or None
        )
        pop.person_rest(a, ci, created, lo, hi, npr, devs=devs, card_p=0.85, phone_p=0.3)


def _ci(pop: Population, a: int, lo: int, hi: int) -> None:
    cloud = pop.pick(pop.clouds)
    period = pop.pick([DAY, DAY, DAY, HOUR, 6 * HOUR, 12 * HOUR, 7 * DAY])
    dur = int(pop.U(7, 90) * DAY)
    start = lo + int(pop.rnd() * max(hi - lo - dur, HOUR))
    n = max(1, min(100, (min(hi, start + dur) - start) // period))
    smoke = pop.pick(pop.tg.ci_smoke)
    for i in range(n):
        pop.schedule(a, start + i * period + int(pop.r.gauss(0, 20) * SEC) % (45 * SEC), smoke)
    for _ in range(min(n, 3 + int(pop.rnd() * 12))):
        pop.sig(a, IP, pop.host_ip(cloud), 1 + pop.pois(0.5), start, start + n * period, MACHINE)
    pop.sig(
        a,
        DEV,
        pop.pick_cum(pop.sdk_dev.codes, pop.sdk_dev.cum),
        n,
        start,
        start + n * period,
        MACHINE,
    )
