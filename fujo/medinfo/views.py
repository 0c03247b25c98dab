"""薬剤情報等 API: facilities view (with consent), offices feed and restrict, the administrator opens
the disaster mode."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from pydantic import BaseModel, Field

from ..api.deps import DB, JSON, Caller, RowId
from ..api.models import errors
from ..registry.models import ImportErrorOut, ImportReportOut
from . import csv_import, service
from .models import DisasterOut, OverlapsOut, RecordCreatedOut, RestrictionOut, ViewOut, refused

router = APIRouter(prefix="/api/v1", tags=["medical information"])

CategoryPath = Annotated[str, Path(max_length=12, description="medication | diagnosis | checkups | surgery")]


class OverlapsIn(BaseModel):
    drug_codes: list[str] = Field(description="drug codes about to be prescribed (YJ or レセ電)", max_length=50)
    start_date: str | None = Field(None, description="start of the planned period (today when left out)", max_length=20)
    days: int | None = Field(None, description="日数 of the planned prescription (1 when left out)")
    check_id: int | None = Field(None, description="CheckId of this facility's check of the patient")
    payer_number: str | None = Field(None, max_length=8)
    recipient_number: str | None = Field(None, max_length=7)


class RestrictionIn(BaseModel):
    restricted: bool = Field(description="true: restrict viewing (DV・虐待); false: lift it")
    reason: str | None = Field(None, max_length=200)


class DisasterIn(BaseModel):
    reason: str = Field(description="理由 (e.g. 災害救助法の適用)", max_length=200)
    starts_at: str = Field(description="ISO date or date-time (JST when no offset)", max_length=40)
    ends_at: str = Field(description="ISO date (included) or date-time (up to, not including)", max_length=40)
    prefectures: list[str] = Field(default_factory=list, description="都道府県番号 01–47", max_length=47)
    municipalities: list[str] = Field(
        default_factory=list, description="市区町村 with their prefecture, e.g. 石川県輪島市", max_length=200
    )


class DisasterSearchIn(BaseModel):
    name: str = Field(description="氏名", max_length=60)
    birthdate: str = Field(description="生年月日 (ISO or 和暦)", max_length=20)
    sex: str = Field(description="性別 1 男 2 女 3 未設定", max_length=1)
    address: str | None = Field(None, description="住所 (its beginning is enough)", max_length=200)


@router.post(
    "/medinfo/medication/overlaps",
    responses={200: {"model": OverlapsOut}, **errors(422), **refused()},
)
def medication_overlaps(body: OverlapsIn, db: DB, caller: Caller):
    """Duplicate-prescription check: the drugs about to be prescribed against the patient's medications."""
    return JSON(
        service.overlaps(
            db,
            caller,
            drug_codes=body.drug_codes,
            start_date=body.start_date,
            days=body.days,
            check_id=body.check_id,
            payer_number=body.payer_number,
            recipient_number=body.recipient_number,
        )
    )


@router.post(
    "/medinfo/disaster/medication",
    responses={200: {"model": ViewOut}, **errors(403, 404, 409, 422)},
)
def disaster_medication(body: DisasterSearchIn, db: DB, caller: Caller):
    """災害時: medication information without a card, inside an open disaster area."""
    return JSON(
        service.disaster_medication(
            db, caller, name=body.name, birthdate=body.birthdate, sex=body.sex, address=body.address
        )
    )


@router.get("/medinfo/{category}", responses={200: {"model": ViewOut}, **errors(422), **refused()})
def view(
    category: CategoryPath,
    db: DB,
    caller: Caller,
    check_id: int | None = Query(None, ge=1, le=2**53, description="CheckId of this facility's check"),
    payer_number: str | None = Query(None, max_length=8),
    recipient_number: str | None = Query(None, max_length=7),
):
    """medication | diagnosis | checkups | surgery of a patient, with the patient's live consent."""
    return JSON(
        service.view(
            db,
            caller,
            category=category,
            check_id=check_id,
            payer_number=payer_number,
            recipient_number=recipient_number,
        )
    )


@router.post(
    "/medinfo/{category}/records",
    status_code=201,
    responses={201: {"model": RecordCreatedOut}, **errors(403, 404, 422)},
)
def add_record(category: CategoryPath, body: dict[str, Any], db: DB, caller: Caller):
    """One record for a recipient (welfare office: its own 公費負担者番号; administrator)."""
    return JSON(service.add_record(db, caller, category, body), status_code=201)


@router.post(
    "/medinfo/{category}/imports",
    responses={
        200: {"model": ImportReportOut},
        **errors(403),
        422: {"model": ImportErrorOut, "description": "import_failed with the per-row report (nothing written)"},
    },
)
async def import_records(category: CategoryPath, db: DB, caller: Caller, file: Annotated[UploadFile, File()]):
    """All-or-nothing CSV import of one category."""
    service.require_feeder(caller)
    data = await file.read()
    report = await asyncio.to_thread(csv_import.import_csv, db, caller, category, data)  # off the loop
    return JSON(report.as_dict())


@router.put(
    "/recipients/{payer_number}/{recipient_number}/restriction",
    responses={200: {"model": RestrictionOut}, **errors(403, 404, 422)},
)
def set_restriction(payer_number: str, recipient_number: str, body: RestrictionIn, db: DB, caller: Caller):
    """閲覧制限 (DV・虐待の被害者): set or lift."""
    return JSON(
        service.set_restriction(
            db, caller, payer=payer_number, rn=recipient_number, restricted=body.restricted, reason=body.reason
        )
    )


@router.post("/disasters", status_code=201, responses={201: {"model": DisasterOut}, **errors(403, 422)})
def open_disaster(body: DisasterIn, db: DB, caller: Caller):
    """The administrator opens the disaster mode for an area and a period."""
    return JSON(
        service.open_disaster(
            db,
            caller,
            reason=body.reason,
            starts=body.starts_at,
            ends=body.ends_at,
            prefectures=body.prefectures,
            municipalities=body.municipalities,
        ),
        status_code=201,
    )


@router.get("/disasters", responses={200: {"model": list[DisasterOut]}, **errors(403)})
def list_disasters(db: DB, caller: Caller):
    return JSON(service.list_disasters(db, caller))


@router.post("/disasters/{opening_id}/close", responses={200: {"model": DisasterOut}, **errors(403, 404, 409, 422)})
def close_disaster(opening_id: RowId, db: DB, caller: Caller):
    """Closing takes effect at once."""
    return JSON(service.close_disaster(db, caller, opening_id))
