"""Facility API: the 「医療扶助」 setting and 照会番号 registration."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..api.deps import CA, DB, JSON, Caller
from ..api.models import errors
from ..cards.service import CardProof
from . import service
from .models import FacilitySettingsOut, ReferenceOut

router = APIRouter(prefix="/api/v1/facility", tags=["facility"])


class SettingsIn(BaseModel):
    medical_assistance_enabled: bool = Field(description="「医療扶助」 利用する (true) / 利用しない (false)")


class CardProofIn(BaseModel):
    challenge: str = Field(max_length=64)
    certificate: str = Field(max_length=8000)
    signature: str = Field(max_length=2000)
    consent: str = Field("0000", max_length=6)

    def as_proof(self) -> CardProof:
        return {
            "challenge": self.challenge,
            "certificate": self.certificate,
            "signature": self.signature,
            "consent": self.consent,
        }


class ReferenceIn(BaseModel):
    reference_number: str = Field(description="照会番号 (the facility's patient number)", max_length=20)
    insurer_number: str | None = Field(None, description="公費負担者番号 or 保険者番号", max_length=8)
    identification_number: str | None = Field(None, description="受給者番号 or 被保険者番号", max_length=40)
    birthdate: str | None = Field(None, description="生年月日 (required with the numbers)", max_length=10)
    branch_number: str | None = Field(None, description="枝番 (insurance)", max_length=2)
    card_proof: CardProofIn | None = Field(None, description="identify the person by a card proof instead")


@router.get("/settings", responses={200: {"model": FacilitySettingsOut}, **errors(403)})
def get_settings(db: DB, caller: Caller):
    return JSON(service.get_settings(db, caller))


@router.put("/settings", responses={200: {"model": FacilitySettingsOut}, **errors(403, 422)})
def put_settings(body: SettingsIn, db: DB, caller: Caller):
    return JSON(service.set_medical_assistance(db, caller, body.medical_assistance_enabled))


@router.put("/references", responses={200: {"model": ReferenceOut}, **errors(403, 404, 409, 422)})
def register_reference(body: ReferenceIn, db: DB, ca: CA, caller: Caller):
    pid = service.person_from_card(db, ca, caller, body.card_proof.as_proof()) if body.card_proof else None
    return JSON(
        service.register_reference(
            db,
            caller,
            reference_number=body.reference_number,
            insurer_number=body.insurer_number,
            identification_number=body.identification_number,
            person_id=pid,
            birthdate=body.birthdate,
            branch_number=body.branch_number,
        )
    )
