"""How varied a template family's texts are, measured so that it does not depend on how
many accounts send the family.

A family of one text pasted verbatim (a homework question, an SDK's quick-start
sample re-sent by CI) links its senders only weakly: sharing it says little. The first
measure of that, distinct texts per prompt, falls with the number of senders
whenever the texts come from a finite set: a campaign that runs a template over a
data set of a few hundred inputs has 0.2 distinct texts per prompt with 300 accounts
and 0.01 with 6,000, although every account still sends inputs it has not sent
before and two of its accounts rarely send the same one. So a family's variety is the
larger of that and the product of two shares that stay put as the family grows:

- **own**: the share of each sender's prompts of the family that are texts it had not
  sent before (1 for an account that sends each input once; 1/50 for a CI job that
  re-sends one sample fifty times);
- **apart**: one minus the **overlap**, the expected share of a sender's distinct texts
  that another sender of the family also sends (1 when everyone pastes the same
  question, ~k/V when senders draw k texts each from V).

A masked text stands for its distinct fills (``fills``: those at least two accounts
sent, at least one), assumed spread evenly over its senders. A family with a single
sender has no overlap: its variety is its own share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def family_variety(frame: pd.DataFrame, fills: np.ndarray) -> pd.Series:
    """Per family of ``frame`` (one row per account and masked text: account, norm,
    family, n), the larger of distinct texts per prompt and ``own x (1 - overlap)``, as
    the module describes; ``fills``: distinct fills per norm."""
    norm = frame["norm"].to_numpy()
    f = fills[norm] if len(norm) else np.zeros(0)
    n = frame["n"].to_numpy(float)
    # distinct texts each sender sent of each masked text: at most its sends, at most
    # the text's fills
    distinct = np.minimum(n, f)
    per_text = pd.DataFrame({"norm": norm, "family": frame["family"].to_numpy(), "m": distinct})
    texts = per_text.groupby("norm").agg(family=("family", "first"), m=("m", "sum"))
    t_fills = fills[texts.index.to_numpy()]
    variants = pd.Series(t_fills).groupby(texts["family"].to_numpy()).sum()
    m = texts["m"].to_numpy(float)
    # sum over a text's fills of (senders x (senders - 1)), fills spread evenly
    texts["pairs"] = m * m / t_fills - m
    fam = texts.groupby("family")[["m", "pairs"]].sum()
    sends = pd.Series(n).groupby(frame["family"].to_numpy()).sum()
    senders = frame.groupby("family")["account"].nunique()
    others = (senders.reindex(fam.index) - 1).to_numpy(float)
    pairs, m = fam["pairs"].to_numpy(), fam["m"].to_numpy()
    overlap = np.divide(pairs, others * m, out=np.zeros(len(fam)), where=others > 0).clip(0, 1)
    prompts = sends.reindex(fam.index).to_numpy(float)
    own = m / prompts
    per_prompt = variants.reindex(fam.index).to_numpy(float) / prompts
    return pd.Series(np.fmax(per_prompt, own * (1 - overlap)), index=fam.index)
