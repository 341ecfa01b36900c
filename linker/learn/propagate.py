"""Proximity to confirmed accounts: a personalised PageRank from seed accounts over the
account-identifier graph, degree-normalised as SybilRank does.

The walk alternates two steps: from an account to one of its identifiers (in proportion
to the identifier's weight for it: the linkage's specificity ``p`` times the
membership's strength) and from an identifier to one of its holders (in proportion to
the same weights). An identifier's share is therefore split among everyone who holds
it, so a card shared by three accounts passes a third to each, and a carrier address
behind thousands passes next to nothing; identifiers held by more than
``max_identifier_degree`` accounts carry none at all. The walk restarts at the seeds
with probability ``restart`` and stops after ``iterations`` steps (SybilRank's early
termination), then each account's mass is divided by its own weight (the walk's
stationary share), so well-connected accounts do not look close to everything. The
weight counts as at least the ``weight_floor_quantile`` quantile of the accounts'
weights: an account that holds nothing but a weak identifier (a /24 shared with a
residential proxy exit) would otherwise score as close as a ring mate of the seeds.

Proximity is reported relative to the seeds: the mass an account holds per unit of
weight over the seeds' own average (restart included), capped at 1. The unlabelled
members of a ring whose other members are seeds score about 0.5, a lone account sharing
one card with a seed about 0.3, strangers 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from linker.evidence.projection import Projection
from linker.masking import mask_identifier
from linker.settings.learn import LearnSettings


@dataclass
class Walk:
    """The account-identifier incidence the walk runs on."""

    #: accounts x identifiers, the weight of each membership (0 where none)
    incidence: sparse.csr_matrix
    #: per account, the sum of its weights (0: no identifier carries anything)
    account_weight: np.ndarray
    #: per identifier, the sum of its holders' weights
    identifier_weight: np.ndarray
    #: the two steps of the walk (account -> identifier, identifier -> holder), row
    #: stochastic: P = Da^-1 B Di^-1 B^T is applied as ``(r @ to_ident) @ to_account``
    to_ident: sparse.csr_matrix
    to_account: sparse.csr_matrix
    #: the least weight an account counts with in the degree normalisation
    floor: float


def build_walk(projection: Projection, settings: LearnSettings) -> Walk:
    """The walk over ``projection`` restricted to identifiers shared by 2 to
    ``settings.max_identifier_degree`` accounts (supernodes never)."""
    mem = projection.memberships
    ident = projection.identifiers
    n_acc, n_id = len(projection.accounts), len(ident)
    degree = ident["degree"].to_numpy()
    usable = (degree >= 2) & (degree <= settings.max_identifier_degree)
    usable &= ~ident["supernode"].to_numpy(bool)
    cols = mem["ident"].to_numpy(np.int64)
    keep = (cols >= 0) & usable[np.clip(cols, 0, None)]
    weight = mem["strength"].to_numpy(float)[keep] * ident["p"].to_numpy(float)[cols[keep]]
    incidence = sparse.csr_matrix(
        (weight, (mem["account"].to_numpy(np.int64)[keep], cols[keep])), shape=(n_acc, n_id)
    )
    incidence.sum_duplicates()
    account_weight = np.asarray(incidence.sum(axis=1)).ravel()
    identifier_weight = np.asarray(incidence.sum(axis=0)).ravel()
    positive = account_weight[account_weight > 0]
    return Walk(
        incidence,
        account_weight,
        identifier_weight,
        (sparse.diags(_inverse(account_weight)) @ incidence).tocsr(),
        (sparse.diags(_inverse(identifier_weight)) @ incidence.T).tocsr(),
        float(np.quantile(positive, settings.weight_floor_quantile)) if len(positive) else 0.0,
    )


def _inverse(values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values, dtype=float)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


def propagate(walk: Walk, seeds: np.ndarray, settings: LearnSettings) -> np.ndarray:
    """Per account, the degree-normalised proximity in [0, 1] to the ``seeds`` (a
    boolean mask). Zeros when no seed carries weight."""
    n = walk.incidence.shape[0]
    live = seeds & (walk.account_weight > 0)
    if not live.any():
        return np.zeros(n)
    start = live / live.sum()
    mass: np.ndarray = start.copy()
    alpha = settings.restart
    for _ in range(settings.iterations):
        step = (mass @ walk.to_ident) @ walk.to_account
        mass = alpha * start + (1 - alpha) * np.asarray(step)
    # an account held by one weak identifier alone (a shared /24) would otherwise look as
    # close as a seed's ring mate: its weight counts as at least the floor
    per_weight = mass / np.maximum(walk.account_weight, walk.floor)
    # 1: as close as the seeds themselves are (restart mass included)
    out: np.ndarray = np.minimum(per_weight / per_weight[live].mean(), 1.0)
    return out


def out_of_fold(
    walk: Walk, seeds: np.ndarray, folds: np.ndarray, settings: LearnSettings
) -> np.ndarray:
    """Proximity to ``seeds`` for every account, except that a seed in fold ``k`` gets
    its value from the seeds of the other folds (it cannot be close to itself).
    ``folds``: per account, its fold (only read at the seeds)."""
    out = propagate(walk, seeds, settings)
    for fold in np.unique(folds[seeds]):
        held = seeds & (folds == fold)
        out[held] = propagate(walk, seeds & ~held, settings)[held]
    return out


def seed_paths(
    projection: Projection, walk: Walk, seeds: np.ndarray, label: str = "sybil"
) -> list[str]:
    """Per account, the shortest explanation of its proximity: the identifier it shares
    with the most ``seeds`` ("shares card ***1234 with 3 confirmed sybil accounts"),
    or, failing that, the account through which it reaches one; "" when neither. Values
    are masked as the API masks them."""
    n = len(projection.accounts)
    coo = walk.incidence.tocoo()
    frame = pd.DataFrame({"account": coo.row, "ident": coo.col})
    is_seed = seeds[frame["account"].to_numpy()]
    per_ident = np.bincount(frame["ident"][is_seed], minlength=walk.incidence.shape[1])
    # seeds other than the account itself behind each of its identifiers
    frame["n_seeds"] = per_ident[frame["ident"].to_numpy()] - is_seed.astype(int)
    out = np.full(n, "", dtype=object)
    if not frame["n_seeds"].any():
        return out.tolist()
    kinds = projection.identifiers["kind"].to_numpy()
    values = projection.identifiers["value"].to_numpy()
    direct = frame[frame["n_seeds"] > 0].sort_values(
        ["account", "n_seeds", "ident"], ascending=[True, False, True]
    )
    direct = direct.drop_duplicates("account")
    for account, ident, count in direct[["account", "ident", "n_seeds"]].itertuples(index=False):
        noun = "account" if count == 1 else "accounts"
        out[account] = (
            f"shares {kinds[ident]} {mask_identifier(str(kinds[ident]), str(values[ident]))} "
            f"with {count} confirmed {label} {noun}"
        )
    # two hops: through the holder of a shared identifier that shares with a seed
    best = np.zeros(n, dtype=int)
    best[direct["account"].to_numpy()] = direct["n_seeds"].to_numpy()
    frame["via_best"] = best[frame["account"].to_numpy()]
    holder = frame.sort_values(["ident", "via_best"], ascending=[True, False]).drop_duplicates(
        "ident"
    )
    holder = holder[holder["via_best"] > 0].set_index("ident")
    rows = frame[(best[frame["account"].to_numpy()] == 0) & frame["ident"].isin(holder.index)]
    if len(rows):
        rows = rows.assign(
            via=holder.loc[rows["ident"], "account"].to_numpy(),
            reach=holder.loc[rows["ident"], "via_best"].to_numpy(),
        )
        rows = rows[rows["via"] != rows["account"]]
        rows = rows.sort_values(["account", "reach", "ident"], ascending=[True, False, True])
        ids = np.asarray(projection.accounts)
        for account, ident, via in rows.drop_duplicates("account")[
            ["account", "ident", "via"]
        ].itertuples(index=False):
            out[account] = (
                f"shares {kinds[ident]} {mask_identifier(str(kinds[ident]), str(values[ident]))}"
                f" with {ids[via]}, which {out[via]}"
            )
    return out.tolist()
