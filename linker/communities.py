"""Community detection on the account projection, with stable cluster ids."""

from __future__ import annotations

import hashlib
import random

import igraph as ig
import numpy as np
import pandas as pd

from linker.errors import LinkerError
from linker.risk import MIN_LIFT, common_in_cluster
from linker.settings import CommunitySettings

METHODS = ("leiden", "louvain", "components")


def to_igraph(n_accounts: int, edges: pd.DataFrame) -> ig.Graph:
    """An undirected weighted igraph over all accounts (isolated ones included)."""
    graph = ig.Graph(
        n=n_accounts, edges=np.column_stack([edges["a"], edges["b"]]).tolist(), directed=False
    )
    graph.es["weight"] = edges["weight"].to_numpy(float).tolist()
    return graph


def detect(n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings) -> np.ndarray:
    """Community label per account (-1 for accounts in no cluster).

    Leiden (modularity, seeded, iterated to convergence) by default; Louvain or
    connected components on request. Communities smaller than ``min_cluster_size``
    are not clusters. Raises LinkerError on an unknown method.
    """
    if settings.method not in METHODS:
        raise LinkerError(f"unknown community method {settings.method!r}; use one of {METHODS}")
    graph = to_igraph(n_accounts, edges)
    if settings.method == "components":
        membership = np.asarray(graph.connected_components().membership)
    elif settings.method == "louvain":
        ig.set_random_number_generator(random.Random(settings.seed))
        membership = np.asarray(
            graph.community_multilevel(weights="weight", resolution=settings.resolution).membership
        )
    else:
        ig.set_random_number_generator(random.Random(settings.seed))
        membership = np.asarray(
            graph.community_leiden(
                objective_function="modularity",
                weights="weight",
                resolution=settings.resolution,
                n_iterations=-1,
            ).membership
        )
    ig.set_random_number_generator(random)
    sizes = np.bincount(membership)
    membership = np.where(sizes[membership] >= settings.min_cluster_size, membership, -1)
    return membership


def leiden_labels(n_accounts: int, edges: pd.DataFrame, seed: int) -> np.ndarray:
    """Plain Leiden labels (modularity, resolution 1) for internal use by the linkage's
    first pass; -1 for accounts in communities of one."""
    return detect(n_accounts, edges, CommunitySettings(seed=seed))


def attach_by_family(
    labels: np.ndarray,
    memberships: pd.DataFrame,
    held_share: float,
    population: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Accounts in no community that send a template family a community holds join it.

    Graph linkage needs an account to share enough with others; a campaign account that
    sent its campaign's template only a few times among cover traffic, on its own card,
    device and proxy, shares too little to link. But a family most of whose senders sit
    in one community is that community's fingerprint: strangers rarely send it at all.
    A community holds a family when at least ``held_share`` of all the accounts that send
    it (at any volume) are its members and the family is common among them
    (:func:`linker.risk.common_in_cluster`: a rare cover prompt that three members of a
    large campaign happened to send is not its fingerprint). An everyday prompt, an SDK
    sample or a viral template is sent across the population and held by no community.
    An account that sends several held families joins the community of the one it
    sends most, if the rest of its prompts look like the community's too
    (:func:`_looks_like_members`). Joining only makes an account a member: its risk is
    still its own part in the community's families (:func:`linker.risk.participation`).

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
    common = common_in_cluster(inside.to_numpy(), sizes[inside.index.get_level_values(1)])
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
    join = join[_looks_like_members(fam, join, inside, sizes, senders, population, held_share)]
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
) -> np.ndarray:
    """Per row of ``join`` (account, label): whether the account's template traffic
    leans to the families its would-be community holds or sends more than accounts at
    large (lift >= ``MIN_LIFT``) more than to families the community sends less
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
    aligned = (lift >= MIN_LIFT) | (members / total >= held_share)
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


def content_id(member_ids: list[str]) -> str:
    """A deterministic id for a cluster from its sorted member ids."""
    digest = hashlib.sha1("\n".join(sorted(member_ids)).encode()).hexdigest()
    return f"c_{digest[:12]}"


def assign_cluster_ids(
    account_ids: pd.Index,
    labels: np.ndarray,
    previous: pd.DataFrame | None = None,
    overlap: float = 0.5,
) -> pd.Series:
    """Stable cluster ids for community labels.

    A new cluster takes the id of the previous run's cluster that shares the most
    members with it, when those shared members are more than ``overlap`` of both the
    old and the new cluster (so each old id passes to at most one new cluster);
    otherwise its id is a hash of its members, the same on the same input.
    ``previous`` is a frame (account_id, cluster_id) of the last run.
    Returns a Series of cluster ids (None for accounts in no cluster), indexed like
    ``account_ids``.
    """
    frame = pd.DataFrame({"account_id": np.asarray(account_ids), "label": labels})
    frame = frame[frame["label"] >= 0]
    ids: dict[int, str] = {}
    if previous is not None and not previous.empty:
        prev = previous.dropna(subset=["cluster_id"])
        joined = frame.merge(prev, on="account_id", how="inner")
        shared = joined.groupby(["label", "cluster_id"]).size().rename("shared").reset_index()
        shared["new_size"] = shared["label"].map(frame["label"].value_counts())
        shared["old_size"] = shared["cluster_id"].map(prev["cluster_id"].value_counts())
        ok = (shared["shared"] > overlap * shared["new_size"]) & (
            shared["shared"] > overlap * shared["old_size"]
        )
        for row in shared[ok].itertuples(index=False):
            ids[int(row.label)] = str(row.cluster_id)  # type: ignore[arg-type]
    for label, members in frame.groupby("label")["account_id"]:
        ids.setdefault(int(label), content_id(members.tolist()))  # type: ignore[arg-type]
    lookup = np.full(int(labels.max(initial=-1)) + 2, None, dtype=object)
    for label, cluster_id in ids.items():
        lookup[label] = cluster_id
    # label -1 reads lookup[-1], which no cluster uses: None
    return pd.Series(lookup[labels], dtype=object)
