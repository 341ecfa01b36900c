"""Offset pagination with opaque cursors bound to a run.

A cursor encodes the run id and the offset of the next page. A cursor from another run
is refused (409 ``stale_cursor``), so paging through a list never mixes two runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query

from api.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class PageRequest:
    """What page the client asked for: a cursor, an offset, or neither (the first page)."""

    limit: int
    cursor: str | None
    offset: int | None


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=400, description="`next_cursor` of the previous page."),
    ] = None,
    offset: Annotated[
        int | None, Query(ge=0, description="Items to skip; an alternative to `cursor`.")
    ] = None,
) -> PageRequest:
    """The paging query parameters (a dependency)."""
    return PageRequest(limit, cursor, offset)


def encode_cursor(run_id: str, offset: int) -> str:
    """An opaque cursor for ``offset`` in run ``run_id``."""
    raw = json.dumps({"r": run_id, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, run_id: str) -> int:
    """The offset in a cursor; raises ApiError 422 for a malformed cursor and 409 for a
    cursor from another run."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, cursor_run = int(data["o"]), str(data["r"])
    except (binascii.Error, ValueError, KeyError, TypeError) as err:
        raise ApiError(422, "validation_error", "malformed cursor", "query.cursor") from err
    if offset < 0:
        raise ApiError(422, "validation_error", "malformed cursor", "query.cursor")
    if cursor_run != run_id:
        raise ApiError(
            409,
            "stale_cursor",
            f"the cursor is from run {cursor_run!r}; run {run_id!r} is now served: "
            "start again from the first page",
            "query.cursor",
        )
    return offset


def resolve_offset(page: PageRequest, run_id: str) -> int:
    """The offset a page request means; raises ApiError 422 if both cursor and offset
    are given."""
    if page.cursor is not None and page.offset is not None:
        raise ApiError(422, "validation_error", "give cursor or offset, not both", "query.cursor")
    if page.cursor is not None:
        return decode_cursor(page.cursor, run_id)
    return page.offset or 0


def page_info(total: int, offset: int, limit: int, run_id: str) -> dict[str, Any]:
    """total, offset, limit and next_cursor (None on the last page)."""
    nxt = offset + limit
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "next_cursor": encode_cursor(run_id, nxt) if nxt < total else None,
    }
