"""Facility API (医療機関・薬局): check by card (challenge → proof) and check by numbers."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..api.deps import CA, DB, JSON, Caller
from ..cards import service as cards
from . import service

router = APIRouter(prefix="/api/v1/checks", tags=["facility"])


class CardCheckIn(BaseModel):
    challenge: str = Field(max_length=64)
    certificate: str = Field(description="the card's certificate, base64 DER", max_length=8000)
    signature: str = Field(description="base64 RSA PKCS#1 v1.5 SHA-256 signature", max_length=2000)
    consent: str = Field("0000", description="consent bits given at the reader: 薬剤情報, 診療情報, 特定健診情報, 手術情報",
                         max_length=4)
    confirmation_date: str | None = Field(None, description="資格確認日 (default: today, JST)", max_length=10)


class NumbersCheckIn(BaseModel):
    insurer_number: str = Field(description="公費負担者番号 (法別12) or 保険者番号", max_length=8, examples=["12130019"])
    identification_number: str = Field(description="受給者番号, or 被保険者番号", max_length=40, examples=["1010008"])
    birthdate: str | None = Field(None, description="生年月日 (YYYY-MM-DD)", max_length=10)
    card_symbol: str | None = Field(None, description="記号 (insurance)", max_length=40)
    branch_number: str | None = Field(None, description="枝番 (insurance)", max_length=2)
    confirmation_date: str | None = Field(None, description="資格確認日 (default: today, JST)", max_length=10)


@router.post("/card/challenge")
def card_challenge(db: DB, caller: Caller):
    """A one-time nonce for the card to sign (valid 120 s, consumed by the first attempt)."""
    return JSON(cards.create_challenge(db, caller))


@router.post("/card")
def check_by_card(body: CardCheckIn, db: DB, ca: CA, caller: Caller):
    return JSON(service.check_by_card(db, ca, caller, body.challenge, body.certificate, body.signature,
                                      body.consent, body.confirmation_date))


@router.post("/numbers")
async def check_by_numbers(body: NumbersCheckIn, db: DB, caller: Caller):
    """Check by the numbers of a paper 医療券/調剤券, prescription or insurance card."""
    # async on purpose: the reads are a few indexed lookups (sub-millisecond), and the audit record
    # is awaited, so no thread is parked while the group commit runs.
    return JSON(await service.check_by_numbers_async(db, caller, body.insurer_number, body.identification_number,
                                                     body.birthdate, body.confirmation_date, body.card_symbol,
                                                     body.branch_number))
