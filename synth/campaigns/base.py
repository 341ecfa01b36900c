"""What every campaign tier module provides: :class:`Tier`.

A tier is a class: its class attributes are the tier's parameters, and one instance per
campaign builds the campaign's infrastructure (:meth:`Tier.setup`), places each account
in time (:meth:`Tier.times`) and records what the world observes of it
(:meth:`Tier.observe`). :mod:`.build` runs the steps every campaign shares.
"""

from __future__ import annotations

from typing import ClassVar

from ..population import Pool, Population, zipf_cum


def zipf_pool(codes: list[int]) -> Pool:
    """A campaign's own pool (cards, devices, IPs, phones): a few values carry most use."""
    return Pool(codes, zipf_cum(len(codes), 0.7))


class Tier:
    """One campaign of a tier (subclasses set the parameters and the three steps)."""

    name: ClassVar[str]
    mode: ClassVar[str]  # how its prompts are written (text.campaign.campaign_prompt)
    cover: ClassVar[float] = 0.0  # share of generic cover prompts
    days: ClassVar[tuple[float, float]]  # campaign duration range
    interval_s: ClassVar[tuple[float, float] | float]  # base prompt interval (range or fixed)
    median_prompts: ClassVar[int]  # median prompts per account (times U(0.7, 1.4))
    sigma: ClassVar[float]  # log-normal sigma of prompts per account
    tmode: ClassVar[int]  # timing mode of its prompts (synth.timing)
    reserve_accounts: ClassVar[bool] = True  # about 4% of its accounts never send a prompt

    # Class-level draws. The campaign flow draws these for *every* tier, in TIERS order,
    # and keeps this tier's value (see build.build_campaign).
    @classmethod
    def draw_days(cls, pop: Population) -> float:
        return pop.U(*cls.days)

    @classmethod
    def draw_families(cls, pop: Population) -> int:
        """How many template families the campaign uses."""
        raise NotImplementedError

    @classmethod
    def draw_interval(cls, pop: Population) -> float:
        iv = cls.interval_s
        return pop.U(*iv) if isinstance(iv, tuple) else iv

    def __init__(
        self, pop: Population, j: int, size: int, cset: list[int], start: int, end: int, dur: float
    ) -> None:
        self.pop = pop
        self.j = j  # the campaign's index in the plan
        self.size = size
        self.cset = cset  # the countries its accounts claim
        self.start = start
        self.end = end
        self.dur = dur

    def setup(self) -> None:
        """Build the campaign's infrastructure (before any account)."""

    def country(self) -> int:
        """The country an account claims."""
        return self.pop.pick(self.cset)

    def times(self) -> tuple[int, int, int, bool]:
        """``(created, lo, hi, aged)`` of the next account: signup, activity window, and
        whether it was created long before the campaign started."""
        raise NotImplementedError

    def account_tz(self, op_tz: int) -> int:
        """The UTC offset an account's activity follows (the operators' by default)."""
        return op_tz

    def observe(
        self, a: int, ci: int, created: int, lo: int, hi: int, npr: int, k_ip: int, aged: bool
    ) -> None:
        """Record the account's cards, devices, IPs, phones (and scheduled prompts)."""
        raise NotImplementedError
