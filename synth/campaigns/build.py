"""The steps every campaign shares: window, template families and houses, claimed
identity (countries, free-mail mixture), operators' time zone, prompt rates, and the
accounts; the tier class (:mod:`.sloppy`, :mod:`.rotating`, :mod:`.hydra`,
:mod:`.reseller`) supplies the rest. Also the campaign prompts of an account."""

from __future__ import annotations

import bisect
import math
from typing import Any

from ..population import TIERS, Campaign, Population, cumulative
from ..text import FAMILY_NAMES, TextGen
from ..text.pools import FAMILY_WEIGHTS
from ..timing import DAY, HOUR, SEC, T0, T1
from ..vocab import FREE_MAIL
from .base import Tier
from .hydra import Hydra
from .reseller import Reseller
from .rotating import Rotating
from .sloppy import Sloppy

TIER_CLASSES: dict[str, type[Tier]] = {t.name: t for t in (Sloppy, Rotating, Hydra, Reseller)}
if tuple(TIER_CLASSES) != TIERS:  # the draw order of build_campaign depends on it
    raise RuntimeError(f"tier classes {tuple(TIER_CLASSES)} are not in TIERS order {TIERS}")


def build_campaigns(pop: Population, plan: dict[str, Any]) -> None:
    """Build every campaign of the plan, in plan order."""
    for j, (tier, size) in enumerate(zip(plan["camp_tiers"], plan["camp_sizes"], strict=False)):
        build_campaign(pop, j, tier, size)


def build_campaign(pop: Population, j: int, tier: str, size: int) -> None:
    """Build campaign ``j`` of ``size`` accounts of the given tier."""
    r, rnd, p = pop.r, pop.rnd, pop.pick
    cls = TIER_CLASSES[tier]
    cid = "cmp-" + pop.hex_token(3)
    # Tier parameters are drawn for every tier, in TIERS order, and this tier's value kept:
    # the random stream (and so every world of every seed) depends on that order.
    dur = {name: t.draw_days(pop) for name, t in TIER_CLASSES.items()}[tier] * DAY
    start = T0 + 15 * DAY + int(rnd() * (T1 - T0 - 20 * DAY - dur))
    end = int(start + dur)
    nfam = {name: t.draw_families(pop) for name, t in TIER_CLASSES.items()}[tier]
    fams: list[str] = []
    while len(fams) < nfam:
        f = r.choices(FAMILY_NAMES, weights=[FAMILY_WEIGHTS[x] for x in FAMILY_NAMES])[0]
        if f not in fams:
            fams.append(f)
    houses = [pop.tg.make_house(f, n_pool=6 + int(rnd() * 12)) for f in fams]
    camp = Campaign(
        cid,
        tier,
        size,
        start,
        end,
        houses,
        cumulative([rnd() + 0.3 for _ in fams]),
        cls.mode,
        topic_chunk=4 + int(rnd() * 12),
    )
    pop.campaigns.append(camp)
    # claimed identity: countries and a skewed (but ordinary) free-mail mixture
    cset = [pop.country() for _ in range(1 + int(rnd() * 3))]
    mw = [w * r.gammavariate(0.6, 1.0) + 1e-6 for _, w in FREE_MAIL]
    mcum = cumulative(mw)
    op_tz = p([8, 8, 3, 2, 1, 5, 7, -5, 0, 9])  # where the operators actually sit
    base_iv = {name: t.draw_interval(pop) for name, t in TIER_CLASSES.items()}[tier] * SEC
    med = cls.median_prompts * pop.U(0.7, 1.4)
    sig_ = cls.sigma
    crew = cls(pop, j, size, cset, start, end, dur)
    crew.setup()
    # ---- accounts
    for i in range(size):
        ci = crew.country()
        created, lo, hi, aged = crew.times()
        hi = max(hi, lo + 2 * HOUR)
        email = (
            pop.pick_cum(pop.mail_names, mcum)
            if (rnd() < 0.88 or not pop.c_prov[ci])
            else p(pop.c_prov[ci])
        )
        npr = max(3, min(800, round(r.lognormvariate(math.log(med), sig_))))
        if cls.reserve_accounts and rnd() < 0.04:  # reserve account, never (yet) used
            npr = 0
        a = pop.acct(
            created=created,
            lo=lo,
            hi=hi,
            ci=ci,
            email=email,
            nprom=npr,
            spec=("c", camp, i, int(rnd() * 2)),
            group="campaign",
            gid=cid,
            label="sybil",
            cid=cid,
            tier=tier,
            tz=crew.account_tz(op_tz),
            tmode=cls.tmode,
            interval=int(base_iv * pop.U(0.95, 1.05)),
            runlen=8 + int(rnd() * 50),
        )
        camp.accounts.append(a)
        lo, hi = pop.a_lo[a], pop.a_hi[a]
        k_ip = pop.ip_budget(npr)
        crew.observe(a, ci, created, lo, hi, npr, k_ip, aged)


def campaign_texts(tg: TextGen, camp: Campaign, slot: int, alt: int, n: int) -> list[str]:
    """The ``n`` prompts of account ``slot`` of a campaign (``alt``: which of the two
    phrasings a ``limited`` campaign's account uses)."""
    rnd = tg.rnd
    out = []
    cover = TIER_CLASSES[camp.tier].cover
    base_k = slot * camp.topic_chunk
    cum = camp.fam_cum
    houses = camp.houses
    for i in range(n):
        if cover and rnd() < cover:
            out.append(tg.generic())
            continue
        u = rnd()
        h = houses[bisect.bisect_left(cum, u)]
        mode = camp.mode
        if mode == "limited" and rnd() < 0.3:
            mode = "paraphrase"
        out.append(tg.campaign_prompt(h, mode, base_k + i, alt))
    return out
