"""Insurer API (保険者): health-insurance qualifications for the 併用 case."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import Field

from ..api.deps import DB, JSON, Caller, IdemHeader, RowId, idempotency, run_idempotent
from ..api.models import errors
from ..api.schemas import Loose, dump, model_from_fields
from ..core.fields import INSURANCE_FIELDS
from . import service
from .models import InsuranceQualificationOut

router = APIRouter(prefix="/api/v1/insurance-qualifications", tags=["insurer"])

if TYPE_CHECKING:  # generated from the field table at import time; to mypy, a model with extra keys
    QualificationIn = Loose
else:
    QualificationIn = model_from_fields(
        "InsuranceQualificationIn",
        INSURANCE_FIELDS,
        card_serial=(str | None, Field(None, max_length=40, description="link to this card's holder")),
    )


@router.post("", status_code=201, responses={201: {"model": InsuranceQualificationOut}, **errors(403, 422)})
async def register(request: Request, body: QualificationIn, db: DB, caller: Caller, key: IdemHeader = None):
    ik = await idempotency(request, caller, key)
    # the write in a worker thread: a database that waits must not stop the loop
    return await asyncio.to_thread(
        run_idempotent, db, ik, 201, lambda in_tx: service.register_qualification(db, caller, dump(body), in_tx)
    )


@router.get("/{qualification_id}", responses={200: {"model": InsuranceQualificationOut}, **errors(403, 404, 422)})
def get(qualification_id: RowId, db: DB, caller: Caller):
    return JSON(service.get_qualification(db, caller, qualification_id))
