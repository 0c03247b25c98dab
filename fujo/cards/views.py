"""Administrator API for virtual My Number cards (issue, list, revoke)."""
from __future__ import annotations

import base64

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..api.deps import CA, DB, JSON, Caller
from ..auth.principal import ADMIN
from . import service

router = APIRouter(prefix="/api/v1/cards", tags=["administrator"])


class CardIn(BaseModel):
    pin: str = Field(description="4-digit PIN sealing the PKCS#12 file", min_length=1, max_length=8)
    person_id: int | None = None
    payer_number: str | None = Field(None, description="公費負担者番号 of a recipient (alternative to person_id)")
    recipient_number: str | None = Field(None, description="受給者番号")


class RevokeIn(BaseModel):
    reason: str = Field("revoked by operator", max_length=100)


@router.post("", status_code=201)
def issue_card(body: CardIn, db: DB, ca: CA, caller: Caller):
    """Issue a card; the PKCS#12 file comes back base64-encoded (``p12_base64``)."""
    caller.require(ADMIN)
    out = service.issue_card(db, ca, body.pin, body.person_id, body.payer_number, body.recipient_number)
    out["p12_base64"] = base64.b64encode(out.pop("p12")).decode()
    return JSON(out, status_code=201)


@router.get("")
def list_cards(db: DB, caller: Caller):
    caller.require(ADMIN)
    return JSON(service.list_cards(db))


@router.post("/{serial}/revoke")
def revoke_card(serial: str, body: RevokeIn, db: DB, caller: Caller):
    caller.require(ADMIN)
    service.revoke_card(db, serial, body.reason)
    return JSON({"serial": serial.lower(), "revoked": True})
