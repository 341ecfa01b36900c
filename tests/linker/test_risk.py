"""Cluster risk: the score's direction and every reason string."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.risk import RiskSettings, reasons_for, score, score_clusters

BASE = {
    "size": 40,
    "mean_weight": 0.5,
    "hosting_share": 0.0,
    "device_reuse": 0.0,
    "payment_reuse": 0.0,
    "burst_2h": 0.0,
    "template_share": 0.0,
    "template_coverage": 0.0,
    "intent_share": 0.0,
    "org_share": 0.0,
    "benign_infra_share": 0.0,
    "prompt_diversity": 0.8,
    "share_edges_ip": 0.0,
}


def _row(**changes: float) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **changes}])


def test_company_behind_one_nat_with_one_card_is_low_risk() -> None:
    company = _row(
        size=250,
        payment_reuse=0.95,
        payment_shared_accounts=238,
        n_payment=1,
        org_share=0.92,
        benign_infra_share=0.8,
        burst_2h=0.15,
        prompt_diversity=0.85,
    )
    assert score(company, RiskSettings()).iloc[0] < 0.1


def test_sloppy_campaign_is_high_risk() -> None:
    ring = _row(
        size=600,
        hosting_share=0.97,
        device_reuse=0.95,
        payment_reuse=0.8,
        burst_2h=0.45,
        prompt_diversity=0.3,
    )
    assert score(ring, RiskSettings()).iloc[0] > 0.9


def test_template_with_intent_raises_risk_more_than_template_alone() -> None:
    alone = score(_row(template_share=0.7, template_coverage=1.0), RiskSettings()).iloc[0]
    intent = score(
        _row(template_share=0.7, template_coverage=1.0, intent_share=0.6), RiskSettings()
    ).iloc[0]
    repeated_text = score(_row(template_share=0.7, template_coverage=0.0), RiskSettings()).iloc[0]
    assert repeated_text < alone < intent
    assert intent >= 0.5 > alone


def test_score_rises_with_each_operator_signal() -> None:
    settings = RiskSettings()
    for feature in ("hosting_share", "device_reuse", "payment_reuse", "burst_2h", "intent_share"):
        low, high = score(_row(**{feature: 0.0}), settings), score(_row(**{feature: 1.0}), settings)
        assert high.iloc[0] > low.iloc[0], feature
    for feature in ("org_share", "benign_infra_share"):
        low, high = score(_row(**{feature: 0.0}), settings), score(_row(**{feature: 1.0}), settings)
        assert high.iloc[0] < low.iloc[0], feature


def test_every_reason_string() -> None:
    row = pd.Series(
        {
            **BASE,
            "size": 41,
            "template_share": 0.5,
            "top_template": "pt_1",
            "intent_share": 0.46,
            "payment_shared_accounts": 41,
            "n_payment": 3,
            "device_shared_accounts": 30,
            "n_device": 4,
            "hosting_share": 0.86,
            "hosting_asns": 2,
            "burst_2h": 0.85,
            "org_share": 0.9,
            "benign_infra_share": 0.6,
        }
    )
    reasons = reasons_for(row, {"pt_1": "explain step by step the reasoning behind <num>"})
    assert reasons == [
        "20 of 41 accounts send variants of 'explain step by step the reasoning behind <num>'",
        "46% of prompts ask for reasoning traces, grading or rewrites (distillation intent)",
        "41 accounts share 3 payment instruments",
        "30 accounts share 4 devices",
        "86% of traffic from 2 datacenter/proxy ASNs",
        "35 of 41 signups within 2 hours",
        "90% of accounts belong to one organisation",
        "60% of traffic from office, campus or mobile-carrier networks",
    ]
    plain = reasons_for(pd.Series({**BASE, "size": 3, "mean_weight": 0.42}))
    assert plain == ["3 accounts linked by shared identifiers (mean link weight 0.42)"]


def test_flagged_follows_the_threshold() -> None:
    feats = pd.concat(
        [_row(), _row(hosting_share=1.0, device_reuse=1.0, payment_reuse=1.0, burst_2h=1.0)],
        ignore_index=True,
    )
    out = score_clusters(feats, RiskSettings(threshold=0.5))
    assert out["flagged"].tolist() == [False, True]
    assert np.all((out["risk"] >= 0) & (out["risk"] <= 1))
