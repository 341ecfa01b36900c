"""The risk model: cluster risk from features, an account's risk in its cluster (its own
part in the evidence), and an account's own risk outside any cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.scoring.features import (
    family_use,
    instrument_kinds,
    participation,
    uses_in_cluster,
)
from linker.scoring.reasons import cluster_reasons
from linker.settings import RiskSettings


def score(features: pd.DataFrame, settings: RiskSettings) -> pd.Series:
    """Risk in [0, 1] per row of ``features`` (logistic in the weighted features)."""
    w = settings.weights
    z = np.full(len(features), w["bias"])
    for name, values in design(features, settings).items():
        z = z + w[name] * values
    return pd.Series(1 / (1 + np.exp(-z)), index=features.index)


def design(features: pd.DataFrame, settings: RiskSettings) -> dict[str, np.ndarray]:
    """Per weight of ``settings.weights`` (bias aside) that ``features`` can give, the
    value it multiplies in :func:`score`: the features as the risk model reads them
    (template evidence scaled by coverage, focus and volume; reuse and bursts ramped
    by the group's size). ``benchmarks/fit_weights.py`` fits the weights on these."""
    out: dict[str, np.ndarray] = {}
    for name in settings.weights:
        if name == "bias":
            continue
        if name == "size_log":
            values = np.log10(features["size"].to_numpy(float).clip(1))
        elif name == "sync_share" and "share_edges_ip" in features:
            values = features["share_edges_ip"].to_numpy(float)
        elif name in ("template_share", "template_intent") and "template_share" in features:
            coverage = features.get("template_coverage", pd.Series(1.0, index=features.index))
            focus = features.get("template_focus", pd.Series(1.0, index=features.index))
            volume = features.get("prompt_volume", pd.Series(1.0, index=features.index))
            values = (
                features["template_share"] * coverage.fillna(0) * focus.fillna(0) * volume.fillna(0)
            ).to_numpy(float)
            if "corroborated_links" in features:
                # text alone is what strangers who paste one popular template share
                beyond = features["corroborated_links"].fillna(0).to_numpy(float)
                values = values * np.clip(beyond / settings.corroborated_share, 0, 1)
            if name == "template_intent":
                # the members' intent, or the shared families' own when higher: a
                # campaign hides its extraction template among cover prompts
                intent = features.get("intent_share", pd.Series(0.0, index=features.index))
                rate = features.get("template_intent_rate", pd.Series(0.0, index=features.index))
                values = values * np.fmax(intent.to_numpy(float), rate.fillna(0).to_numpy(float))
        elif name in features:
            values = features[name].to_numpy(float)
        else:
            continue
        if name in ("burst_2h", "reuse_top", "reuse_second", "reuse_pair"):
            # a household of 2 "sharing" a card or signing up together says nothing
            values = values * np.clip(
                (features["size"].to_numpy(float) - settings.small_group_size)
                / settings.small_group_ramp,
                0,
                1,
            )
        out[name] = np.asarray(values, dtype=float)
    return out


def score_clusters(
    features: pd.DataFrame, settings: RiskSettings, template_examples: dict[str, str] | None = None
) -> pd.DataFrame:
    """Risk, flag and reasons per cluster; returns ``features`` with four columns added:
    ``risk``, ``flagged``, ``reasons`` (the texts) and ``reason_features`` (each reason
    as ``{"text", "features"}``: the numbers behind it)."""
    out = features.copy()
    out["risk"] = score(features, settings)
    out["flagged"] = out["risk"] >= settings.threshold
    reasons = [cluster_reasons(row, template_examples, settings) for _, row in out.iterrows()]
    out["reasons"] = [[r.text for r in rs] for rs in reasons]
    out["reason_features"] = pd.Series(
        [[r.to_dict() for r in rs] for rs in reasons], index=out.index, dtype=object
    )
    return out


def account_hosting_share(
    n_accounts: int,
    memberships: pd.DataFrame,
    identifiers: pd.DataFrame,
    settings: RiskSettings | None = None,
) -> np.ndarray:
    """Share of each account's IP observations from hosting networks (datacenter or
    proxy: ``RiskSettings.hosting_categories``)."""
    rs = settings or RiskSettings()
    ips = memberships[memberships["kind"] == "ip"]
    cat = identifiers["category"].to_numpy()[ips["ident"].to_numpy()]
    hosting = np.isin(cat, rs.hosting_categories) * ips["n_obs"].to_numpy()
    acc = ips["account"].to_numpy()
    tot = np.bincount(acc, weights=ips["n_obs"].to_numpy(float), minlength=n_accounts)
    host = np.bincount(acc, weights=hosting.astype(float), minlength=n_accounts)
    return np.divide(host, tot, out=np.zeros(n_accounts), where=tot > 0)


def account_risk_in_cluster(
    members: pd.DataFrame,
    scored: pd.DataFrame,
    hosting_share: np.ndarray,
    prompt_features: pd.DataFrame | None,
    settings: RiskSettings,
    memberships: pd.DataFrame | None = None,
    use: pd.DataFrame | None = None,
) -> pd.Series:
    """Risk of each clustered account: its cluster's features with the account's own
    participation in place of the cluster averages (how much it sends of the cluster's
    common template families, its own intent share, its own hosting share, whether it
    shares a card or a device with another member; ``memberships`` from the projection).
    A bystander pulled into a campaign cluster through a shared proxy exit or a recycled
    SMS-verification number scores lower than the campaign's accounts. A member marked
    ``attached`` in ``members`` (joined by a family alone) takes no part in the cluster's
    signup burst or shared addresses either. ``use`` is :func:`family_use` of the same
    inputs when the caller already has it. Returns a Series indexed by account."""
    acc = members["account"].to_numpy()
    frame = scored.loc[members["cluster"].to_numpy()].reset_index(drop=True)
    frame["hosting_share"] = hosting_share[acc]
    if "attached" in members:
        # joined by a family alone: no part in the core's signup burst or shared addresses
        alone = members["attached"].to_numpy(bool)
        for col in ("burst_2h", "share_edges_ip"):
            if col in frame:
                frame.loc[alone, col] = 0.0
    if memberships is not None:
        # the cluster's instrument reuse is evidence against the members that take part
        # in it: those sharing, inside the cluster, a value of one of the kinds that carry
        # it (its two most reused kinds); a stranger linked to a device farm by a recycled
        # phone number shares a phone, not the farm's devices or cards
        kinds = instrument_kinds(memberships)
        # column k: whether each member shares a value of kinds[k] inside; last: none
        shares = np.column_stack(
            [
                *(shares_inside(members, memberships, k, settings) for k in kinds),
                np.zeros(len(members)),
            ]
        )
        # each kind's reuse counts against the members sharing that kind, the two kinds
        # together against those sharing both: developers on a popular laptop
        # fingerprint inside a device-and-card farm's cluster share devices, not its cards
        column = {k: i for i, k in enumerate(kinds)}
        took: dict[str, np.ndarray] = {}
        for col in ("reuse_top", "reuse_second"):
            pick = np.full(len(members), len(kinds))
            if f"{col}_kind" in frame:
                pick = frame[f"{col}_kind"].map(column).fillna(len(kinds)).to_numpy(int)
            took[col] = shares[np.arange(len(members)), pick]
            frame[col] = frame[col].to_numpy(float) * took[col]
        both = took["reuse_top"] * took["reuse_second"]
        frame["reuse_pair"] = frame["reuse_pair"].to_numpy(float) * both
    if prompt_features is not None and "template_share" in frame and memberships is not None:
        if use is None:
            use = family_use(members, memberships, prompt_features, settings)
        part = participation(use, members, settings)
        own = prompt_features["intent"].reindex(acc).fillna(0).to_numpy(float)
        # sending a family carries its intent: a low-volume account's own share (one of
        # three prompts) is noise, its participation is not
        frame["intent_share"] = np.maximum(own, part["family_intent"].to_numpy())
        frame["template_share"] = part["template_share"].to_numpy()
    return pd.Series(score(frame, settings).to_numpy(), index=acc)


def shares_inside(
    members: pd.DataFrame, memberships: pd.DataFrame, kind: str, settings: RiskSettings
) -> np.ndarray:
    """Per row of ``members``: 1.0 when the account shares an identifier of ``kind`` with
    another member of its cluster's linked core that the cluster holds
    (:func:`uses_in_cluster`, measured on the core as the cluster's features are), else
    0.0; members marked ``attached`` neither share nor count."""
    core = members[~members["attached"].to_numpy(bool)] if "attached" in members else members
    mem = uses_in_cluster(core, memberships, kind, settings.held_instrument_share)
    sharing = mem.loc[mem["n"] >= 2, "account"]
    return members["account"].isin(sharing).to_numpy(float)


def instrument_excess(
    n_accounts: int, memberships: pd.DataFrame, settings: RiskSettings
) -> tuple[np.ndarray, list[str]]:
    """Per account, how far its count of distinct values of one instrument kind lies
    above that kind's ``own_instrument_quantile`` among the accounts holding the kind,
    in [0, 1] (1 at ``own_instrument_ratio`` times the quantile; the largest over
    kinds), and a plain-language line for each account above it ("" otherwise). The bar
    comes from this data: what is many cards here is measured against these accounts."""
    excess = np.zeros(n_accounts)
    why = np.full(n_accounts, "", dtype=object)
    for kind in instrument_kinds(memberships):
        acc = memberships.loc[memberships["kind"].to_numpy() == kind, "account"].to_numpy()
        counts = np.bincount(acc, minlength=n_accounts)
        holders = counts[counts > 0]
        if len(holders) < 20:
            continue
        bar = max(float(np.quantile(holders, settings.own_instrument_quantile)), 1.0)
        ratio = counts / bar
        part = np.clip(np.log(np.maximum(ratio, 1.0)) / np.log(settings.own_instrument_ratio), 0, 1)
        better = part > excess
        excess = np.where(better, part, excess)
        why = np.where(
            better & (part > 0),
            np.char.add(
                np.char.add(counts.astype(str), f" distinct {kind} values; "),
                f"{100 * settings.own_instrument_quantile:g}% of accounts with {kind} "
                f"have at most {bar:g}",
            ).astype(object),
            why,
        )
    return excess, why.tolist()


def own_risk(
    hosting_share: np.ndarray,
    prompt_features: pd.DataFrame | None,
    settings: RiskSettings,
    excess: np.ndarray | None = None,
) -> np.ndarray:
    """Risk of each account from its own signals: hosting share
    (:func:`account_hosting_share`) and prompt intent, capped at ``own_risk_cap``; and,
    uncapped, its instrument excess (:func:`instrument_excess`)."""
    n_accounts = len(hosting_share)
    w = settings.weights
    z = w["bias"] + w["hosting_share"] * hosting_share
    if prompt_features is not None and not prompt_features.empty:
        intent = prompt_features["intent"].reindex(range(n_accounts)).fillna(0).to_numpy()
        z = z + w["intent_share"] * intent
    capped = np.minimum(1 / (1 + np.exp(-z)), settings.own_risk_cap)
    if excess is None or "instrument_excess" not in w:
        return capped
    alone = 1 / (1 + np.exp(-(w["bias"] + w["instrument_excess"] * excess)))
    return np.where(excess > 0, np.maximum(capped, alone), capped)
