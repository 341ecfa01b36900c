"""Mixed clusters scored by their involved core (linker/scoring/cores.py), with the
pipeline's own feature, scoring and member-scoring steps on a hand-built cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.scoring.cores import involved, rescore_cores
from linker.scoring.features import cluster_features
from linker.scoring.model import account_hosting_share, account_risk_in_cluster, score_clusters
from linker.settings import RiskSettings

RING, BYSTANDERS = range(16), range(16, 40)


def _world(n_bystanders_b: int = 4) -> tuple[pd.DataFrame, ...]:
    """Cluster A: 16 accounts on one card and one device, from datacenter addresses, plus
    24 bystanders on residential exits the ring also uses (nothing else shared). Cluster
    B: the same ring pattern (accounts 100-115) with ``n_bystanders_b`` bystanders."""
    rows = []
    for a in RING:
        rows += [(a, "payment", 0, 1), (a, "device", 1, 1), (a, "ip", 2, 3), (a, "ip", 3, 1)]
    rows += [(a, "ip", 3, 3) for a in BYSTANDERS]
    ring_b = range(100, 116)
    for a in ring_b:
        rows += [(a, "payment", 10, 1), (a, "device", 11, 1), (a, "ip", 12, 3)]
    rows += [(a, "ip", 13, 3) for a in range(116, 116 + n_bystanders_b)]
    memberships = pd.DataFrame(rows, columns=["account", "kind", "ident", "n_obs"])
    identifiers = pd.DataFrame(
        {"category": ["", "", "datacenter", "residential"] * 4, "asn": [0, 0, 1, 2] * 4}
    )
    members = pd.DataFrame(
        {
            "account": [*RING, *BYSTANDERS, *ring_b, *range(116, 116 + n_bystanders_b)],
            "cluster": ["A"] * 40 + ["B"] * (16 + n_bystanders_b),
            "attached": False,
        }
    )
    n = 116 + n_bystanders_b
    accounts = pd.DataFrame(
        {"created_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), "D")}
    )
    return members, memberships, identifiers, accounts


def test_a_campaign_hidden_by_bystanders_is_flagged_on_its_core() -> None:
    rs = RiskSettings()
    members, memberships, identifiers, accounts = _world()
    edges = pd.DataFrame({"a": [0], "b": [1], "weight": [1.0]})
    hosting = account_hosting_share(len(accounts), memberships, identifiers, rs)

    def features_of(part: pd.DataFrame, use: pd.DataFrame | None) -> pd.DataFrame:
        return cluster_features(part, accounts, edges, memberships, identifiers, None, use, rs)

    def context_of(part: pd.DataFrame, scored: pd.DataFrame, use: pd.DataFrame | None) -> pd.Series:
        return account_risk_in_cluster(part, scored, hosting, None, rs, memberships, use)

    feats = features_of(members, None)
    feats["n_attached"] = 0
    scored = score_clusters(feats, rs)
    assert scored.loc["A", "risk"] < rs.threshold <= scored.loc["B", "risk"]
    in_context = context_of(members, scored, None)
    assert (
        involved(members, memberships, None, rs).tolist()
        == [True] * 16 + [False] * 24 + [True] * 16 + [False] * 4
    )

    def rescore(settings: RiskSettings) -> tuple[pd.DataFrame, pd.Series]:
        return rescore_cores(
            members,
            members,
            scored,
            in_context,
            None,
            memberships,
            features_of,
            lambda f: score_clusters(f, settings),
            context_of,
            settings,
        )

    out, ctx = rescore(rs)
    # A takes its core's risk and says why; its ring is scored in the core's context,
    # its bystanders keep at most the whole cluster's risk
    assert out.loc["A", "risk"] >= rs.threshold and out.loc["A", "flagged"]
    assert out.loc["A", "reasons"][0].startswith("16 accounts of the 40 linked share")
    assert out.loc["A", "reason_features"][0]["features"]["core_size"] == 16
    assert (ctx[list(RING)] >= rs.threshold).all()
    assert (ctx[list(BYSTANDERS)] <= scored.loc["A", "risk"]).all()
    assert (ctx[list(BYSTANDERS)] < rs.threshold).all()
    # B stood flagged: nothing about it changes
    pd.testing.assert_series_equal(out.loc["B", scored.columns], scored.loc["B"], check_names=False)
    assert out["core_size"].to_dict() == {"A": 16, "B": 0}
    assert out.loc["A", "core_risk"] == out.loc["A", "risk"] and out.loc["B", "core_risk"] == 0
    b = members.loc[members["cluster"] == "B", "account"]
    assert ctx[b].equals(in_context[b])
    # a core below the minimum size is not scored apart
    few = rescore(RiskSettings(core_min_size=17))
    assert few[0].loc["A", "risk"] == scored.loc["A", "risk"]
