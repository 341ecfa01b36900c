"""Account risk: one account, or a batch of up to 1,000."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.auth import Access, require_access
from api.errors import not_found
from api.responses import error_responses
from api.schemas import MAX_ID_LENGTH, AccountRisk, BatchRiskRequest, BatchRiskResponse

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
JSON = "application/json"


@router.get(
    "/{account_id}/risk",
    response_model=AccountRisk,
    summary="Risk of one account",
    description="The account's risk, its cluster's risk and top reasons; in a run that "
    "learned from analysts' labels, also its unsupervised risk, its proximity to confirmed "
    "sybil and benign accounts with the (masked) path that explains it, the reasons of its "
    "calibrated risk and the labels that influenced it. Scope `risk:read`.",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def account_risk(
    account_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    access: Annotated[Access, Depends(require_access("risk:read"))],
) -> Response:
    """The precomputed answer of the account (404 when it is not in the run)."""
    body = access.snapshot.account_json.get(account_id)
    if body is None:
        raise not_found("account", account_id)
    return Response(body, media_type=JSON)


@router.post(
    "/risk",
    response_model=BatchRiskResponse,
    summary="Risk of up to 1,000 accounts",
    description="Unknown ids are listed in `not_found`, not an error. Scope `risk:read`.",
    responses=error_responses(401, 403, 413, 422, 503),
)
async def batch_risk(
    body: BatchRiskRequest,
    access: Annotated[Access, Depends(require_access("risk:read"))],
) -> Response:
    """The answers of every known account asked for, all from one run."""
    return Response(access.snapshot.batch_json(body.account_ids), media_type=JSON)
