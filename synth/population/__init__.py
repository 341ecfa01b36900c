"""The shared core of the population builders: :class:`Population` (the world's state,
its primitives, the shared infrastructure and the person helpers) and the records and
codes the builders share. The groups are built by :mod:`synth.benign` (one module per
benign group) and the campaigns by :mod:`synth.campaigns` (one module per tier)."""

from .builder import Population
from .common import (
    BENIGN_GROUPS,
    DEV,
    IP,
    KINDS,
    PAY,
    PHONE,
    TIERS,
    Campaign,
    Home,
    Pool,
    cumulative,
    zipf_cum,
)

__all__ = [
    "BENIGN_GROUPS",
    "DEV",
    "IP",
    "KINDS",
    "PAY",
    "PHONE",
    "TIERS",
    "Campaign",
    "Home",
    "Pool",
    "Population",
    "cumulative",
    "zipf_cum",
]
