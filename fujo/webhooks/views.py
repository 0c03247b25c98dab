"""Facility API: webhooks — register, list, delete, the delivery log, a test event."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..api.deps import DB, JSON, Caller, RowId
from ..api.models import errors
from . import service
from .models import DeliveriesOut, TestEventOut, WebhookCreatedOut, WebhookListOut

router = APIRouter(prefix="/api/v1/facility/webhooks", tags=["facility"])


class WebhookIn(BaseModel):
    # generous bounds here; the service names the field and the problem (URL ≤ 500, secret 16-128)
    url: str = Field(description="http:// or https:// URL of the receiver (≤ 500 characters)", max_length=2000)
    secret: str | None = Field(
        None, description="HMAC key (16-128 printable ASCII); generated when left out", max_length=1000
    )
    from_cursor: int | None = Field(
        None,
        ge=0,
        le=2**62,
        description="deliver the changes after this Cursor of the bulk retrieval (default: from now on)",
    )


@router.post("", status_code=201, responses={201: {"model": WebhookCreatedOut}, **errors(403, 409, 422)})
def register_webhook(body: WebhookIn, db: DB, caller: Caller):
    """The facility's 管理者; the secret is in this answer only."""
    out = service.register_webhook(db, caller, url=body.url, secret=body.secret, from_cursor=body.from_cursor)
    return JSON(out, status_code=201)


@router.get("", responses={200: {"model": WebhookListOut}, **errors(403)})
def list_webhooks(db: DB, caller: Caller):
    return JSON(service.list_webhooks(db, caller))


@router.delete(
    "/{webhook_id}", status_code=204, responses={204: {"description": "deleted (no body)"}, **errors(403, 404, 422)}
)
def delete_webhook(webhook_id: RowId, db: DB, caller: Caller):
    service.delete_webhook(db, caller, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses={200: {"model": DeliveriesOut}, **errors(403, 404, 422)})
def deliveries(
    webhook_id: RowId,
    db: DB,
    caller: Caller,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=2**53),
):
    return JSON(service.deliveries(db, caller, webhook_id, limit=limit, before=before))


@router.post("/{webhook_id}/test", status_code=202, responses={202: {"model": TestEventOut}, **errors(403, 404, 422)})
def send_test_event(webhook_id: RowId, db: DB, caller: Caller):
    """Queue a ``webhook.test`` event for the worker (the facility's 管理者)."""
    return JSON(service.send_test_event(db, caller, webhook_id), status_code=202)
