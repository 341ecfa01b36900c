"""Request and response models of the API, with examples for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: most account ids in one batch request
MAX_BATCH = 1000
MAX_ID_LENGTH = 200
#: largest request body: a full batch of the longest ids, even \u-escaped (1,000 x 200 x 6
#: bytes), fits; anything bigger is refused with 413 before it is parsed
MAX_BODY_BYTES = 2 * 1024 * 1024

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
RUN_ID_EXAMPLE = "20260301T120000Z-1a2b3c4d"
REASONS_EXAMPLE = [
    "41 accounts share 3 payment instruments",
    "86% of traffic from 2 datacenter/proxy ASNs",
    "39 of 41 signups within 2 hours",
]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


Verdict = Literal["sybil", "benign"]
PATH_EXAMPLE = "shares payment ***4242 with 3 confirmed sybil accounts"
#: the learned fields' note in their descriptions
IN_LEARNED_RUNS = (
    " Only in a run that learned from analysts' labels (docs/learning.md); absent otherwise."
)


def _learned(description: str, **constraints: Any) -> Any:
    """An optional field of a run that learned from labels: absent from the answers of a
    run without labels, null where the run has no value."""
    return Field(default=None, description=description + IN_LEARNED_RUNS, **constraints)


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(
        description="Machine-readable: unauthorized, forbidden, not_found, validation_error, "
        "stale_cursor, not_ready, internal_error, ..."
    )
    message: str = Field(description="What went wrong, for a human.")
    field: str | None = Field(
        default=None, description="The offending input, e.g. `body.account_ids`, `query.limit`."
    )


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = _examples(
        {
            "error": {
                "code": "not_found",
                "message": "no account 'u123' in the current run",
                "field": None,
            }
        }
    )
    error: ErrorDetail


ACCOUNT_EXAMPLE = {
    "account_id": "acct_000123",
    "run_id": RUN_ID_EXAMPLE,
    "risk": 0.91,
    "own_risk": 0.38,
    "attached": False,
    "flagged": True,
    "cluster_id": "c_7ddd9b8d9b33",
    "cluster_risk": 0.91,
    "cluster_size": 41,
    "reasons": REASONS_EXAMPLE,
}


class AccountRisk(BaseModel):
    """An account's risk in the current run, with its cluster's; in a run that learned
    from analysts' labels, also its unsupervised risk, its proximity to confirmed
    accounts and the labels that influenced it."""

    model_config = _examples(
        ACCOUNT_EXAMPLE,
        {
            **ACCOUNT_EXAMPLE,
            "risk": 0.96,
            "unsupervised_risk": 0.91,
            "proximity_sybil": 0.62,
            "proximity_benign": 0.0,
            "proximity_path": PATH_EXAMPLE,
            "learned_reasons": f"closeness to confirmed sybil accounts (0.62: {PATH_EXAMPLE}) "
            "raised it; its unsupervised risk (0.91) raised it",
            "analyst_label": None,
            "label_influence": PATH_EXAMPLE,
        },
    )
    account_id: str
    run_id: str = Field(description="The run every value of this answer comes from.")
    risk: float = Field(
        ge=0,
        le=1,
        description="The account's risk: max(cluster risk, own risk); in a run that learned "
        "from labels, the calibrated risk (about 9 in 10 accounts at 0.9 were confirmed).",
    )
    own_risk: float = Field(ge=0, le=1, description="Risk from the account's own signals only.")
    attached: bool = Field(
        description="True when the account joined its cluster only by sending the "
        "cluster's template families (no card, device or address linked it): the "
        "weakest-evidence members, worth a look before acting."
    )
    flagged: bool = Field(
        description="True when the account's cluster is flagged; in a run that learned from "
        "labels, when its calibrated risk reaches the threshold. An analyst's verdict on "
        "the account or its cluster decides either way."
    )
    cluster_id: str | None = Field(description="None when the account is in no cluster.")
    cluster_risk: float | None = Field(ge=0, le=1)
    cluster_size: int | None = Field(ge=1)
    reasons: list[str] = Field(description="The cluster's top reasons (at most 3).")
    unsupervised_risk: float | None = _learned(
        "The risk the unsupervised path gave (`risk` before calibration on the labels).",
        ge=0,
        le=1,
    )
    proximity_sybil: float | None = _learned(
        "Proximity to confirmed sybil accounts, 0 to 1 (1: as close as they are to each "
        "other); a labelled account's comes from the other labels (out of fold).",
        ge=0,
        le=1,
    )
    proximity_benign: float | None = _learned(
        "Proximity to confirmed benign accounts, 0 to 1.", ge=0, le=1
    )
    proximity_path: str | None = _learned(
        "The shortest explanation of `proximity_sybil`: the identifier shared with the "
        "most confirmed sybil accounts, or the account through which it reaches one. "
        "Identifier values are always masked, whatever the key's scopes.",
        examples=[PATH_EXAMPLE],
    )
    learned_reasons: str | None = _learned(
        "The features that moved the calibrated risk most, in words, separated by `; ` "
        "(null when no model was fitted or the risk is under 0.05)."
    )
    analyst_label: Verdict | None = _learned(
        "The account's label from an analyst's verdict: its own, or its cluster's while "
        "that verdict holds; null when none."
    )
    label_influence: str | None = _learned(
        "Which labels influenced the account: its own verdict, its cluster's (and whether "
        "it joined the cluster after the verdict), or the confirmed accounts it is close "
        "to (with their path); null when none."
    )


class BatchRiskRequest(BaseModel):
    """Up to 1,000 account ids."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"account_ids": ["acct_000123", "acct_404"]}]},
    )
    account_ids: list[Identifier] = Field(min_length=1, max_length=MAX_BATCH)


class BatchRiskResponse(BaseModel):
    """The risk of every known account asked for, and the ids not in the run."""

    run_id: str
    results: list[AccountRisk] = Field(description="In request order, duplicates removed.")
    not_found: list[str]


class ClusterSummary(BaseModel):
    """A cluster's size, risk, flag and reasons."""

    model_config = _examples(
        {
            "cluster_id": "c_7ddd9b8d9b33",
            "size": 41,
            "risk": 0.91,
            "flagged": True,
            "reasons": REASONS_EXAMPLE,
        }
    )
    cluster_id: str
    size: int = Field(ge=0)
    risk: float = Field(
        ge=0, le=1, description="In a run that learned from labels: the members' mean risk."
    )
    flagged: bool
    reasons: list[str]
    unsupervised_risk: float | None = _learned("The unsupervised path's risk.", ge=0, le=1)
    analyst_label: Verdict | None = _learned(
        "The analyst's verdict on the cluster while it holds (the membership has not "
        "changed substantially since); null when none."
    )


class PageInfo(BaseModel):
    """Where a page sits in the whole list."""

    total: int = Field(ge=0, description="Items in the whole list.")
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; None at the end."
    )


class ClusterPage(PageInfo):
    """One page of clusters, by risk descending."""

    run_id: str
    items: list[ClusterSummary]


class Member(BaseModel):
    """A cluster member."""

    account_id: str
    risk: float = Field(ge=0, le=1)
    own_risk: float = Field(ge=0, le=1)
    attached: bool = Field(description="Joined by the cluster's template families alone.")
    unsupervised_risk: float | None = _learned("The unsupervised path's risk.", ge=0, le=1)
    proximity_sybil: float | None = _learned("Proximity to confirmed sybil accounts.", ge=0, le=1)
    proximity_benign: float | None = _learned("Proximity to confirmed benign accounts.", ge=0, le=1)
    analyst_label: Verdict | None = _learned("The member's label from a verdict.")


class MemberPage(PageInfo):
    """One page of a cluster's members, by own risk descending."""

    items: list[Member]


class IdentifierValue(BaseModel):
    """One shared identifier value; masked unless the key has `identifiers:read`."""

    value: str = Field(examples=["***4242", "203.0.x.x"])
    accounts: int | None = Field(description="Members using it, when known.")
    masked: bool


class SharedIdentifier(BaseModel):
    """An identifier kind that holds a cluster together."""

    model_config = _examples(
        {
            "kind": "payment",
            "links": 820,
            "accounts": 41,
            "values": [{"value": "***4242", "accounts": 41, "masked": True}],
        }
    )
    kind: str = Field(description="payment, device, ip, ip_prefix, email, prompt_template, ...")
    links: int = Field(ge=0, description="Links (account pairs) inside the cluster with this kind.")
    accounts: int = Field(ge=0, description="Members on at least one such link.")
    values: list[IdentifierValue] = Field(
        description="The values the most members share (top 3 per kind, from run.json "
        "`cluster_identifiers`); empty for runs written before they were recorded."
    )


class ClusterDetail(ClusterSummary):
    """A cluster with its features, shared identifiers and a page of members."""

    run_id: str
    features: dict[str, float | int | str | bool | None] = Field(
        description="The numeric features the risk model saw (density, payment_reuse, "
        "hosting_share, burst_2h, ...).",
        examples=[{"density": 0.93, "payment_reuse": 1.0, "hosting_share": 0.86}],
    )
    shared_identifiers: list[SharedIdentifier]
    members: MemberPage


class LabelIn(BaseModel):
    """An analyst's verdict on an account or a cluster."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "target_type": "cluster",
                    "target_id": "c_7ddd9b8d9b33",
                    "label": "sybil",
                    "author": "a.analyst",
                    "reason": "same card and device farm; ticket TS-4411",
                }
            ]
        },
    )
    target_type: Literal["account", "cluster"]
    target_id: Identifier
    label: Verdict
    # the pattern puts "not only blanks" into the OpenAPI document, where min_length
    # after stripping cannot be seen
    author: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, strip_whitespace=True, pattern=r"\S"),
    ]
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class LabelRecord(LabelIn):
    """A stored label."""

    id: str = Field(examples=["lbl_3f9a1c2b7d4e4b0f9a1c2b7d4e4b0f9a"])
    created_at: datetime
    run_id: str = Field(description="The run the target was checked against.")
    key_id: str = Field(description="The API key that wrote the label.")


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """The store holds a completed run and the API serves it."""

    status: Literal["ready"] = "ready"
    run_id: str
    accounts: int
    clusters: int
    loaded_at: datetime
