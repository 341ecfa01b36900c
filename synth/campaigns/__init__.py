"""Distillation campaigns, one module per tier: :mod:`.sloppy`, :mod:`.rotating`,
:mod:`.hydra`, :mod:`.reseller` (each a :class:`~.base.Tier`), and the steps they share
(:mod:`.build`)."""

from .base import Tier
from .build import TIER_CLASSES, build_campaign, build_campaigns, campaign_texts

__all__ = ["TIER_CLASSES", "Tier", "build_campaign", "build_campaigns", "campaign_texts"]
