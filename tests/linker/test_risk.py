"""Cluster risk: the score's direction and every reason string."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linker.scoring.features import (
    _prompt_cluster_features,
    family_use,
    instrument_reuse,
    participation,
)
from linker.scoring.model import account_risk_in_cluster, score, score_clusters
from linker.settings import RiskSettings

BASE = {
    "size": 40,
    "mean_weight": 0.5,
    "hosting_share": 0.0,
    "reuse_top": 0.0,
    "reuse_second": 0.0,
    "reuse_pair": 0.0,
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
        reuse_top=0.95,
        reuse_top_kind="payment",
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
        reuse_top=0.95,
        reuse_second=0.8,
        reuse_pair=0.95 * 0.8,
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
    for feature in ("hosting_share", "reuse_top", "reuse_second", "burst_2h", "intent_share"):
        low, high = score(_row(**{feature: 0.0}), settings), score(_row(**{feature: 1.0}), settings)
        assert high.iloc[0] > low.iloc[0], feature
    for feature in ("org_share", "benign_infra_share"):
        low, high = score(_row(**{feature: 0.0}), settings), score(_row(**{feature: 1.0}), settings)
        assert high.iloc[0] < low.iloc[0], feature


def test_flagged_follows_the_threshold() -> None:
    feats = pd.concat(
        [
            _row(),
            _row(hosting_share=1.0, reuse_top=1.0, reuse_second=1.0, reuse_pair=1.0, burst_2h=1.0),
        ],
        ignore_index=True,
    )
    out = score_clusters(feats, RiskSettings(threshold=0.5))
    assert out["flagged"].tolist() == [False, True]
    assert np.all((out["risk"] >= 0) & (out["risk"] <= 1))


# --- members' part in their cluster ------------------------------------------------


def _prompt_world(
    uses: list[tuple[int, str, int]], n_prompts: dict[int, int], intent: dict[int, float]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """memberships (account, kind, value, n_obs) of template uses, and prompt features."""
    memberships = pd.DataFrame(
        [(a, "prompt_template", t, n) for a, t, n in uses],
        columns=["account", "kind", "value", "n_obs"],
    )
    features = pd.DataFrame(
        {
            "n_prompts": pd.Series(n_prompts),
            "intent": pd.Series(intent).reindex(list(n_prompts)).fillna(0.0),
            "family": None,
            "family_variety": 1.0,
        }
    )
    return memberships, features


def test_campaign_with_several_templates_per_account_has_them_all_in_common() -> None:
    # cluster A: 20 campaign accounts, each spreads its 30 prompts over 3 templates;
    # 'everyday' is sent by 5 of them and by 200 strangers elsewhere
    uses = [(a, f"camp{a % 3 + k}", 6) for a in range(20) for k in range(3)]
    uses += [(a, "everyday", 1) for a in range(5)]
    uses += [(a, "everyday", 2) for a in range(100, 300)]
    n_prompts = {a: 30 for a in range(20)} | {a: 20 for a in range(100, 300)}
    memberships, features = _prompt_world(uses, n_prompts, {a: 0.7 for a in range(20)})
    members = pd.DataFrame({"account": range(20), "cluster": "A"})
    use = family_use(members, memberships, features)
    assert set(use["template"]) == {"camp0", "camp1", "camp2", "camp3", "camp4"}
    part = participation(use, members)
    assert np.allclose(part["common_share"], 18 / 30)
    assert np.allclose(part["ratio"], 1.0)
    assert (part["family_intent"] > 0.6).all()


def test_bystander_and_low_volume_member_in_a_template_cluster() -> None:
    # 12 campaign accounts send 'camp' heavily; account 12 sends it once of 3 prompts
    # (low volume, same behaviour); account 13 was pulled in and never sends it
    uses = [(a, "camp", 20) for a in range(12)] + [(12, "camp", 1)]
    n_prompts = {a: 25 for a in range(12)} | {12: 3, 13: 40}
    memberships, features = _prompt_world(uses, n_prompts, {a: 0.8 for a in range(13)})
    members = pd.DataFrame({"account": range(14), "cluster": "A"})
    part = participation(family_use(members, memberships, features), members)
    assert part.loc[12, "ratio"] < 1.0 and part.loc[12, "ratio"] > 0.3
    assert part.loc[13, "ratio"] == 0.0 and part.loc[13, "template_share"] == 0.0
    assert part.loc[0, "template_share"] > 0.8


def test_benign_family_inside_a_campaign_cluster_keeps_its_own_intent() -> None:
    # 30 campaign accounts (intent 0.9) and 6 developers sending the SDK sample
    # (intent 0), linked into one cluster by a proxy exit
    uses = [(a, "camp", 10) for a in range(30)] + [(a, "sdk", 10) for a in range(30, 36)]
    n_prompts = {a: 12 for a in range(36)}
    intent = {a: 0.9 for a in range(30)} | {a: 0.0 for a in range(30, 36)}
    memberships, features = _prompt_world(uses, n_prompts, intent)
    members = pd.DataFrame({"account": range(36), "cluster": "A"})
    part = participation(family_use(members, memberships, features), members)
    assert part.loc[0, "family_intent"] > 0.85
    assert part.loc[30, "family_intent"] == 0.0
    assert part.loc[30, "template_share"] < part.loc[0, "template_share"] / 3


def test_everyday_family_spread_over_the_population_is_common_nowhere() -> None:
    # 'email' is sent by 1000 accounts in 10 clusters of 100: no cluster holds it
    uses = [(a, "email", 3) for a in range(1000)]
    memberships, features = _prompt_world(uses, {a: 10 for a in range(1000)}, {})
    members = pd.DataFrame(
        {"account": range(1000), "cluster": [f"c{a // 100}" for a in range(1000)]}
    )
    assert family_use(members, memberships, features).empty


def _device_and_card_cluster(size: int, top: float, second: float, pair: float) -> pd.DataFrame:
    """Cluster "A"'s scored row: devices its most reused kind, cards the second."""
    row = {
        **BASE,
        "size": size,
        "reuse_top": top,
        "reuse_top_kind": "device",
        "reuse_second": second,
        "reuse_second_kind": "payment",
        "reuse_pair": pair,
        "hosting_share": 0.9,
    }
    return pd.DataFrame([row], index=["A"])


def test_member_sharing_no_instrument_does_not_carry_the_clusters_reuse() -> None:
    # a device farm of 10 accounts, plus one stranger linked by a recycled SMS number
    members = pd.DataFrame({"account": range(11), "cluster": "A"})
    memberships = pd.DataFrame(
        [(a, "device", 0) for a in range(10)]
        + [(a, "payment", 2) for a in range(10)]
        + [(10, "phone", 1), (0, "phone", 1)],
        columns=["account", "kind", "ident"],
    )
    scored = _device_and_card_cluster(11, top=0.9, second=0.9, pair=0.81)
    hosting = np.array([0.9] * 10 + [0.0])
    risk = account_risk_in_cluster(members, scored, hosting, None, RiskSettings(), memberships)
    assert risk[0] > 0.5
    assert risk[10] < 0.2


def test_member_carries_only_the_reuse_of_the_kinds_it_shares() -> None:
    # a device farm of 10 accounts (devices and cards shared), plus 6 developers on cloud
    # CI who share a popular laptop fingerprint among themselves inside the cluster:
    # they take part in its device reuse, not in its cards nor in the two together
    members = pd.DataFrame({"account": range(16), "cluster": "A"})
    memberships = pd.DataFrame(
        [(a, "device", 0) for a in range(10)]
        + [(a, "payment", 2) for a in range(10)]
        + [(a, "device", 3) for a in range(10, 16)]
        + [(15, "payment", 4)],
        columns=["account", "kind", "ident"],
    )
    scored = _device_and_card_cluster(16, top=1.0, second=0.625, pair=0.625)
    hosting = np.array([0.9] * 10 + [0.6] * 6)
    risk = account_risk_in_cluster(members, scored, hosting, None, RiskSettings(), memberships)
    assert risk[:10].min() > 0.5
    assert risk[10:].max() < 0.4
    # the cluster's device reuse still counts against them: more than with no share
    alone = memberships[memberships["account"] < 10]
    without = account_risk_in_cluster(members, scored, hosting, None, RiskSettings(), alone)
    assert (risk[10:] > without[10:]).all()


def test_a_re_sent_extraction_instruction_counts_as_coverage_a_repeated_sample_does_not() -> None:
    # 20 members each send one fixed text 8 times (variety ~0): an SDK sample when the
    # family carries no intent, a generation instruction re-sampled when it does
    uses = [(a, "fixed", 8) for a in range(20)]
    members = pd.DataFrame({"account": range(20), "cluster": "A"})
    coverage = {}
    for resample in (0.0, 1.0):
        memberships, features = _prompt_world(uses, {a: 10 for a in range(20)}, {})
        features = features.assign(
            family="fixed", family_variety=0.01, family_resample=resample, n_templates=1
        )
        use = family_use(members, memberships, features)
        found = _prompt_cluster_features(members, features, use, RiskSettings())
        coverage[resample] = found.loc["A", "template_coverage"]
    assert coverage[0.0] == pytest.approx(0.01 / RiskSettings().full_coverage_variety)
    assert coverage[1.0] == 1.0


def test_a_hub_value_shared_by_thousands_is_no_clusters_reuse() -> None:
    # cluster A: 100 accounts; 80 of them carry a processor token that 3,000 accounts
    # hold; cluster B: 30 accounts on one card nobody else has
    token = [(a, "payment", "tok", 0) for a in range(3000)]
    card = [(a, "payment", "card", 1) for a in range(5000, 5030)]
    memberships = pd.DataFrame(token + card, columns=["account", "kind", "value", "ident"])
    members = pd.DataFrame(
        {
            "account": [*range(80), *range(3000, 3020), *range(5000, 5030)],
            "cluster": ["A"] * 100 + ["B"] * 30,
        }
    )
    size = members.groupby("cluster").size()
    held = instrument_reuse(members, memberships, size, RiskSettings().held_instrument_share)
    assert held.loc["A", "reuse_top"] == 0.0
    assert held.loc["B", "reuse_top"] == 1.0
    # without the bar the token would read as 80% of cluster A sharing one instrument
    assert instrument_reuse(members, memberships, size).loc["A", "reuse_top"] == 0.8


def test_light_senders_sharing_a_template_weigh_less_than_an_extraction_job() -> None:
    # 30 members each send one template among 5 prompts; in the data three in four
    # accounts send at most 10, so the cluster's template evidence counts at half
    uses = [(a, "tpl", 3) for a in range(30)]
    n_prompts = {a: 5 for a in range(30)} | {a: 10 for a in range(100, 400)}
    memberships, features = _prompt_world(uses, n_prompts, {a: 0.5 for a in range(30)})
    features = features.assign(family="tpl", family_variety=1.0, n_templates=2)
    members = pd.DataFrame({"account": range(30), "cluster": "A"})
    use = family_use(members, memberships, features)
    found = _prompt_cluster_features(members, features, use, RiskSettings())
    assert found.loc["A", "prompt_volume"] == pytest.approx(0.5)
    row = {"template_share": 0.9, "template_coverage": 1.0, "intent_share": 0.5}
    light = score(_row(**row, prompt_volume=0.5), RiskSettings()).iloc[0]
    heavy = score(_row(**row, prompt_volume=1.0), RiskSettings()).iloc[0]
    assert heavy >= 0.5 > light


def test_a_campaigns_template_counts_its_own_intent_not_only_its_senders_cover() -> None:
    # 20 members send one family 8 times among 20 prompts each; the senders' own prompts
    # carry little intent (cover traffic), the family's own texts carry it all or none
    uses = [(a, "tpl", 8) for a in range(20)]
    members = pd.DataFrame({"account": range(20), "cluster": "A"})
    risk = {}
    for family_intent in (0.0, 1.0):
        memberships, features = _prompt_world(uses, {a: 20 for a in range(20)}, {})
        features = features.assign(
            intent=0.1, family="tpl", family_variety=0.5, family_intent=family_intent, n_templates=2
        )
        use = family_use(members, memberships, features)
        found = _prompt_cluster_features(members, features, use, RiskSettings())
        assert found.loc["A", "template_intent_rate"] == family_intent
        row = _row(size=20, **found.loc["A"].drop("top_template").astype(float).to_dict())
        risk[family_intent] = score(row, RiskSettings()).iloc[0]
    # without the family's intent the members' 10% is what counts
    no_rate = _row(
        size=20,
        **found.loc["A"].drop(["top_template", "template_intent_rate"]).astype(float).to_dict(),
    )
    no_rate["intent_share"] = 0.1
    assert score(no_rate, RiskSettings()).iloc[0] == pytest.approx(risk[0.0], abs=1e-9)
    assert risk[1.0] > risk[0.0] + 0.1


def test_template_evidence_counts_only_when_some_links_carry_more_than_text() -> None:
    # one template family with intent: strangers who paste a popular template are linked
    # by that text alone; a campaign's accounts share it and, here and there, a card, a
    # device or an address
    rs = RiskSettings()
    text = {"template_share": 0.9, "template_coverage": 1.0, "intent_share": 0.6}
    bar = rs.corroborated_share
    risks = {c: score(_row(**text, corroborated_links=c), rs).iloc[0] for c in (0.0, bar, 0.8)}
    assert risks[0.0] < rs.threshold <= risks[bar] == risks[0.8]
    halfway = score(_row(**text, corroborated_links=bar / 2), rs).iloc[0]
    assert risks[0.0] < halfway < risks[bar]
    # a features table written before the column scores as before
    assert score(_row(**text), rs).iloc[0] == risks[0.8]
    # with text alone, only the intent of the members' own prompts is left
    assert risks[0.0] == pytest.approx(score(_row(intent_share=0.6), rs).iloc[0])
