"""Plain-language reasons for a cluster's risk.

Each :class:`Reason` keeps the features its text was made from, so every number it
shows can be traced to a column of ``clusters.parquet`` (the run records them in
``run.json`` under ``reason_features``). Reasons are written on the members the graph
linked (the cluster's size less ``n_attached``), which is what the features measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from linker.settings import RiskSettings

#: a feature value as a reason records it
FeatureValue = float | int | str

#: longest template example shown in a reason. The prompt stage cuts examples at
#: ``PromptSettings.example_chars`` (80 by default), often inside a word, so an example
#: this long is taken as cut and trimmed back to its last whole word.
REASON_EXAMPLE_CHARS = 80
ELLIPSIS = "…"

#: below these shares a feature is not worth a sentence (they decide what is said,
#: never the risk)
SHOWN_SHARE = 0.3
SHOWN_MAJORITY = 0.5
SHOWN_BURST_MIN_SIZE = 5

#: how a kind is named in a sentence when its name alone reads badly; any other kind
#: is named by itself (``wallet``: "1 wallet", "3 wallets")
KIND_NOUNS = {"payment": "payment instrument"}
SHARED_SUFFIX = "_shared_accounts"


@dataclass(frozen=True)
class Reason:
    """One sentence of a cluster's explanation and the features behind its numbers
    (feature name -> value; ``linked_members`` is the cluster's size less
    ``n_attached``)."""

    text: str
    features: dict[str, FeatureValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"text": ..., "features": {...}}``, for run.json."""
        return {"text": self.text, "features": dict(self.features)}


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: ``1 account``, ``1,200 accounts``."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def percent(share: float) -> str:
    """A share as a whole percentage that never rounds to all or nothing: 0.996 is
    ``>99%``, 0.004 ``<1%``."""
    pct = 100 * float(share)
    if 99 < pct < 100:
        return ">99%"
    if 0 < pct < 1:
        return "<1%"
    return f"{pct:.0f}%"


def shorten(text: str, width: int = REASON_EXAMPLE_CHARS) -> str:
    """``text`` whole when shorter than ``width``, else cut after its last whole word
    that fits, with an ellipsis (a single word longer than ``width`` is cut inside)."""
    text = " ".join(str(text).split())
    if len(text) < width:
        return text
    head = text[: width - 1]
    if " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,;:.-") + ELLIPSIS


def _num(row: pd.Series, name: str) -> float:
    value = row.get(name, 0)
    return 0.0 if value is None or pd.isna(value) else float(value)


def _round(value: float) -> float:
    return round(float(value), 4)


def _some_of(k: int, of_n: str, n: int) -> str:
    """``12 of 40 accounts``, or ``all 40 accounts`` when ``k`` is all ``n``."""
    return f"all {of_n}" if k == n and n > 1 else f"{k:,} of {of_n}"


def _template_reason(row: pd.Series, n: int, examples: dict[str, str], of_n: str) -> Reason:
    share = _num(row, "template_share")
    template = str(row.get("top_template"))
    k = round(share * n)
    verb = "sends" if k == 1 else "send"
    # template_share is the members' mean part in the families the cluster holds in
    # common (1: a full participant), so k counts full participants' worth of members
    return Reason(
        f"{_some_of(k, of_n, n)} {verb} the prompt templates the cluster shares, most "
        f"often '{shorten(examples.get(template, template))}'",
        {"template_share": _round(share), "top_template": template, "linked_members": n},
    )


def _attached_reason(k: int) -> Reason:
    return Reason(
        f"{k:,} more {'account' if k == 1 else 'accounts'} joined only by sending its "
        "template families (no card, device or address linked them)",
        {"n_attached": k},
    )


def kind_nouns(kind: str) -> tuple[str, str]:
    """A kind's noun, singular and plural: ``payment instrument(s)``, ``device(s)``."""
    one = KIND_NOUNS.get(kind, kind.replace("_", " "))
    return one, one + ("es" if one.endswith(("s", "x", "ch", "sh")) else "s")


def shared_kinds(row: pd.Series) -> list[str]:
    """The identifier kinds whose sharing inside the cluster the row measures (those
    with a ``{kind}_shared_accounts`` feature), most sharers first."""
    kinds = [str(c)[: -len(SHARED_SUFFIX)] for c in row.index if str(c).endswith(SHARED_SUFFIX)]
    return sorted(kinds, key=lambda k: (-_num(row, k + SHARED_SUFFIX), k))


def _reuse_reason(row: pd.Series, kind: str, n: int) -> Reason:
    """How members share identifiers of ``kind``: all sharers on one value, or spread
    over several; with the count of values when members hold more than one each."""
    one, many = kind_nouns(kind)
    k = int(_num(row, f"{kind}_shared_accounts"))
    n_values = int(_num(row, f"n_{kind}"))
    most = int(_num(row, f"{kind}_max_accounts"))
    features: dict[str, FeatureValue] = {
        f"{kind}_shared_accounts": k,
        f"n_{kind}": n_values,
        "linked_members": n,
    }
    if most >= k or (most == 0 and n_values == 1):
        sharing = f"{count(k, 'account')} share 1 {one}"
    else:
        who = f"all {n:,} accounts" if k == n else f"{k:,} of {count(n, 'account')}"
        sharing = f"{who} share {many}" + (f" (up to {most:,} on one)" if most else "")
    if f"{kind}_max_accounts" in row:
        features[f"{kind}_max_accounts"] = most
    if n_values > n:
        # many values per member (card testing, device farms): the count itself says it
        text = f"{count(n_values, one, many)} over {count(n, 'account')}; {sharing}"
    else:
        text = sharing
    return Reason(text, features)


def either(names: tuple[str, ...] | list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _hosting_reason(row: pd.Series, categories: tuple[str, ...]) -> Reason:
    share, asns = _num(row, "hosting_share"), int(_num(row, "hosting_asns"))
    return Reason(
        f"{percent(share)} of IP traffic from {either(categories)} networks, in "
        f"{count(asns, 'ASN')}",
        {"hosting_share": _round(share), "hosting_asns": asns},
    )


def cluster_reasons(
    row: pd.Series,
    template_examples: dict[str, str] | None = None,
    settings: RiskSettings | None = None,
) -> list[Reason]:
    """The reasons for one cluster's feature row (its ``size`` being the members the
    graph linked, as when it is scored), strongest first; at least one."""
    rs = settings or RiskSettings()
    n = int(row["size"])
    attached = int(_num(row, "n_attached"))
    of_n = f"the {n:,} linked accounts" if attached else count(n, "account")
    out: list[Reason] = []
    if _num(row, "template_share") >= SHOWN_SHARE and template_examples:
        out.append(_template_reason(row, n, template_examples, of_n))
    if attached >= 1:
        out.append(_attached_reason(attached))
    if _num(row, "intent_share") >= SHOWN_SHARE:
        out.append(
            Reason(
                f"on average {percent(_num(row, 'intent_share'))} of a member's prompts ask "
                "for reasoning traces, grading, rewrites, training data or tool use "
                "(distillation intent)",
                {"intent_share": _round(_num(row, "intent_share"))},
            )
        )
    for kind in shared_kinds(row):
        if _num(row, kind + SHARED_SUFFIX) >= 2:
            out.append(_reuse_reason(row, kind, n))
    if _num(row, "hosting_share") >= SHOWN_SHARE:
        out.append(_hosting_reason(row, tuple(rs.hosting_categories)))
    if n >= SHOWN_BURST_MIN_SIZE and _num(row, "burst_2h") >= SHOWN_SHARE:
        k = round(_num(row, "burst_2h") * n)
        out.append(
            Reason(
                f"{_some_of(k, of_n, n)} signed up within 2 hours",
                {"burst_2h": _round(_num(row, "burst_2h")), "linked_members": n},
            )
        )
    if _num(row, "org_share") >= SHOWN_MAJORITY:
        out.append(
            Reason(
                f"{percent(_num(row, 'org_share'))} of the accounts belong to one organisation",
                {"org_share": _round(_num(row, "org_share"))},
            )
        )
    if _num(row, "benign_infra_share") >= SHOWN_MAJORITY:
        out.append(
            Reason(
                f"{percent(_num(row, 'benign_infra_share'))} of IP traffic from "
                f"{either(rs.benign_infra_categories)} networks",
                {"benign_infra_share": _round(_num(row, "benign_infra_share"))},
            )
        )
    if not out:
        out.append(
            Reason(
                f"{count(n, 'account')} linked by shared identifiers (mean link weight "
                f"{_num(row, 'mean_weight'):.2f})",
                {"linked_members": n, "mean_weight": _round(_num(row, "mean_weight"))},
            )
        )
    return out


def reasons_for(
    row: pd.Series,
    template_examples: dict[str, str] | None = None,
    settings: RiskSettings | None = None,
) -> list[str]:
    """The texts of :func:`cluster_reasons` (what ``clusters.parquet`` holds)."""
    return [r.text for r in cluster_reasons(row, template_examples, settings)]
