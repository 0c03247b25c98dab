"""Welfare-office API (福祉事務所): recipients, 初回ひも付け, tickets, CSV import; the facility registry."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..api import limits
from ..api.deps import CA, DB, JSON, Caller, IdemHeader, idempotency, run_idempotent
from ..api.models import errors
from ..api.schemas import Loose, dump, model_from_fields
from ..core.dates import month_key, parse_month
from ..core.errors import ValidationFailed
from ..core.fields import RECIPIENT_FIELDS, TICKET_FIELDS
from ..core.fields import Field as Spec
from ..jobs import service as jobs
from ..jobs.models import JobOut
from ..jobs.views import spool_upload
from . import csv_import, facilities, service
from .models import (
    FacilityOut,
    LateTicketOut,
    RecipientDetailOut,
    RecipientOut,
    TicketDetailOut,
    TicketOut,
)

router = APIRouter(prefix="/api/v1", tags=["welfare office"])

_NUMS = (
    Spec("payer_number", None, "公費負担者番号", "payer", True),
    Spec("recipient_number", None, "受給者番号", "recipient", True),
)
if TYPE_CHECKING:  # generated from the field tables at import time; to mypy, models with extra keys
    RecipientIn = Loose
    RecipientPatch = Loose
    TicketIn = Loose
    TicketAmend = Loose
else:
    RecipientIn = model_from_fields("RecipientIn", RECIPIENT_FIELDS)
    RecipientPatch = model_from_fields(
        "RecipientPatch",
        RECIPIENT_FIELDS,
        required=False,
        expected_version=(int | None, Field(None, description="optimistic lock")),
    )
    TicketIn = model_from_fields("TicketIn", _NUMS + TICKET_FIELDS)
    TicketAmend = model_from_fields(
        "TicketAmend",
        TICKET_FIELDS,
        reason=(str | None, Field(None, max_length=200, description="変更理由")),
        expected_revision=(int | None, Field(None, description="optimistic lock")),
    )


class CardLinkIn(BaseModel):
    individual_number: str = Field(
        description="the recipient's 個人番号 (12 digits; only its keyed hash is compared, never stored or logged)",
        max_length=12,
    )


class CardUnlinkIn(BaseModel):
    reason: str = Field(description="解除の理由", max_length=200)


class FacilityIn(BaseModel):
    code: str = Field(description="医療機関コード (10 digits; 点数表 and 都道府県 come from it)", max_length=10)
    name: str = Field(description="医療機関名 (the 指定医療機関名 of tickets)", max_length=80)
    prefecture: str | None = Field(None, description="都道府県番号 (optional; must match the code)", max_length=2)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=30)


class FacilityPatch(BaseModel):
    name: str | None = Field(None, max_length=80)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=30)


class CancelIn(BaseModel):
    reason: str = Field(description="取消理由", max_length=200)
    expected_revision: int | None = None


@router.post("/recipients", status_code=201, responses={201: {"model": RecipientOut}, **errors(403, 409, 422)})
async def register_recipient(request: Request, body: RecipientIn, db: DB, caller: Caller, key: IdemHeader = None):
    ik = await idempotency(request, caller, key)
    # the write in a worker thread: a database that waits (a lock, a frozen server) must not stop the loop
    return await asyncio.to_thread(
        run_idempotent, db, ik, 201, lambda in_tx: service.register_recipient(db, caller, dump(body), in_tx)
    )


@router.get("/recipients", responses={200: {"model": list[RecipientOut]}, **errors(403, 422)})
def search_recipients(
    db: DB,
    caller: Caller,
    q: str | None = Query(None, max_length=60),
    payer_number: str | None = Query(None, max_length=8),
    limit: int = Query(50, ge=1, le=500),
):
    return JSON(service.search_recipients(db, caller, q=q, payer=payer_number, limit=limit))


@router.get(
    "/recipients/{payer_number}/{recipient_number}",
    responses={200: {"model": RecipientDetailOut}, **errors(403, 404, 422)},
)
def get_recipient(payer_number: str, recipient_number: str, db: DB, caller: Caller):
    return JSON(service.get_recipient(db, caller, payer=payer_number, rn=recipient_number))


@router.patch(
    "/recipients/{payer_number}/{recipient_number}",
    responses={200: {"model": RecipientOut}, **errors(403, 404, 409, 422)},
)
def update_recipient(payer_number: str, recipient_number: str, body: RecipientPatch, db: DB, caller: Caller):
    data = dump(body)
    ver = data.pop("expected_version", None)
    return JSON(
        service.update_recipient(
            db, caller, payer=payer_number, rn=recipient_number, changes=data, expected_version=ver
        )
    )


@router.post(
    "/recipients/{payer_number}/{recipient_number}/card-link",
    responses={200: {"model": RecipientOut}, **errors(403, 404, 409, 422)},
)
def link_card(payer_number: str, recipient_number: str, body: CardLinkIn, db: DB, ca: CA, caller: Caller):
    """初回ひも付け: link the recipient to the holder of the card issued for this 個人番号, when the
    issuer's 4 情報 agree (name, birth date); a mismatch names the differing items."""
    return JSON(
        service.link_card(
            db, ca, caller, payer=payer_number, rn=recipient_number, individual_number=body.individual_number
        )
    )


@router.post(
    "/recipients/{payer_number}/{recipient_number}/card-unlink",
    responses={200: {"model": RecipientOut}, **errors(403, 404, 409, 422)},
)
def unlink_card(payer_number: str, recipient_number: str, body: CardUnlinkIn, db: DB, caller: Caller):
    """Undo a 初回ひも付け (recorded, with the reason, in the recipient's access log)."""
    return JSON(service.unlink_card(db, caller, payer=payer_number, rn=recipient_number, reason=body.reason))


@router.post("/facilities", status_code=201, responses={201: {"model": FacilityOut}, **errors(403, 409, 422)})
def register_facility(body: FacilityIn, db: DB, caller: Caller):
    """The facility registry (運用管理者): a facility tickets may designate."""
    return JSON(facilities.register_facility(db, caller, body.model_dump(exclude_none=True)), status_code=201)


@router.get("/facilities", responses={200: {"model": list[FacilityOut]}, **errors(422)})
def search_facilities(
    db: DB, caller: Caller, q: str | None = Query(None, max_length=80), limit: int = Query(50, ge=1, le=500)
):
    return JSON(facilities.search_facilities(db, caller, q, limit))


@router.get("/facilities/{code}", responses={200: {"model": FacilityOut}, **errors(404, 422)})
def get_facility(code: str, db: DB, caller: Caller):
    """One registered facility (name, 点数表, prefecture, address, phone)."""
    return JSON(facilities.get_facility(db, caller, code))


@router.patch("/facilities/{code}", responses={200: {"model": FacilityOut}, **errors(403, 404, 422)})
def update_facility(code: str, body: FacilityPatch, db: DB, caller: Caller):
    return JSON(facilities.update_facility(db, caller, code, body.model_dump(exclude_none=True)))


@router.post("/tickets", status_code=201, responses={201: {"model": TicketOut}, **errors(403, 404, 409, 422)})
async def register_ticket(request: Request, body: TicketIn, db: DB, caller: Caller, key: IdemHeader = None):
    ik = await idempotency(request, caller, key)
    return await asyncio.to_thread(
        run_idempotent, db, ik, 201, lambda in_tx: service.register_ticket(db, caller, dump(body), in_tx)
    )


@router.get("/tickets/late", responses={200: {"model": list[LateTicketOut]}, **errors(403, 422)})
def late_tickets(db: DB, caller: Caller, month: str = Query(description="YYYY-MM")):
    ym, p = parse_month(month, "month")
    if p:
        raise ValidationFailed(problems=[p])
    assert ym is not None  # parse_month gives a month or a problem
    return JSON(service.late_tickets(db, caller, month_key(*ym)))


@router.get("/tickets/{ticket_key}", responses={200: {"model": TicketDetailOut}, **errors(403, 404, 422)})
def get_ticket(ticket_key: str, db: DB, caller: Caller):
    """The current revision with the full history of revisions."""
    return JSON(service.get_ticket(db, caller, ticket_key))


@router.put("/tickets/{ticket_key}", responses={200: {"model": TicketOut}, **errors(403, 404, 409, 422)})
def amend_ticket(ticket_key: str, body: TicketAmend, db: DB, caller: Caller):
    data = dump(body)
    reason, rev = data.pop("reason", None), data.pop("expected_revision", None)
    return JSON(service.amend_ticket(db, caller, key=ticket_key, data=data, reason=reason, expected_revision=rev))


@router.post("/tickets/{ticket_key}/cancel", responses={200: {"model": TicketOut}, **errors(403, 404, 409, 422)})
def cancel_ticket(ticket_key: str, body: CancelIn, db: DB, caller: Caller):
    return JSON(
        service.cancel_ticket(db, caller, key=ticket_key, reason=body.reason, expected_revision=body.expected_revision)
    )


_UPLOAD = {  # the request body as published: the route streams it itself (fujo.jobs.views.spool_upload)
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "the CSV file"}},
                }
            }
        },
    }
}


@router.post(
    "/imports/{kind}",
    status_code=202,
    responses={
        202: {
            "model": JobOut,
            "description": "the import job, queued: poll its Location (GET /api/v1/jobs/{id}) for the report",
            "headers": {"Location": {"description": "/api/v1/jobs/{id}", "schema": {"type": "string"}}},
        },
        **errors(403, 422),
    },
    max_body_size=limits.IMPORT + limits.IMPORT_ENVELOPE,
    openapi_extra=_UPLOAD,
)
async def import_csv(kind: str, request: Request, db: DB, caller: Caller):
    """All-or-nothing CSV import (recipients | tickets | insurance | facilities) as a job: the file is
    streamed to disk (at most limits.IMPORT bytes, else 413), its header checked (422), then 202 with
    the job; the job's report is the per-row report (docs/API.md, Jobs)."""
    csv_import.require_importer(caller, kind)  # before the upload is read
    csv_import.require_kind(kind)
    path = await spool_upload(request, request.app.state.settings.data_dir, limits.IMPORT)
    try:
        await asyncio.to_thread(jobs.check_upload, kind, path)  # a wrong header: 422 now, no job
        job = await asyncio.to_thread(jobs.submit, db, caller, kind=kind, spool_path=path)
    except BaseException:
        jobs.remove_spool(path)
        raise
    request.app.state.job_runner.wake()
    return JSON(job, status_code=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})
