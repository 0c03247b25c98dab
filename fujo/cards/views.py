"""Administrator API for virtual My Number cards (issue, list, revoke, PIN-lock reset)."""

from __future__ import annotations

import base64

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..api.deps import CA, DB, JSON, Caller
from ..api.models import errors
from ..auth.principal import ADMIN, WELFARE_OFFICE
from . import service
from .models import CardIssuedOut, CardOut, CardRevokedOut, PinResetOut

router = APIRouter(prefix="/api/v1/cards", tags=["administrator"])


class CardIn(BaseModel):
    pin: str = Field(description="4-digit PIN sealing the PKCS#12 file", min_length=1, max_length=8)
    individual_number: str | None = Field(
        None, description="the holder's 個人番号 (12 digits; only a keyed hash is stored)", max_length=12
    )
    name: str | None = Field(None, description="基本4情報: 氏名", max_length=60)
    birthdate: str | None = Field(None, description="基本4情報: 生年月日 (YYYY-MM-DD)", max_length=10)
    sex: str | None = Field(None, description="基本4情報: 性別 1 男 2 女 3 未設定", max_length=1)
    address: str | None = Field(None, description="基本4情報: 住所", max_length=200)
    person_id: int | None = Field(None, description="re-issue for a known holder instead")


class RevokeIn(BaseModel):
    reason: str = Field("revoked by operator", max_length=100)


@router.post("", status_code=201, responses={201: {"model": CardIssuedOut}, **errors(403, 422)})
def issue_card(body: CardIn, db: DB, ca: CA, caller: Caller):
    """Issue a card to the holder of a 個人番号 with the 基本4情報 (it is linked to a recipient only by
    the welfare office's 初回ひも付け); the PKCS#12 file comes back base64-encoded (``p12_base64``)."""
    caller.require(ADMIN)
    holder = {k: getattr(body, k) for k in ("name", "birthdate", "sex", "address") if getattr(body, k) is not None}
    out = service.issue_card(
        db, ca, pin=body.pin, individual_number=body.individual_number, holder=holder, person_id=body.person_id
    )
    out["p12_base64"] = base64.b64encode(out.pop("p12")).decode()
    return JSON(out, status_code=201)


@router.get("", responses={200: {"model": list[CardOut]}, **errors(403)})
def list_cards(db: DB, caller: Caller):
    caller.require(ADMIN)
    return JSON(service.list_cards(db))


@router.post("/{serial}/revoke", responses={200: {"model": CardRevokedOut}, **errors(403, 404, 422)})
def revoke_card(serial: str, body: RevokeIn, db: DB, caller: Caller):
    caller.require(ADMIN)
    service.revoke_card(db, serial=serial, reason=body.reason)
    return JSON({"serial": serial.lower(), "revoked": True})


@router.post("/{serial}/pin-reset", responses={200: {"model": PinResetOut}, **errors(403, 404, 409, 422)})
def pin_reset(serial: str, db: DB, ca: CA, caller: Caller):
    """A token that clears the card's PIN lock (3 wrong PINs) at the reader on the desk, signed by the
    card authority. The administrator, or the welfare office of the holder's recipient; recorded in
    the holder's access log."""
    caller.require(ADMIN, WELFARE_OFFICE)
    return JSON(service.issue_pin_reset(db, ca, caller, serial=serial))
