"""Cluster features measured on the members the graph linked: identifier reuse, timing,
IP context, template families held by the cluster and each member's part in them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.clustering.attach import common_in_cluster
from linker.settings import RiskSettings, is_instrument

HOUR_S = 3600


def _share_in_window(cluster: np.ndarray, seconds: np.ndarray, window: int) -> pd.Series:
    """Per cluster, the largest share of members whose times fall in one ``window``."""
    codes, names = pd.factorize(cluster)
    order = np.lexsort((seconds, codes))
    c, t = codes[order], seconds[order]
    key = c.astype(np.float64) * 1e11 + t
    ends = np.searchsorted(key, key + window, side="right")
    in_window = ends - np.arange(len(key))
    best = pd.Series(in_window).groupby(c).max()
    sizes = pd.Series(c).value_counts()
    share = best / sizes.reindex(best.index)
    share.index = np.asarray(names)[share.index.to_numpy()]
    return share


def uses_in_cluster(
    members: pd.DataFrame, memberships: pd.DataFrame, kind: str, held_share: float = 0.0
) -> pd.DataFrame:
    """Members' identifiers of ``kind``: (account, ident, cluster, n), ``n`` being how many
    members of the account's cluster use that identifier, or 1 when the cluster holds
    less than ``held_share`` of the identifier's holders in the whole data: a payment
    processor's token or a popular device fingerprint that thousands share is no
    cluster's own, however many of them land in one cluster."""
    mem = memberships.loc[memberships["kind"] == kind, ["account", "ident"]]
    holders = mem.groupby("ident")["account"].transform("size")
    mem = mem.assign(holders=holders).merge(members, on="account")
    mem["n"] = mem.groupby(["cluster", "ident"])["account"].transform("size")
    if held_share > 0:
        mem.loc[mem["n"] < held_share * mem["holders"], "n"] = 1
    return mem.drop(columns="holders")


def _identifier_reuse(
    members: pd.DataFrame, memberships: pd.DataFrame, kind: str, held_share: float
) -> pd.DataFrame:
    """Per cluster: distinct identifiers of ``kind``, members on one shared inside the
    cluster (and held by it: :func:`uses_in_cluster`), and the most members on a single
    such identifier."""
    mem = uses_in_cluster(members, memberships, kind, held_share)
    g = mem.groupby("cluster")
    return pd.DataFrame(
        {
            f"n_{kind}": g["ident"].nunique(),
            f"{kind}_shared_accounts": mem[mem["n"] >= 2].groupby("cluster")["account"].nunique(),
            f"{kind}_max_accounts": g["n"].max(),
        }
    )


def instrument_kinds(memberships: pd.DataFrame) -> list[str]:
    """The instrument kinds present (every kind but the linker's own roles), sorted."""
    kinds = pd.unique(memberships["kind"])
    return sorted(str(k) for k in kinds[is_instrument(kinds)])


def instrument_reuse(
    members: pd.DataFrame, memberships: pd.DataFrame, size: pd.Series, held_share: float = 0.0
) -> pd.DataFrame:
    """Per cluster and instrument kind: distinct values, members on a value shared inside
    the cluster (``{kind}_shared_accounts``, ``{kind}_reuse`` as a share of ``size``) and
    the most members on one value; then, whatever the kinds are called, the strongest
    kind's reuse (``reuse_top``), the second kind's (``reuse_second``), both together
    (``reuse_pair``: two independent kinds agree) and the two kinds' names."""
    parts = [pd.DataFrame(index=size.index)]
    kinds = instrument_kinds(memberships)
    for kind in kinds:
        reuse = _identifier_reuse(members, memberships, kind, held_share).reindex(size.index)
        reuse[f"{kind}_reuse"] = reuse[f"{kind}_shared_accounts"].fillna(0) / size
        parts.append(reuse)
    out = pd.concat(parts, axis=1)
    shares = np.column_stack(
        [out[f"{k}_reuse"].to_numpy(float) for k in kinds] or [np.zeros((len(out), 0))]
    )
    if shares.shape[1] < 2:
        shares = np.column_stack([shares, np.zeros((len(out), 2 - shares.shape[1]))])
    order = np.argsort(-shares, axis=1, kind="stable")
    ranked = np.take_along_axis(shares, order, axis=1)
    names = np.array([*kinds, "", ""], dtype=object)
    out["reuse_top"] = ranked[:, 0]
    out["reuse_second"] = ranked[:, 1]
    out["reuse_pair"] = ranked[:, 0] * ranked[:, 1]
    out["reuse_top_kind"] = np.where(ranked[:, 0] > 0, names[order[:, 0]], "")
    out["reuse_second_kind"] = np.where(ranked[:, 1] > 0, names[order[:, 1]], "")
    return out


def cluster_features(
    members: pd.DataFrame,
    accounts: pd.DataFrame,
    edges: pd.DataFrame,
    memberships: pd.DataFrame,
    identifiers: pd.DataFrame,
    prompt_features: pd.DataFrame | None = None,
    use: pd.DataFrame | None = None,
    settings: RiskSettings | None = None,
) -> pd.DataFrame:
    """Features of every cluster, one row per cluster id.

    ``members`` is (account, cluster) for clustered accounts (account = row index
    into ``accounts``); ``edges``, ``memberships`` and ``identifiers`` come from the
    projection; ``prompt_features`` is per account (index = account) when prompts exist.
    """
    rs = settings or RiskSettings()
    size = members.groupby("cluster").size().rename("size")
    feats = pd.DataFrame(size)
    cmap = pd.Series(members["cluster"].to_numpy(), index=members["account"].to_numpy())
    ca = cmap.reindex(edges["a"].to_numpy()).to_numpy()
    cb = cmap.reindex(edges["b"].to_numpy()).to_numpy()
    inner = edges[(ca == cb) & pd.notna(ca)].assign(cluster=ca[(ca == cb) & pd.notna(ca)])
    g = inner.groupby("cluster")
    feats["n_edges"] = g.size()
    feats["density"] = feats["n_edges"] / (feats["size"] * (feats["size"] - 1) / 2)
    feats["mean_weight"] = g["weight"].mean()
    feats["strong_share"] = g["weight"].apply(lambda w: float((w >= rs.strong_edge_weight).mean()))
    for col in [c for c in edges.columns if c.startswith("ev_")]:
        feats[f"share_edges_{col[3:]}"] = (inner[col] > 0).groupby(inner["cluster"]).mean()
    # share of links that carry more than prompt text (strangers who paste one popular
    # template are linked by text alone)
    other = [c for c in edges.columns if c.startswith("ev_") and c != "ev_prompt_template"]
    beyond = (inner[other].to_numpy() > 0).any(axis=1) if other else np.zeros(len(inner), bool)
    beyond_text = pd.Series(beyond, index=inner.index)
    feats["corroborated_links"] = beyond_text.groupby(inner["cluster"]).mean()
    feats = feats.join(
        instrument_reuse(members, memberships, feats["size"], rs.held_instrument_share)
    )
    feats = feats.join(_ip_context(members, memberships, identifiers, rs))
    created = accounts["created_at"].to_numpy("datetime64[ns]").astype(np.int64) // 1_000_000_000
    secs = created[members["account"].to_numpy()]
    feats["burst_2h"] = _share_in_window(members["cluster"].to_numpy(), secs, 2 * HOUR_S)
    feats["burst_24h"] = _share_in_window(members["cluster"].to_numpy(), secs, 24 * HOUR_S)
    for col, name in (("org_id", "org_share"), ("email_domain", "domain_share")):
        if col in accounts.columns:
            vals = accounts[col].to_numpy()[members["account"].to_numpy()]
            top = (
                pd.DataFrame({"cluster": members["cluster"].to_numpy(), "v": vals})
                .dropna()
                .groupby(["cluster", "v"])
                .size()
                .groupby("cluster")
                .max()
            )
            feats[name] = top / feats["size"]
    if prompt_features is not None and not prompt_features.empty:
        if use is None:
            use = family_use(members, memberships, prompt_features, rs)
        feats = feats.join(_prompt_cluster_features(members, prompt_features, use, rs))
    numeric = feats.select_dtypes("number").columns
    feats[numeric] = feats[numeric].fillna(0.0)
    return feats


def _ip_context(
    members: pd.DataFrame, memberships: pd.DataFrame, identifiers: pd.DataFrame, rs: RiskSettings
) -> pd.DataFrame:
    ips = memberships.loc[memberships["kind"] == "ip", ["account", "ident", "n_obs"]].merge(
        members, on="account"
    )
    ips["category"] = identifiers["category"].to_numpy()[ips["ident"].to_numpy()]
    ips["asn"] = identifiers["asn"].to_numpy()[ips["ident"].to_numpy()]
    total = ips.groupby("cluster")["n_obs"].sum()
    by_cat = ips.pivot_table(index="cluster", columns="category", values="n_obs", aggfunc="sum")
    out = pd.DataFrame(index=total.index)
    for cat in ("datacenter", "proxy", "residential", "mobile", "vpn", "education", "corporate"):
        out[f"ip_{cat}_share"] = by_cat[cat] / total if cat in by_cat else 0.0
    out = out.fillna(0.0)
    out["hosting_share"] = out[[f"ip_{c}_share" for c in rs.hosting_categories]].sum(axis=1)
    out["benign_infra_share"] = out[[f"ip_{c}_share" for c in rs.benign_infra_categories]].sum(
        axis=1
    )
    hosting = ips[ips["category"].isin(rs.hosting_categories)]
    out["hosting_asns"] = hosting.groupby("cluster")["asn"].nunique()
    out["n_ips"] = ips.groupby("cluster")["ident"].nunique()
    return out


def family_use(
    members: pd.DataFrame,
    memberships: pd.DataFrame,
    prompt_features: pd.DataFrame,
    settings: RiskSettings | None = None,
) -> pd.DataFrame:
    """Members' use of the template families their cluster has in common.

    A family is common in a cluster when at least 3 members and 5% of them send it
    (``common_min_members``, ``common_min_share``), at any volume, and the cluster
    holds it rather than happening to contain some of its senders: at least
    ``min_concentration`` of all its senders are members and members send it at least
    ``min_lift`` times as often as the accounts with prompts at large
    (``prompt_features``' rows), or the cluster holds nearly all its senders. An
    everyday family sent across the population is common nowhere. A campaign that gives each
    account several templates, or that paraphrases one, has several common families.

    Members marked ``attached`` (joined by a family alone, see
    :func:`linker.clustering.attach.attach_by_family`) do not decide which families are common:
    they get rows for the families the cluster's linked core has in common.

    Returns one row per (member, common family): account, cluster, template, share (of
    the account's prompts), intent (the account's intent share), variety (the family's
    distinct texts per prompt, when known), family_resample (how much the family is an
    extraction instruction its senders re-send, when known), attached."""
    rs = settings or RiskSettings()
    cols = [
        "account",
        "cluster",
        "template",
        "share",
        "intent",
        "variety",
        "family_resample",
        "family_intent",
        "attached",
    ]
    used = memberships.loc[
        memberships["kind"] == "prompt_template", ["account", "value", "n_obs"]
    ].rename(columns={"value": "template"})
    if used.empty:
        return pd.DataFrame(columns=cols)
    senders = used.groupby("template")["account"].nunique()
    population = max(len(prompt_features), 1)
    if "attached" not in members:
        members = members.assign(attached=False)
    use = used.merge(members[["account", "cluster", "attached"]], on="account")
    core = use[~use["attached"].to_numpy(bool)]
    per = core.groupby(["cluster", "template"])["account"].nunique()
    sizes = members[~members["attached"].to_numpy(bool)].groupby("cluster").size()
    size = sizes.reindex(per.index.get_level_values(0)).to_numpy(float)
    total = senders.reindex(per.index.get_level_values(1)).to_numpy(float)
    inside = per.to_numpy(float)
    common = per[
        common_in_cluster(inside, size, rs)
        & (inside / total >= rs.min_concentration)
        & (
            ((inside / size) / (total / population) >= rs.min_lift)
            | (inside / total >= rs.held_concentration)
        )
    ]
    keys = pd.MultiIndex.from_frame(use[["cluster", "template"]])
    use = use[common.reindex(keys).notna().to_numpy()]
    pf = prompt_features.reindex(use["account"].to_numpy())
    named = prompt_features.dropna(subset=["family"]) if "family" in prompt_features else None
    # per family, from the accounts whose linking family it is (features from a store
    # written before a column existed have none)
    variety, family_resample, family_intent = (
        named.groupby("family")[col].max()
        if named is not None and col in prompt_features
        else pd.Series(dtype=float)
        for col in ("family_variety", "family_resample", "family_intent")
    )
    return pd.DataFrame(
        {
            "account": use["account"].to_numpy(),
            "cluster": use["cluster"].to_numpy(),
            "template": use["template"].to_numpy(),
            "share": (use["n_obs"].to_numpy(float) / pf["n_prompts"].to_numpy(float)).clip(0, 1),
            "intent": pf["intent"].fillna(0).to_numpy(float),
            "variety": variety.reindex(use["template"].to_numpy()).to_numpy(float),
            "family_resample": family_resample.reindex(use["template"].to_numpy()).to_numpy(float),
            "family_intent": family_intent.reindex(use["template"].to_numpy()).to_numpy(float),
            "attached": use["attached"].to_numpy(bool),
        },
        columns=cols,
    )


def participation(
    use: pd.DataFrame, members: pd.DataFrame, settings: RiskSettings | None = None
) -> pd.DataFrame:
    """Each member's part in its cluster's common families (``use`` from
    :func:`family_use`), one row per member in ``members`` order:

    - ``common_share``: share of the account's prompts on the common families;
    - ``ratio`` in [0, 1]: that share relative to the members that send them; at or
      above the lowest tenth of theirs it is 1 whatever the account's volume (one of
      three prompts counts like ten of thirty), a bystander sending none has 0;
    - ``template_share``: how many members send the families this account sends (the
      families whose senders' prompts carry distillation intent pooled: a campaign that
      paraphrases splits into several), times ``ratio``;
    - ``family_intent``: the intent of the senders of the families it sends, times
      ``ratio``. A member of a benign family merged into a campaign cluster carries that
      family's share and intent, not the campaign's.

    The yardsticks (the families' senders and intent, the lowest tenth of the shares)
    come from the members linked by the graph; members marked ``attached`` in ``use``
    are measured against them and do not move them."""
    rs = settings or RiskSettings()
    index = pd.MultiIndex.from_frame(members[["cluster", "account"]])
    out = pd.DataFrame(
        0.0, index=index, columns=["common_share", "ratio", "template_share", "family_intent"]
    )
    if use.empty:
        return out.reset_index(drop=True)
    attached = (
        use["attached"].to_numpy(bool) if "attached" in use else np.zeros(len(use), dtype=bool)
    )
    core = use[~attached]
    if "attached" in members:
        sizes = members[~members["attached"].to_numpy(bool)].groupby("cluster").size()
    else:
        sizes = members.groupby("cluster").size()
    fam = core.groupby(["cluster", "template"]).agg(
        senders=("account", "nunique"), intent=("intent", "mean")
    )
    fam["size_share"] = fam["senders"] / sizes.reindex(fam.index.get_level_values(0)).to_numpy()
    heavy = fam["intent"] >= rs.intent_family_share
    pooled = (
        core[heavy.reindex(pd.MultiIndex.from_frame(core[["cluster", "template"]])).to_numpy()]
        .groupby("cluster")["account"]
        .nunique()
        / sizes
    )
    fam.loc[heavy, "size_share"] = pooled.reindex(fam.index[heavy].get_level_values(0)).to_numpy()
    on = fam.reindex(pd.MultiIndex.from_frame(use[["cluster", "template"]]))
    weighted = use.assign(
        w_size=use["share"] * on["size_share"].to_numpy(),
        w_intent=use["share"] * on["intent"].to_numpy(),
    )
    acc = weighted.groupby(["cluster", "account"])[["share", "w_size", "w_intent"]].sum()
    core_accounts = pd.Index(core["account"].unique())
    linked = acc[acc.index.get_level_values(1).isin(core_accounts)]
    typical = linked["share"].groupby(level=0).quantile(rs.participant_quantile)
    ratio = (acc["share"] / typical.reindex(acc.index.get_level_values(0)).to_numpy()).clip(0, 1)
    found = pd.DataFrame(
        {
            "common_share": acc["share"].clip(0, 1),
            "ratio": ratio,
            "template_share": acc["w_size"] / acc["share"] * ratio,
            "family_intent": acc["w_intent"] / acc["share"] * ratio,
        }
    )
    out.update(found)
    return out.reset_index(drop=True)


def _prompt_cluster_features(
    members: pd.DataFrame,
    prompt_features: pd.DataFrame,
    use: pd.DataFrame,
    rs: RiskSettings,
) -> pd.DataFrame:
    joined = members.join(prompt_features, on="account", how="inner")
    g = joined.groupby("cluster")
    out = pd.DataFrame(
        {
            "intent_share": g["intent"].mean(),
            "prompts_per_account": g["n_prompts"].mean(),
        }
    )
    distinct = g["n_templates"].mean()
    out["prompt_diversity"] = (distinct / g["n_prompts"].mean()).clip(0, 1)
    part = participation(use, members, rs)
    part["cluster"] = members["cluster"].to_numpy()
    pg = part.groupby("cluster")
    out["template_share"] = pg["ratio"].mean()
    senders = use.groupby(["cluster", "template"])["account"].nunique()
    out["top_template"] = (
        senders.groupby(level=0).idxmax().map(lambda t: t[1]) if len(senders) else np.nan
    )
    # harvesting covers a topic space: many distinct texts per family. One text
    # repeated (an SDK sample, an integration test, a pasted question) is not coverage,
    # unless the text itself asks for distillation output: an instruction re-sent to
    # sample many answers ("generate ten riddles") harvests by repetition
    breadth = use["variety"] / rs.full_coverage_variety
    if "family_resample" in use:
        resample = use["family_resample"] / rs.resample_coverage
        breadth = pd.Series(np.fmax(breadth.to_numpy(), resample.to_numpy()), index=use.index)
    out["template_coverage"] = breadth.groupby(use["cluster"]).mean().clip(0, 1)
    # what the shared families ask for: the share of their own prompts with distillation
    # intent, weighted by how much of its senders' traffic each is (the senders' cover
    # prompts aside; unknown for features from a store written before the column)
    if "family_intent" in use and use["family_intent"].notna().any():
        weight = use["share"].where(use["family_intent"].notna(), 0.0)
        num = (weight * use["family_intent"].fillna(0)).groupby(use["cluster"]).sum()
        out["template_intent_rate"] = num / weight.groupby(use["cluster"]).sum().replace(0, np.nan)
    # narrow focus: a campaign account sends mostly its cluster's families, while an
    # agent developer sends the same tool-use prompts among much else
    on = part[part["common_share"] > 0]
    out["template_focus"] = (
        on.groupby("cluster")["common_share"].median() / rs.narrow_focus_share
    ).clip(0, 1)
    # harvesting takes volume: the typical member's prompts against a busy account's in
    # this data (the ``volume_quantile`` of prompts per account), 1 at or above it
    # (strangers who paste a popular template among a handful of prompts share text,
    # not an extraction job)
    typical = float(prompt_features["n_prompts"].quantile(rs.volume_quantile))
    out["prompt_volume"] = (g["n_prompts"].median() / max(typical, 1.0)).clip(0, 1)
    return out
