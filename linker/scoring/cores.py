"""Mixed clusters scored by the members that take part in what they share.

Community detection puts a campaign together with the accounts it touches: proxy
customers behind the residential exits it rents, strangers on a popular device
fingerprint, everyday users sharing a carrier address. Those bystanders share no card,
device or template family with the campaign inside the cluster, only addresses or weak
links, and they dilute every cluster feature (a reseller campaign of 48 accounts whose
cards tie them all, in a cluster with 45 proxy customers, shows "53 of 93 accounts share
payment instruments" and scores 0.37).

So each cluster is also scored on its **involved core**: the linked members that share a
value of an instrument kind inside the cluster (held by it,
:func:`linker.scoring.features.uses_in_cluster`) or send one of its common template
families. When the whole cluster is not flagged and its core is, the cluster takes the
core's risk (columns ``core_size`` and ``core_risk``; 0 elsewhere) under a reason that
says so, the core's members are scored in the core's context, and the bystanders keep at
most the whole cluster's risk: the campaign is flagged without dragging the households
in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from linker.scoring.features import instrument_kinds
from linker.scoring.model import score, shares_inside
from linker.scoring.reasons import Reason, count
from linker.settings import RiskSettings


def involved(
    members: pd.DataFrame,
    memberships: pd.DataFrame,
    use: pd.DataFrame | None,
    settings: RiskSettings,
) -> np.ndarray:
    """Per row of ``members`` (the linked members): whether the account shares a value of
    an instrument kind inside its cluster or sends one of its common families (``use``,
    :func:`linker.scoring.features.family_use`)."""
    out = np.zeros(len(members), dtype=bool)
    for kind in instrument_kinds(memberships):
        out |= shares_inside(members, memberships, kind, settings).astype(bool)
    if use is not None and len(use):
        sends = pd.MultiIndex.from_frame(use[["cluster", "account"]])
        out |= pd.MultiIndex.from_frame(members[["cluster", "account"]]).isin(sends)
    return out


def rescore_cores(
    core: pd.DataFrame,
    members: pd.DataFrame,
    scored: pd.DataFrame,
    in_context: pd.Series,
    use: pd.DataFrame | None,
    memberships: pd.DataFrame,
    features_of: Callable[[pd.DataFrame, pd.DataFrame | None], pd.DataFrame],
    score_of: Callable[[pd.DataFrame], pd.DataFrame],
    context_of: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame | None], pd.Series],
    settings: RiskSettings,
) -> tuple[pd.DataFrame, pd.Series]:
    """``scored`` and ``in_context`` with each cluster below the threshold whose involved
    core (of at least ``settings.core_min_size`` linked members, not all of them) reaches
    it taking the core's risk, reasons and context. ``core``: the linked members;
    ``members``: every member (attached too); ``features_of(members, use)``,
    ``score_of(features)`` and ``context_of(members, scored, use)`` are the pipeline's
    own feature, cluster-scoring and member-scoring steps."""
    out, ctx = scored.copy(), in_context.copy()
    # which clusters were scored on a core, of how many members, at what risk (0: none)
    out["core_size"], out["core_risk"] = 0, 0.0
    part = core[involved(core, memberships, use, settings)]
    n_part = part.groupby("cluster").size()
    n_all = core.groupby("cluster").size().reindex(n_part.index)
    # a cluster that stands flagged keeps its members' context: the core is for the
    # clusters whose bystanders hide what its involved members do
    unflagged = scored["risk"].reindex(n_part.index) < settings.threshold
    mixed = n_part[(n_part >= settings.core_min_size) & (n_part < n_all) & unflagged].index
    part = part[part["cluster"].isin(mixed)]
    if part.empty:
        return out, ctx
    accounts = pd.Index(part["account"])
    part_use = None
    if use is not None:
        part_use = use[use["account"].isin(accounts) & ~use["attached"].to_numpy(bool)]
    feats = features_of(part, part_use)
    feats["n_attached"] = 0
    better = feats.index[score(feats, settings) >= settings.threshold]
    if not len(better):
        return out, ctx
    core_scored = score_of(feats.loc[better])
    chosen = part[part["cluster"].isin(better)]
    own_use = part_use[part_use["cluster"].isin(better)] if part_use is not None else None
    inside = context_of(chosen, core_scored, own_use)
    # bystanders of those clusters keep at most the whole cluster's risk
    rest = members[members["cluster"].isin(better) & ~members["account"].isin(accounts)]
    whole = rest["cluster"].map(scored["risk"]).to_numpy(float)
    ctx.loc[rest["account"].to_numpy()] = np.minimum(ctx.loc[rest["account"]].to_numpy(), whole)
    ctx.loc[inside.index] = inside.to_numpy()
    # the cluster keeps its own features and reasons (what the table shows is the whole
    # cluster), led by what its core is and scores
    risk = core_scored["risk"].astype(float).to_dict()
    whole_risk = scored["risk"].astype(float).to_dict()
    sizes = {k: (int(n_part[k]), int(n_all[k])) for k in better.tolist()}
    lead = {k: _core_reason(*sizes[k], risk[k], whole_risk[k]) for k in better}
    out["reasons"] = [
        [lead[k].text, *rows] if k in lead else rows for k, rows in out["reasons"].items()
    ]
    out["reason_features"] = [
        [lead[k].to_dict(), *rows] if k in lead else rows
        for k, rows in out["reason_features"].items()
    ]
    out.loc[better, "core_size"] = [sizes[k][0] for k in better]
    out.loc[better, "core_risk"] = core_scored["risk"]
    out.loc[better, "risk"] = core_scored["risk"]
    out["flagged"] = out["risk"] >= settings.threshold
    return out, ctx


def _core_reason(n: int, linked: int, risk: float, whole: float) -> Reason:
    return Reason(
        f"{count(n, 'account')} of the {linked:,} linked share cards, devices or other "
        f"instruments or template families inside it and score {risk:.2f} on their own; "
        f"the other {linked - n:,} share only addresses or weak links "
        f"(the whole cluster scores {whole:.2f})",
        {"core_size": n, "linked_members": linked, "core_risk": round(risk, 4)},
    )
