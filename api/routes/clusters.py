"""Clusters: a filtered list by risk, and one cluster with its members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Access, require_access
from api.errors import not_found
from api.pagination import PageRequest, page_info, page_request, resolve_offset
from api.responses import error_responses
from api.schemas import MAX_ID_LENGTH, ClusterDetail, ClusterPage

router = APIRouter(prefix="/v1/clusters", tags=["clusters"])


@router.get(
    "",
    response_model=ClusterPage,
    # the learned fields are absent from the answers of a run without labels
    response_model_exclude_unset=True,
    summary="List clusters by risk",
    description="Clusters by risk descending, filtered. In a run that learned from "
    "analysts' labels, each also has its unsupervised risk and verdict. Scope `risk:read`.",
    responses=error_responses(401, 403, 409, 422, 503),
)
async def list_clusters(
    access: Annotated[Access, Depends(require_access("risk:read"))],
    page: Annotated[PageRequest, Depends(page_request)],
    min_risk: Annotated[float, Query(ge=0, le=1, description="Lowest risk shown.")] = 0.0,
    flagged: Annotated[bool | None, Query(description="Only flagged (or unflagged).")] = None,
    min_size: Annotated[int, Query(ge=1, description="Smallest cluster shown.")] = 1,
) -> dict[str, Any]:
    """One page of the clusters passing the filters."""
    snapshot = access.snapshot
    ids = snapshot.select_clusters(min_risk, flagged, min_size)
    offset = resolve_offset(page, snapshot.run_id)
    items = [snapshot.clusters[c].summary() for c in ids[offset : offset + page.limit]]
    return {
        "run_id": snapshot.run_id,
        "items": items,
        **page_info(len(ids), offset, page.limit, snapshot.run_id),
    }


@router.get(
    "/{cluster_id}",
    response_model=ClusterDetail,
    response_model_exclude_unset=True,
    summary="One cluster",
    description="Size, risk, reasons, features, the identifier kinds that hold it together "
    "and a page of members (in a run that learned from analysts' labels, with the "
    "unsupervised risk and verdict of the cluster and of each member, and each member's "
    "proximity to confirmed accounts). Identifier values are masked unless the key has "
    "`identifiers:read`. Scope `risk:read`.",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def cluster_detail(
    cluster_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    access: Annotated[Access, Depends(require_access("risk:read"))],
    page: Annotated[PageRequest, Depends(page_request)],
) -> dict[str, Any]:
    """The cluster and one page of its members."""
    snapshot = access.snapshot
    entry = snapshot.clusters.get(cluster_id)
    if entry is None:
        raise not_found("cluster", cluster_id)
    offset = resolve_offset(page, snapshot.run_id)
    total = entry.member_stop - entry.member_start
    return {
        **entry.summary(),
        "run_id": snapshot.run_id,
        "features": dict(entry.features),
        "shared_identifiers": entry.shared_identifiers(
            reveal=access.caller.has("identifiers:read")
        ),
        "members": {
            "items": snapshot.members(entry, offset, page.limit),
            **page_info(total, offset, page.limit, snapshot.run_id),
        },
    }
