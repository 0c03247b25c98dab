"""Facility API (医療機関・薬局): check by card (challenge → proof) and check by numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, SkipValidation
from pydantic import ValidationError as PydanticError

from ..api import limits
from ..api.deps import CA, DB, JSON, Caller
from ..api.errors import _problem
from ..api.lean import LeanRoute, lean
from ..api.models import errors
from ..auth.principal import Principal
from ..cards import service as cards
from ..core.errors import ValidationFailed
from . import service
from .models import ChallengeOut, CheckOut, NumbersBatchOut

# LeanRoute: a well-formed check by numbers skips FastAPI's per-request dependency solving (fujo.api.lean)
router = APIRouter(prefix="/api/v1/checks", tags=["facility"], route_class=LeanRoute)


class CardCheckIn(BaseModel):
    challenge: str = Field(max_length=64)
    certificate: str = Field(description="the card's certificate, base64 DER", max_length=8000)
    signature: str = Field(description="base64 RSA PKCS#1 v1.5 SHA-256 signature", max_length=2000)
    consent: str = Field(
        "0000",
        description="consent bits given at the reader: 薬剤情報, 診療情報, 特定健診情報, 手術情報"
        " and, optionally, 限度額適用認定証 (5th) and 特定疾病療養受療証 (6th) information",
        max_length=6,
    )
    confirmation_date: str | None = Field(None, description="資格確認日 (default: today, JST)", max_length=10)


class NumbersCheckIn(BaseModel):
    insurer_number: str = Field(
        description="公費負担者番号 (法別12) or 保険者番号", max_length=8, examples=["12130019"]
    )
    identification_number: str = Field(description="受給者番号, or 被保険者番号", max_length=40, examples=["1010008"])
    birthdate: str | None = Field(None, description="生年月日 (YYYY-MM-DD)", max_length=10)
    card_symbol: str | None = Field(None, description="記号 (insurance)", max_length=40)
    branch_number: str | None = Field(None, description="枝番 (insurance)", max_length=2)
    confirmation_date: str | None = Field(None, description="資格確認日 (default: today, JST)", max_length=10)
    limit_application_consent: bool = Field(
        False,
        description="the patient consents to the 限度額適用認定証 "
        "information (LimitApplicationCertificateRelatedConsFlg 1)",
    )


@router.post("/card/challenge", responses={200: {"model": ChallengeOut}, **errors(403)})
def card_challenge(db: DB, caller: Caller):
    """A one-time nonce for the card to sign (valid 120 s, consumed by the first attempt)."""
    return JSON(cards.create_challenge(db, caller))


@router.post("/card", responses={200: {"model": CheckOut}, **errors(403, 422)}, max_body_size=limits.CHECK)
def check_by_card(body: CardCheckIn, db: DB, ca: CA, caller: Caller):
    return JSON(
        service.check_by_card(
            db,
            ca,
            caller,
            challenge=body.challenge,
            certificate=body.certificate,
            signature=body.signature,
            consent=body.consent,
            confirmation_date=body.confirmation_date,
        )
    )


# The check's keyword arguments (NumbersQuery), which are the fields of the body.
NUMBERS_QUERY_KEYS = set(service.NumbersQuery.__required_keys__ | service.NumbersQuery.__optional_keys__)
# tests/api/test_openapi_contracts.py checks that NumbersCheckIn has exactly these fields


async def _numbers_answer(request: Request, body: NumbersCheckIn, caller: Principal) -> JSON:
    # async on purpose: the reads run in a worker thread with a timeout (never on the event loop),
    # and the audit record is awaited, so no thread is parked while the group commit runs.
    db = request.app.state.db
    return JSON(await service.check_by_numbers_async(db, caller, **body.model_dump(include=NUMBERS_QUERY_KEYS)))


@router.post("/numbers", responses={200: {"model": CheckOut}, **errors(403, 422, 503)}, max_body_size=limits.CHECK)
@lean(NumbersCheckIn, _numbers_answer)  # the hot path: a valid body is answered without dependency solving
async def check_by_numbers(request: Request, body: NumbersCheckIn, caller: Caller):
    """Check by the numbers of a paper 医療券/調剤券, prescription or insurance card."""
    return await _numbers_answer(request, body, caller)


class NumbersBatchItemIn(NumbersCheckIn):
    arbitrary_identifier: str | None = Field(
        None, description="the client's own id of this item, echoed back", max_length=100
    )


class NumbersBatchIn(BaseModel):
    # Items are validated one by one (SkipValidation here): a bad item is answered in its place,
    # it does not refuse the batch.
    items: list[SkipValidation[NumbersBatchItemIn]] = Field(
        description=f"up to {service.BATCH_MAX:,} items, each the body of POST /checks/numbers "
        "(+ arbitrary_identifier); answered in this order"
    )


def _batch_item(raw) -> dict:
    """A readable item as keyword arguments of the check; else ``{"error": ...}`` (its field problems)."""
    try:
        return NumbersBatchItemIn.model_validate(raw).model_dump()
    except PydanticError as e:
        problems = [_problem(x) for x in e.errors()]
        out: dict[str, Any] = {
            "error": ValidationFailed(problems=[p if p.field != "body" else replace(p, field="item") for p in problems])
        }
        ident = raw.get("arbitrary_identifier") if isinstance(raw, dict) else None
        if isinstance(ident, str) and len(ident) <= 100:
            out["arbitrary_identifier"] = ident
        return out


@router.post(
    "/numbers/batch",
    responses={200: {"model": NumbersBatchOut}, **errors(403, 422, 503)},
    max_body_size=limits.CHECK_BATCH,
)
async def check_numbers_batch(body: NumbersBatchIn, db: DB, caller: Caller):
    """Many checks by numbers at once (e.g. the month-start re-check of every patient): each item is
    checked as by POST /checks/numbers and answered in request order; a bad item gets its Error."""
    service.require_batch(caller, len(body.items))
    items = [_batch_item(x) for x in body.items]
    return JSON(await service.check_numbers_batch_async(db, caller, items))
