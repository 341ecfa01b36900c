"""The naive baseline the synthetic world is designed to defeat: link any two accounts
that share any raw identifier value (payment, device or IP), take connected
components, and see how badly benign users get swept up with Sybils."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .world import World


def naive_components(
    world: World, kinds: tuple[str, ...] = ("payment", "ip", "device")
) -> pd.Series:
    """Component id per account (indexed by ``account_id``) of the graph that joins
    accounts sharing any exact ``value`` of the given signal kinds."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    acc_ids = world.accounts["account_id"].to_numpy()
    n = len(acc_ids)
    sig = world.signals[world.signals["kind"].isin(kinds)]
    a_codes = pd.Index(acc_ids).get_indexer(sig["account_id"])
    key = sig["kind"].astype(object) + "\x1f" + sig["value"].astype(object)
    v_codes, _ = pd.factorize(key)
    m = int(v_codes.max()) + 1 if len(v_codes) else 0
    rows = a_codes.astype(np.int64)
    cols = (n + v_codes).astype(np.int64)
    g = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + m, n + m))
    _, comp = connected_components(g, directed=False)
    return pd.Series(comp[:n], index=pd.Index(acc_ids, name="account_id"), name="component")


def naive_report(world: World, big: int = 50, **kw: Any) -> dict[str, float]:
    """How the naive linker fails: fraction of benign accounts that share a component
    with a Sybil, that sit in a component larger than ``big``, or either."""
    comp = naive_components(world, **kw)
    lab = world.labels.set_index("account_id").loc[comp.index]
    is_syb = (lab["label"] == "sybil").to_numpy()
    c = comp.to_numpy()
    size = np.bincount(c)
    has_syb = np.bincount(c, weights=is_syb) > 0
    ben = ~is_syb
    with_syb = has_syb[c] & ben
    in_big = (size[c] > big) & ben
    n_ben = max(int(ben.sum()), 1)
    return {
        "components": len(size),
        "largest_component": int(size.max()),
        "largest_component_frac": float(size.max() / len(c)),
        "benign_with_sybil": float(with_syb.sum() / n_ben),
        "benign_in_big": float(in_big.sum() / n_ben),
        "benign_either": float((with_syb | in_big).sum() / n_ben),
        "sybil_in_giant": float(
            (is_syb & (c == np.argmax(size))).sum() / max(int(is_syb.sum()), 1)
        ),
    }
