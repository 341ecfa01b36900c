"""Attachment: an account in no cluster joins the cluster that holds a template family it
sends, when its other prompts look like the members'."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.settings import RiskSettings


def common_in_cluster(
    inside: np.ndarray, size: np.ndarray, settings: RiskSettings | None = None
) -> np.ndarray:
    """Whether a family that ``inside`` members of a cluster of ``size`` send is common
    enough in it to characterise it: at least ``common_min_members`` members and
    ``common_min_share`` of them (:class:`RiskSettings`; a cover prompt three members
    of a large campaign happened to send is not its template)."""
    inside = np.asarray(inside, dtype=float)
    rs = settings or RiskSettings()
    return inside >= np.maximum(
        float(rs.common_min_members), rs.common_min_share * np.asarray(size)
    )


def attach_by_family(
    labels: np.ndarray,
    memberships: pd.DataFrame,
    held_share: float,
    population: int | None = None,
    settings: RiskSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Accounts in no community that send a template family a community holds join it.

    Graph linkage needs an account to share enough with others; a campaign account that
    sent its campaign's template only a few times among cover traffic, on its own card,
    device and proxy, shares too little to link. But a family most of whose senders sit
    in one community is that community's fingerprint: strangers rarely send it at all.
    A community holds a family when at least ``held_share`` of all the accounts that send
    it (at any volume) are its members and the family is common among them
    (:func:`common_in_cluster`: a rare cover prompt that three members of a
    large campaign happened to send is not its fingerprint). An everyday prompt, an SDK
    sample or a viral template is sent across the population and held by no community.
    An account that sends several held families joins the community of the one it
    sends most, if the rest of its prompts look like the community's too
    (:func:`_looks_like_members`). Joining only makes an account a member: its risk is
    still its own part in the community's families (:func:`linker.scoring.features.participation`).

    ``memberships`` are the projection's (``kind``, ``account``, ``value``, ``n_obs``),
    including the uses too light to link; ``population`` is the number of accounts with
    prompts (default: the accounts that send any family). Returns the new labels and a
    boolean mask of the accounts that joined."""
    attached = np.zeros(len(labels), dtype=bool)
    fam = memberships.loc[
        memberships["kind"].to_numpy() == "prompt_template", ["account", "value", "n_obs"]
    ]
    if held_share <= 0 or fam.empty:
        return labels, attached
    lab = labels[fam["account"].to_numpy()]
    senders = fam.groupby("value")["account"].nunique()
    inside = (
        fam[lab >= 0]
        .assign(label=lab[lab >= 0])
        .groupby(["value", "label"])["account"]
        .nunique()
        .rename("inside")
    )
    share = inside / senders.reindex(inside.index.get_level_values(0)).to_numpy()
    sizes = np.bincount(labels[labels >= 0])
    rs = settings or RiskSettings()
    common = common_in_cluster(inside.to_numpy(), sizes[inside.index.get_level_values(1)], rs)
    held = (
        inside[(share >= held_share).to_numpy() & common]
        .reset_index()
        .sort_values(["value", "inside", "label"], ascending=[True, False, True])
        .drop_duplicates("value")
    )
    join = (
        fam[lab < 0]
        .merge(held[["value", "label"]], on="value")
        .sort_values(["account", "n_obs", "label"], ascending=[True, False, True])
        .drop_duplicates("account")
    )
    population = population or fam["account"].nunique()
    join = join[
        _looks_like_members(fam, join, inside, sizes, senders, population, held_share, rs.min_lift)
    ]
    if join.empty:
        return labels, attached
    out = labels.copy()
    rows = join["account"].to_numpy()
    out[rows] = join["label"].to_numpy()
    attached[rows] = True
    return out, attached


def _looks_like_members(
    fam: pd.DataFrame,
    join: pd.DataFrame,
    inside: pd.Series,
    sizes: np.ndarray,
    senders: pd.Series,
    population: int,
    held_share: float,
    min_lift: float,
) -> np.ndarray:
    """Per row of ``join`` (account, label): whether the account's template traffic
    leans to the families its would-be community holds or sends more than accounts at
    large (lift >= ``min_lift``) more than to families the community sends less
    (lift < 1). A straggler of a campaign sends what the campaign sends (its templates,
    its cover traffic); a member of another population that happens to share one family
    with the campaign (developers trying the same agent prompt) sends, besides it, that
    population's own prompts. Only prompts in families shared with other accounts
    count: a prompt nobody else sends says nothing about which population an account
    belongs to (a campaign straggler's paraphrases that did not collapse look like
    that). ``population`` is the number of accounts with prompts."""
    rows = fam.merge(join[["account", "label"]], on="account")
    key = pd.MultiIndex.from_frame(rows[["value", "label"]])
    members = inside.reindex(key).fillna(0).to_numpy(float)
    rate_in = members / sizes[rows["label"].to_numpy()]
    total = senders.reindex(rows["value"]).to_numpy(float)
    lift = rate_in / (total / population)
    # in a small world a community can be most of the population: lift cannot reach 2
    aligned = (lift >= min_lift) | (members / total >= held_share)
    n_obs = rows["n_obs"].to_numpy(float)
    per = (
        pd.DataFrame(
            {
                "account": rows["account"].to_numpy(),
                "aligned": np.where(aligned, n_obs, 0.0),
                "foreign": np.where((lift < 1.0) & ~aligned, n_obs, 0.0),
            }
        )
        .groupby("account")[["aligned", "foreign"]]
        .sum()
    )
    per = per.reindex(join["account"].to_numpy())
    return (per["aligned"] > per["foreign"]).to_numpy()
