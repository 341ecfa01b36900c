"""Cluster features -> risk in [0, 1] with plain-language reasons. Pure: no I/O.

The score is a logistic combination of features that separate coordinated
distillation from benign sharing (see docs/linkage.md, "Risk"):

- signs of a controller: shared devices and cards across many accounts, traffic
  from datacenter and proxy networks, signups in a burst, synchronous activity,
  one prompt template family with distillation intent;
- signs of a legitimate group: one organisation, office/campus/carrier networks,
  household size, diverse prompts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

HOUR_S = 3600
INFRA_BENIGN = ("corporate", "education", "mobile")
INFRA_HOSTING = ("datacenter", "proxy")
#: distinct texts per prompt at which a template family counts as full coverage
FULL_COVERAGE_VARIETY = 0.3
#: share of an account's prompts on one family at which its focus counts as narrow
NARROW_FOCUS_SHARE = 0.5
#: an account sending at least this quantile of its cluster members' share of prompts on
#: the cluster's common families takes part fully (see participation); the families are
#: ones the cluster holds, which strangers rarely send at all, so the bar is low
PARTICIPANT_QUANTILE = 0.1
#: a template family whose members' prompts carry distillation intent at least this often
INTENT_FAMILY_SHARE = 0.3
#: a family characterises a cluster when at least this many members send it ...
COMMON_MIN_MEMBERS = 3
#: ... and at least this share of them
COMMON_MIN_SHARE = 0.05
#: a family is common in a cluster only when the cluster holds at least this share of
#: all its senders (a token bar: one template shared by many campaigns, such as a public
#: distillation toolkit's, is held by none of them but over-sent by each) ...
MIN_CONCENTRATION = 0.05
#: ... and its members send it at least this many times as often as accounts at large,
#: or the cluster holds at least ``HELD_CONCENTRATION`` of its senders (in a small world
#: one cluster can be most of the population)
MIN_LIFT = 2.0
HELD_CONCENTRATION = 0.8


def common_in_cluster(inside: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Whether a family that ``inside`` members of a cluster of ``size`` send is common
    enough in it to characterise it: at least ``COMMON_MIN_MEMBERS`` members and
    ``COMMON_MIN_SHARE`` of them (a cover prompt three members of a large campaign
    happened to send is not its template)."""
    inside = np.asarray(inside, dtype=float)
    return inside >= np.maximum(float(COMMON_MIN_MEMBERS), COMMON_MIN_SHARE * np.asarray(size))


def _default_weights() -> dict[str, float]:
    return {
        "bias": -3.2,
        "hosting_share": 1.8,
        "device_reuse": 1.2,
        "payment_reuse": 0.9,
        "payment_and_device": 1.5,
        "burst_2h": 1.4,
        "size_log": 0.4,
        "template_share": 2.0,
        "template_intent": 3.0,
        "intent_share": 2.2,
        "sync_share": 0.8,
        "org_share": -2.5,
        "benign_infra_share": -1.6,
        "prompt_diversity": -1.2,
    }


@dataclass(frozen=True)
class RiskSettings:
    """Weights of the risk model and the flagging threshold."""

    weights: dict[str, float] = field(default_factory=_default_weights)
    threshold: float = 0.5
    #: an account outside every cluster scores at most this from its own signals
    own_risk_cap: float = 0.45

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


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


def _uses_in_cluster(members: pd.DataFrame, memberships: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Members' identifiers of ``kind``: (account, ident, cluster, n), ``n`` being how many
    members of the account's cluster use that identifier."""
    mem = memberships.loc[memberships["kind"] == kind, ["account", "ident"]]
    mem = mem.merge(members, on="account")
    mem["n"] = mem.groupby(["cluster", "ident"])["account"].transform("size")
    return mem


def _identifier_reuse(members: pd.DataFrame, memberships: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per cluster: distinct identifiers of ``kind``, members on one shared inside the
    cluster, and the most members on a single identifier."""
    mem = _uses_in_cluster(members, memberships, kind)
    g = mem.groupby("cluster")
    return pd.DataFrame(
        {
            f"n_{kind}": g["ident"].nunique(),
            f"{kind}_shared_accounts": mem[mem["n"] >= 2].groupby("cluster")["account"].nunique(),
            f"{kind}_max_accounts": g["n"].max(),
        }
    )


def cluster_features(
    members: pd.DataFrame,
    accounts: pd.DataFrame,
    edges: pd.DataFrame,
    memberships: pd.DataFrame,
    identifiers: pd.DataFrame,
    prompt_features: pd.DataFrame | None = None,
    use: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of every cluster, one row per cluster id.

    ``members`` is (account, cluster) for clustered accounts (account = row index
    into ``accounts``); ``edges``, ``memberships`` and ``identifiers`` come from the
    projection; ``prompt_features`` is per account (index = account) when prompts exist.
    """
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
    feats["strong_share"] = g["weight"].apply(lambda w: float((w >= 0.6).mean()))
    for col in [c for c in edges.columns if c.startswith("ev_")]:
        feats[f"share_edges_{col[3:]}"] = (inner[col] > 0).groupby(inner["cluster"]).mean()
    for kind in ("payment", "device"):
        feats = feats.join(_identifier_reuse(members, memberships, kind))
        shared = feats[f"{kind}_shared_accounts"].fillna(0)
        feats[f"{kind}_reuse"] = shared / feats["size"]
    feats = feats.join(_ip_context(members, memberships, identifiers))
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
            use = family_use(members, memberships, prompt_features)
        feats = feats.join(_prompt_cluster_features(members, prompt_features, use))
    numeric = feats.select_dtypes("number").columns
    feats[numeric] = feats[numeric].fillna(0.0)
    return feats


def _ip_context(
    members: pd.DataFrame, memberships: pd.DataFrame, identifiers: pd.DataFrame
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
    out["hosting_share"] = out[[f"ip_{c}_share" for c in INFRA_HOSTING]].sum(axis=1)
    out["benign_infra_share"] = out[[f"ip_{c}_share" for c in INFRA_BENIGN]].sum(axis=1)
    hosting = ips[ips["category"].isin(INFRA_HOSTING)]
    out["hosting_asns"] = hosting.groupby("cluster")["asn"].nunique()
    out["n_ips"] = ips.groupby("cluster")["ident"].nunique()
    return out


def family_use(
    members: pd.DataFrame, memberships: pd.DataFrame, prompt_features: pd.DataFrame
) -> pd.DataFrame:
    """Members' use of the template families their cluster has in common.

    A family is common in a cluster when at least 3 members and 5% of them send it, at
    any volume, and the cluster holds it rather than happening to contain some of its
    senders: at least ``MIN_CONCENTRATION`` of all its senders are members and members
    send it at least ``MIN_LIFT`` times as often as the accounts with prompts at large
    (``prompt_features``' rows), or the cluster holds nearly all its senders. An
    everyday family sent across the population is common nowhere. A campaign that gives each
    account several templates, or that paraphrases one, has several common families.

    Members marked ``attached`` (joined by a family alone, see
    :func:`linker.communities.attach_by_family`) do not decide which families are common:
    they get rows for the families the cluster's linked core has in common.

    Returns one row per (member, common family): account, cluster, template, share (of
    the account's prompts), intent (the account's intent share), variety (the family's
    distinct texts per prompt, when known), attached."""
    cols = ["account", "cluster", "template", "share", "intent", "variety", "attached"]
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
        common_in_cluster(inside, size)
        & (inside / total >= MIN_CONCENTRATION)
        & (
            ((inside / size) / (total / population) >= MIN_LIFT)
            | (inside / total >= HELD_CONCENTRATION)
        )
    ]
    keys = pd.MultiIndex.from_frame(use[["cluster", "template"]])
    use = use[common.reindex(keys).notna().to_numpy()]
    pf = prompt_features.reindex(use["account"].to_numpy())
    if "family_variety" in prompt_features:
        variety = (
            prompt_features.dropna(subset=["family"]).groupby("family")["family_variety"].max()
        )
    else:  # features from a store written before the column existed
        variety = pd.Series(dtype=float)
    return pd.DataFrame(
        {
            "account": use["account"].to_numpy(),
            "cluster": use["cluster"].to_numpy(),
            "template": use["template"].to_numpy(),
            "share": (use["n_obs"].to_numpy(float) / pf["n_prompts"].to_numpy(float)).clip(0, 1),
            "intent": pf["intent"].fillna(0).to_numpy(float),
            "variety": variety.reindex(use["template"].to_numpy()).to_numpy(float),
            "attached": use["attached"].to_numpy(bool),
        },
        columns=cols,
    )


def participation(use: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
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
    heavy = fam["intent"] >= INTENT_FAMILY_SHARE
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
    typical = linked["share"].groupby(level=0).quantile(PARTICIPANT_QUANTILE)
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
    members: pd.DataFrame, prompt_features: pd.DataFrame, use: pd.DataFrame
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
    part = participation(use, members)
    part["cluster"] = members["cluster"].to_numpy()
    pg = part.groupby("cluster")
    out["template_share"] = pg["ratio"].mean()
    senders = use.groupby(["cluster", "template"])["account"].nunique()
    out["top_template"] = (
        senders.groupby(level=0).idxmax().map(lambda t: t[1]) if len(senders) else np.nan
    )
    # harvesting covers a topic space: many distinct texts per family. One text
    # repeated (an SDK sample, an integration test) is not coverage.
    out["template_coverage"] = (
        use.groupby("cluster")["variety"].mean() / FULL_COVERAGE_VARIETY
    ).clip(0, 1)
    # narrow focus: a campaign account sends mostly its cluster's families, while an
    # agent developer sends the same tool-use prompts among much else
    on = part[part["common_share"] > 0]
    out["template_focus"] = (
        on.groupby("cluster")["common_share"].median() / NARROW_FOCUS_SHARE
    ).clip(0, 1)
    return out


def score(features: pd.DataFrame, settings: RiskSettings) -> pd.Series:
    """Risk in [0, 1] per row of ``features`` (logistic in the weighted features)."""
    w = settings.weights
    z = np.full(len(features), w["bias"])
    for name, weight in w.items():
        if name == "bias":
            continue
        if name == "size_log":
            values = np.log10(features["size"].to_numpy(float).clip(1))
        elif name == "sync_share" and "share_edges_ip" in features:
            values = features["share_edges_ip"].to_numpy(float)
        elif name in ("template_share", "template_intent") and "template_share" in features:
            coverage = features.get("template_coverage", pd.Series(1.0, index=features.index))
            focus = features.get("template_focus", pd.Series(1.0, index=features.index))
            values = (features["template_share"] * coverage.fillna(0) * focus.fillna(0)).to_numpy(
                float
            )
            if name == "template_intent":
                values = values * features.get("intent_share", 0.0)
        elif name == "payment_and_device":
            values = (features["payment_reuse"] * features["device_reuse"]).to_numpy(float)
        elif name in features:
            values = features[name].to_numpy(float)
        else:
            continue
        if name in ("burst_2h", "device_reuse", "payment_reuse", "payment_and_device"):
            # a household of 2 "sharing" a card or signing up together says nothing
            values = values * np.clip((features["size"].to_numpy(float) - 2) / 8, 0, 1)
        z = z + weight * values
    return pd.Series(1 / (1 + np.exp(-z)), index=features.index)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def reasons_for(row: pd.Series, template_examples: dict[str, str] | None = None) -> list[str]:
    """Plain-language reasons, with numbers, for one cluster's feature row."""
    n = int(row["size"])
    out: list[str] = []
    if row.get("template_share", 0) >= 0.3 and template_examples:
        example = template_examples.get(str(row.get("top_template")), "")
        k = round(row["template_share"] * n)
        out.append(f"{k} of {n} accounts send variants of '{example}'")
    if row.get("n_attached", 0) >= 1:
        k = int(row["n_attached"])
        out.append(
            f"{k} more account{'s' if k > 1 else ''} joined only by sending its template "
            "families (no card, device or address linked them)"
        )
    if row.get("intent_share", 0) >= 0.3:
        out.append(
            f"{_pct(row['intent_share'])} of prompts ask for reasoning traces, grading or "
            "rewrites (distillation intent)"
        )
    if row.get("payment_shared_accounts", 0) >= 2:
        out.append(
            f"{int(row['payment_shared_accounts'])} accounts share "
            f"{int(row.get('n_payment', 0))} payment instruments"
        )
    if row.get("device_shared_accounts", 0) >= 2:
        out.append(
            f"{int(row['device_shared_accounts'])} accounts share "
            f"{int(row.get('n_device', 0))} devices"
        )
    if row.get("hosting_share", 0) >= 0.3:
        out.append(
            f"{_pct(row['hosting_share'])} of traffic from "
            f"{int(row.get('hosting_asns', 0))} datacenter/proxy ASNs"
        )
    if n >= 5 and row.get("burst_2h", 0) >= 0.3:
        out.append(f"{round(row['burst_2h'] * n)} of {n} signups within 2 hours")
    if row.get("org_share", 0) >= 0.5:
        out.append(f"{_pct(row['org_share'])} of accounts belong to one organisation")
    if row.get("benign_infra_share", 0) >= 0.5:
        out.append(
            f"{_pct(row['benign_infra_share'])} of traffic from office, campus or "
            "mobile-carrier networks"
        )
    if not out:
        out.append(
            f"{n} accounts linked by shared identifiers (mean link weight "
            f"{row.get('mean_weight', 0):.2f})"
        )
    return out


def score_clusters(
    features: pd.DataFrame, settings: RiskSettings, template_examples: dict[str, str] | None = None
) -> pd.DataFrame:
    """Risk, flag and reasons per cluster; returns ``features`` with three columns added."""
    out = features.copy()
    out["risk"] = score(features, settings)
    out["flagged"] = out["risk"] >= settings.threshold
    out["reasons"] = [reasons_for(row, template_examples) for _, row in out.iterrows()]
    return out


def account_hosting_share(
    n_accounts: int, memberships: pd.DataFrame, identifiers: pd.DataFrame
) -> np.ndarray:
    """Share of each account's IP observations from datacenter or proxy networks."""
    ips = memberships[memberships["kind"] == "ip"]
    cat = identifiers["category"].to_numpy()[ips["ident"].to_numpy()]
    hosting = np.isin(cat, INFRA_HOSTING) * ips["n_obs"].to_numpy()
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
        # the cluster's card and device reuse is evidence against the members that take
        # part in it; a member sharing neither with anyone inside does not carry it
        inside = np.maximum(
            _shares_inside(members, memberships, "payment"),
            _shares_inside(members, memberships, "device"),
        )
        for kind in ("payment", "device"):
            frame[f"{kind}_reuse"] = frame[f"{kind}_reuse"].to_numpy(float) * inside
    if prompt_features is not None and "template_share" in frame and memberships is not None:
        if use is None:
            use = family_use(members, memberships, prompt_features)
        part = participation(use, members)
        own = prompt_features["intent"].reindex(acc).fillna(0).to_numpy(float)
        # sending a family carries its intent: a low-volume account's own share (one of
        # three prompts) is noise, its participation is not
        frame["intent_share"] = np.maximum(own, part["family_intent"].to_numpy())
        frame["template_share"] = part["template_share"].to_numpy()
    return pd.Series(score(frame, settings).to_numpy(), index=acc)


def _shares_inside(members: pd.DataFrame, memberships: pd.DataFrame, kind: str) -> np.ndarray:
    """Per row of ``members``: 1.0 when the account shares an identifier of ``kind`` with
    another member of its cluster, else 0.0."""
    mem = _uses_in_cluster(members, memberships, kind)
    sharing = mem.loc[mem["n"] >= 2, "account"]
    return members["account"].isin(sharing).to_numpy(float)


def own_risk(
    hosting_share: np.ndarray,
    prompt_features: pd.DataFrame | None,
    settings: RiskSettings,
) -> np.ndarray:
    """Risk of each account from its own signals (``hosting_share`` from
    :func:`account_hosting_share`, prompt intent), capped at ``own_risk_cap``."""
    n_accounts = len(hosting_share)
    w = settings.weights
    z = w["bias"] + w["hosting_share"] * hosting_share
    if prompt_features is not None and not prompt_features.empty:
        intent = prompt_features["intent"].reindex(range(n_accounts)).fillna(0).to_numpy()
        z = z + w["intent_share"] * intent
    return np.minimum(1 / (1 + np.exp(-z)), settings.own_risk_cap)
