"""Plain-language reasons for a cluster's risk, each with the number behind it."""

from __future__ import annotations

import pandas as pd


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
