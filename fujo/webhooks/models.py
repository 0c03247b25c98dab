"""Read models of the webhook routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

import datetime as dt

from ..api.models import ReadModel, described
from .service import EVENT_TYPES, OUTCOMES


class WebhookOut(ReadModel):
    id: int = described("the webhook's id", required=True)
    url: str = described("where events are POSTed", required=True)
    created_at: dt.datetime = described("ISO 8601 with offset", required=True)
    created_by: str = described("who registered it: the web user or token label with the role", required=True)
    cursor: int = described(
        "delivered up to this change-feed position (a Cursor of GET /facility/tickets/changes)", required=True
    )
    pending_events: int = described("events waiting to be delivered", required=True)
    failures: int = described("consecutive failed attempts (0 after a delivery)", required=True)
    next_attempt_at: dt.datetime | None = described("while failing: the next attempt, not before", required=True)
    last_success_at: dt.datetime | None = described("the last delivery answered 2xx", required=True)
    last_error: str | None = described(
        "the last failure: HTTP <status>, a timeout, a connection error class, medical_assistance_disabled",
        required=True,
    )


class WebhookCreatedOut(WebhookOut):
    secret: str = described("the HMAC-SHA256 key of the signatures: shown here once, never again", required=True)


class WebhookListOut(ReadModel):
    webhooks: list[WebhookOut] = described("the facility's webhooks (without their secrets)", required=True)


class DeliveryOut(ReadModel):
    id: int = described("the log row (page with ?before=)", required=True)
    event_id: str = described("the event's id, the same on every attempt", required=True)
    event_type: str = described("the event's type", required=True, table=EVENT_TYPES)
    attempt: int = described("1, 2, … for this event", required=True)
    at: dt.datetime = described("when the attempt started (ISO 8601 with offset)", required=True)
    duration_ms: int = described("how long it took", required=True)
    status_code: int | None = described("the receiver's HTTP status, if it answered", required=True)
    outcome: str = described("the result", required=True, table=OUTCOMES)
    error: str | None = described("what went wrong (never a body, never personal data)", required=True)


class DeliveriesOut(ReadModel):
    webhook_id: int = described("the webhook", required=True)
    deliveries: list[DeliveryOut] = described("one row per attempt, newest first", required=True)


class TestEventOut(ReadModel):
    webhook_id: int = described("the webhook", required=True)
    event_id: str = described("the test event's id (Fujo-Event-Id)", required=True)
    queued: bool = described("always true: the worker sends it after the events already waiting", required=True)
