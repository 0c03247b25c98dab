"""Building blocks of the 薬剤情報等 tests: records, card checks with consent, a clinician."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from fujo.db import schema
from fujo.eligibility.service import check_by_card, check_by_numbers
from fujo.medinfo import service
from tests.factories import CLINIC, OTHER, PHARMACY
from tests.helpers import card_proof

ALL = {"PharmacistsInfo": True, "DiagnosisInfo": True, "SpecificHealthCheckupsInfo": True, "OperationInfo": True}
AMLODIPINE = ("2171022F1020", "アムロジピン錠5mg「サワイ」", "アムロジピンベシル酸塩")
AMLODIPINE_OD = ("2171022F2025", "アムロジピンOD錠5mg「トーワ」", "アムロジピンベシル酸塩")
METFORMIN = ("3962002F1020", "メトグルコ錠250mg", "メトホルミン塩酸塩")


def as_role(principal, role: str):
    return dataclasses.replace(principal, role=role)


def clinician(world, key: str = "clinic"):
    return as_role(world.principal(key), "clinician")


def medication(r: dict, on: dt.date, drug=AMLODIPINE, facility: str = CLINIC, name="●●医療機関", days=28) -> dict:
    return {
        "payer_number": r["payer_number"],
        "recipient_number": r["recipient_number"],
        "date": on.isoformat(),
        "facility_code": facility,
        "facility_name": name,
        "drug_code": drug[0],
        "drug_name": drug[1],
        "ingredient": drug[2],
        "dose": "1日1回朝食後 1回1錠",
        "days": str(days),
        "quantity": str(days),
    }


def add(world, category: str, data: dict, office: str = "office") -> dict:
    return service.add_record(world.db, world.principal(office), category, data)


def card_check(world, card: dict, key: str = "clinic", consent: dict | None = None, principal=None) -> dict:
    p = principal or world.principal(key)
    proof = card_proof(world.db, p, card, consent if consent is not None else ALL)
    return check_by_card(world.db, world.ca, p, **proof)


def numbers_check(world, r: dict, key: str = "clinic") -> dict:
    return check_by_numbers(
        world.db,
        world.principal(key),
        insurer_number=r["payer_number"],
        identification_number=r["recipient_number"],
        birthdate=r["birthdate"],
    )


def audit_rows(db, method: str = "medinfo") -> list:
    cl = schema.check_log
    with db.read() as conn:
        return conn.execute(select(cl).where(cl.c.method == method).order_by(cl.c.id)).all()


__all__ = ["CLINIC", "OTHER", "PHARMACY"]
