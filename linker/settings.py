"""Tunable parameters of a linkage run, with defaults meant to work untuned.

Every number here is documented in docs/linkage.md with the reason for its value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: How strongly one shared identifier of a kind suggests common control, before the
#: specificity discount. An identifier of an unlisted kind gets ``other``.
DEFAULT_KIND_WEIGHT: dict[str, float] = {
    "payment": 0.85,
    "device": 0.75,
    "email": 0.8,
    "phone": 0.8,
    "prompt_template": 0.8,
    "ip": 0.25,
    "ip_prefix": 0.08,
    "other": 0.6,
}

#: How fast the evidence of an identifier falls with the number of accounts sharing it
#: (the exponent of the specificity discount). Payment instruments are hardly ever
#: shared by strangers, so a card shared by a large ring keeps most of its weight;
#: addresses are shared by strangers all the time, so they fall fastest.
DEFAULT_SPECIFICITY_EXPONENT: dict[str, float] = {
    "payment": 0.15,
    "device": 0.2,
    "email": 0.2,
    "phone": 0.2,
    "prompt_template": 0.15,
    "ip": 0.4,
    "ip_prefix": 0.4,
    "other": 0.25,
}

#: Multiplier of ip / ip_prefix evidence by the category of the address (from ip_info).
#: Shared infrastructure (CGNAT, VPN exits, campus and office NATs) says little.
DEFAULT_IP_CATEGORY_FACTOR: dict[str, float] = {
    "datacenter": 1.3,
    "proxy": 1.2,
    "residential": 0.6,
    "unknown": 0.8,
    "corporate": 0.25,
    "education": 0.15,
    "vpn": 0.12,
    "mobile": 0.06,
}


@dataclass(frozen=True)
class LinkageSettings:
    """Parameters of the account projection."""

    kind_weight: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHT))
    ip_category_factor: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_IP_CATEGORY_FACTOR)
    )
    #: identifiers shared by at most this many accounts get no specificity discount
    specificity_free_degree: int = 4
    #: discount = (free_degree / degree) ** exponent[kind] above that
    specificity_exponent: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SPECIFICITY_EXPONENT)
    )
    #: kinds whose weight depends on corroboration (see linkage.corroboration)
    corroborated_kinds: tuple[str, ...] = ("payment", "device", "email", "phone")
    #: specificity exponent of an instrument whose sharers have nothing else in common
    uncorroborated_exponent: float = 0.6
    #: a shared identifier whose evidence is below this makes no pair at all
    min_contribution: float = 0.04
    #: pairs whose combined evidence is below this get no edge (one weak link never links)
    min_edge_weight: float = 0.2
    #: supernodes: identifiers with more accounts than this make no pairs (feature only)
    max_degree: int = 5000
    #: ... per kind, where it differs; None: never a supernode. Template families have
    #: no cap: their pair evidence is weighed by each member's strength (share of its
    #: prompts x variety; an SDK sample or a pasted homework question has ~0) and by
    #: time, and a campaign family, or one template shared by several campaigns, can
    #: have tens of thousands of senders (docs/linkage.md, "Supernodes and size")
    max_degree_by_kind: dict[str, int | None] = field(
        default_factory=lambda: {"prompt_template": None}
    )
    #: above this many accounts an identifier links each member to ``sparse_partners``
    #: random co-members instead of to all of them (a random expander, not a clique)
    dense_limit: int = 300
    sparse_partners: int = 24
    #: same IP within this window counts as simultaneous use
    sync_window_minutes: int = 15
    #: simultaneous use multiplies IP evidence by up to (1 + sync_boost)
    sync_boost: float = 1.0
    sync_saturation: int = 3
    #: kinds whose evidence decays with the time between the two accounts' use
    time_decay_kinds: tuple[str, ...] = ("ip", "ip_prefix", "prompt_template")
    #: evidence of an IP used by two accounts months apart halves every half-life
    gap_half_life_days: float = 30.0
    seed: int = 7

    def weight_of(self, kind: str) -> float:
        """The base weight of an identifier kind."""
        return self.kind_weight.get(kind, self.kind_weight["other"])

    def supernode_degree(self, kind: str) -> int:
        """Above how many accounts an identifier of ``kind`` makes no pairs (for a kind
        that is never a supernode, more accounts than any world has)."""
        cap = self.max_degree_by_kind.get(kind, self.max_degree)
        return np.iinfo(np.int64).max if cap is None else cap

    def exponent_of(self, kind: str) -> float:
        """The specificity exponent of an identifier kind."""
        return self.specificity_exponent.get(kind, self.specificity_exponent["other"])

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


@dataclass(frozen=True)
class CommunitySettings:
    """Parameters of community detection."""

    method: str = "leiden"  # leiden | louvain | components
    resolution: float = 1.0
    min_cluster_size: int = 2
    seed: int = 7
    #: a new cluster keeps an old id when it holds more than this share of the old members
    id_overlap: float = 0.5
    #: an account in no cluster joins the cluster that holds at least this share of the
    #: senders of a template family it sends, when the family is common in the cluster
    #: (see linker.communities.attach_by_family; 0 turns attachment off)
    attach_share: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)
