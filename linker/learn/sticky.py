"""Verdicts that stick: an analyst's verdict on a cluster holds over later runs while the
cluster is substantially the one the analyst saw.

When a cluster verdict is first applied, the cluster's members are recorded with it
(the *baseline*, carried from run to run in run.json's ``verdict_baselines``). In every
later run the verdict holds while the cluster with that stable id and the baseline
overlap by a Jaccard index of at least ``LearnSettings.sticky_jaccard`` ("substantially
changed" is below it). While it holds:

- a cluster cleared as benign stays unflagged, and so do the members the analyst saw;
  members that joined since are judged on their own (the analyst never saw them);
- a cluster confirmed as sybil stays flagged with all its members, and the members that
  joined since rise with it, saying why.

A verdict that no longer holds leaves the cluster to the model, with a reason asking for
a fresh review; its baseline members stay labelled for learning either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from linker.masking import mask_free_text
from linker.settings.learn import LearnSettings


def _day(when: Any) -> str:
    return "" if when is None or pd.isna(when) else f" on {pd.Timestamp(when).date()}"


def _stamp(when: Any) -> str | None:
    return None if when is None or pd.isna(when) else pd.Timestamp(when).isoformat()


def cluster_verdicts(
    verdicts: pd.DataFrame,
    accounts: pd.DataFrame,
    previous: dict[str, dict[str, Any]],
    settings: LearnSettings,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """The state of each cluster verdict in this run and the baselines to carry on.

    ``previous``: the last run's ``verdict_baselines`` (cluster id -> label, created_at,
    members). A verdict keeps its baseline while its ``created_at`` is the one recorded;
    a new or changed verdict takes the cluster's current members. Returns a frame
    (target_id, label, author, reason, created_at, holds, jaccard, n_new) and the new
    baselines."""
    rows, baselines = [], {}
    on_cluster = verdicts[verdicts["target_type"] == "cluster"]
    members_of = accounts.groupby("cluster_id")["account_id"].agg(frozenset).to_dict()
    for v in on_cluster.to_dict("records"):
        cid = str(v["target_id"])
        current = members_of.get(cid, frozenset())
        stamp = _stamp(v["created_at"])
        old = previous.get(cid)
        if old is not None and old.get("created_at") == stamp and old.get("label") == v["label"]:
            baseline = frozenset(old["members"])
        elif current:
            baseline = current
        else:
            continue  # names no cluster of this run and none recorded
        union = len(baseline | current)
        jaccard = len(baseline & current) / union if union else 0.0
        rows.append(
            {
                "target_id": cid,
                "label": str(v["label"]),
                "author": v.get("author"),
                "reason": v.get("reason"),
                "created_at": v["created_at"],
                "holds": bool(current) and jaccard >= settings.sticky_jaccard,
                "jaccard": round(jaccard, 4),
                "n_new": len(current - baseline),
                "baseline": baseline,
            }
        )
        baselines[cid] = {
            "label": str(v["label"]),
            "created_at": stamp,
            "members": sorted(baseline),
        }
    cols = ["target_id", "label", "author", "reason", "created_at", "holds", "jaccard", "n_new"]
    return pd.DataFrame(rows, columns=[*cols, "baseline"]), baselines


def account_labels(
    verdicts: pd.DataFrame, accounts: pd.DataFrame, state: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Per account (``accounts``' index), its label for learning and where it came from:
    the members of a cluster verdict's baseline (and, while a sybil verdict holds, every
    current member) take the cluster's label; an account's own verdict wins."""
    label = pd.Series(None, index=accounts.index, dtype=object)
    origin = pd.Series(None, index=accounts.index, dtype=object)
    ids = accounts["account_id"]
    for v in state.to_dict("records"):
        who = f"{v['label']} verdict by {v['author']} on cluster {v['target_id']}"
        hit = np.array(ids.isin(v["baseline"]).to_numpy(), dtype=bool)
        if v["holds"] and v["label"] == "sybil":
            hit |= (accounts["cluster_id"] == v["target_id"]).to_numpy()
        label[hit] = v["label"]
        origin[hit] = who + _day(v["created_at"])
    own = verdicts[verdicts["target_type"] == "account"]
    if len(own):
        pos = pd.Index(ids).get_indexer(own["target_id"])
        found = pos >= 0
        rows = own[found]
        where = accounts.index[pos[found]]
        label[where] = rows["label"].to_numpy()
        origin[where] = [
            f"{r['label']} verdict by {r['author']} ({r['source']}){_day(r['created_at'])}"
            for r in rows.to_dict("records")
        ]
    return label, origin


def apply_verdicts(
    accounts: pd.DataFrame,
    clusters: pd.DataFrame,
    verdicts: pd.DataFrame,
    state: pd.DataFrame,
) -> int:
    """Analysts' verdicts override ``flagged`` in place: an account verdict on that
    account; a cluster verdict that holds on the cluster and the members it covers (see
    the module); a verdict that no longer holds only adds a reason. Adds
    ``analyst_label`` to both tables and ``label_influence`` notes to the accounts.
    Returns how many verdicts matched something in this run."""
    account_label = pd.Series(None, index=accounts.index, dtype=object)
    cluster_label = pd.Series(None, index=clusters.index, dtype=object)
    notes = pd.Series("", index=accounts.index, dtype=object)
    reasons: list[list[str]] = [list(r) for r in clusters["reasons"]]
    position = {cid: i for i, cid in enumerate(clusters["cluster_id"])}
    matched = 0
    for v in state.to_dict("records"):
        cid, label = v["target_id"], v["label"]
        if cid not in position:
            continue
        matched += 1
        i = position[cid]
        by = f"{v['author']}{_day(v['created_at'])}"
        in_cluster = (accounts["cluster_id"] == cid).to_numpy()
        seen = accounts["account_id"].isin(v["baseline"]).to_numpy()
        if not v["holds"]:
            reasons[i] = [
                f"analyst verdict {label} by {by} no longer holds: membership changed "
                f"substantially (overlap {v['jaccard']:.2f} with the cluster reviewed); "
                "review it again",
                *reasons[i],
            ]
            continue
        cluster_label.iloc[i] = label
        # the analyst's words are free text: anything in them shaped like an identifier
        # is masked, as identifier values are for every reader of the reasons
        why = mask_free_text(str(v["reason"]))
        reasons[i] = [f"analyst verdict: {label} ({v['author']}: {why})", *reasons[i]]
        joined = in_cluster & ~seen
        if label == "sybil":
            account_label[in_cluster] = label
            notes[joined] = f"joined cluster {cid} after it was confirmed sybil by {by}"
        else:
            account_label[in_cluster & seen] = label
            notes[joined] = f"joined cluster {cid} after it was cleared by {by}; judged on its own"
    own = verdicts[verdicts["target_type"] == "account"]
    pos = pd.Index(accounts["account_id"]).get_indexer(own["target_id"])
    matched += int((pos >= 0).sum())
    account_label.iloc[pos[pos >= 0]] = own["label"].astype(str).to_numpy()[pos >= 0]
    accounts["analyst_label"] = account_label
    accounts["flagged"] = np.where(
        account_label.notna(), account_label == "sybil", accounts["flagged"]
    ).astype(bool)
    accounts["label_influence"] = notes
    clusters["analyst_label"] = cluster_label
    clusters["flagged"] = np.where(
        cluster_label.notna(), cluster_label == "sybil", clusters["flagged"]
    ).astype(bool)
    clusters["reasons"] = reasons
    return matched
