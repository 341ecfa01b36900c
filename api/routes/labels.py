"""Analyst labels: a verdict on an account or a cluster, stored durably."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import Access, require_access
from api.deps import app_state, label_sink
from api.errors import not_found
from api.label_sink import LabelSink
from api.responses import error_responses
from api.schemas import LabelIn, LabelRecord

router = APIRouter(prefix="/v1/labels", tags=["labels"])


@router.post(
    "",
    status_code=201,
    response_model=LabelRecord,
    summary="Record an analyst verdict",
    description="Appends the label to `labels.jsonl` in the results directory (fsynced "
    "before the answer); the next linkage run reads it. The target must exist in the "
    "current run. Scope `labels:write`.",
    responses=error_responses(401, 403, 404, 413, 422, 503),
)
def create_label(
    body: LabelIn,
    request: Request,
    access: Annotated[Access, Depends(require_access("labels:write"))],
    sink: Annotated[LabelSink, Depends(label_sink)],
) -> LabelRecord:
    """Store the label and return it with its id and time (a sync handler: it fsyncs)."""
    snapshot = access.snapshot
    if not snapshot.has_target(body.target_type, body.target_id):
        raise not_found(body.target_type, body.target_id)
    record = LabelRecord(
        **body.model_dump(),
        id=f"lbl_{uuid.uuid4().hex}",
        created_at=datetime.now(UTC),
        run_id=snapshot.run_id,
        key_id=access.caller.key_id,
    )
    sink.append(record.model_dump(mode="json"))
    app_state(request).metrics.labels_written.inc()
    return record
