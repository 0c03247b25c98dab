"""The facility's own settings: 「医療扶助」 利用する/利用しない, and 照会番号 (its patient number,
so a My Number card works as the 診察券)."""
from __future__ import annotations

from sqlalchemy import select, update

from ..auth.principal import FACILITY, Principal
from ..cards.ca import CardAuthority
from ..cards.service import create_person, verify_proof
from ..core import numbers
from ..core.errors import FieldProblem, NotFound, Problems
from ..db import schema as s
from ..db.database import Database
from ..eligibility import queries as Q
from ..orgs.service import clear_auth_cache


def get_settings(db: Database, principal: Principal) -> dict:
    principal.require(FACILITY)
    with db.read() as conn:
        row = conn.execute(select(s.organisations).where(s.organisations.c.id == principal.organisation_id)).first()
    return {"facility_code": row.code, "name": row.name, "medical_assistance_enabled": bool(row.medical_assistance_enabled)}


def set_medical_assistance(db: Database, principal: Principal, enabled: bool) -> dict:
    principal.require(FACILITY)
    with db.write() as conn:
        conn.execute(update(s.organisations).where(s.organisations.c.id == principal.organisation_id)
                     .values(medical_assistance_enabled=enabled))
    clear_auth_cache()  # the setting travels in the Principal
    return get_settings(db, principal)


def validate_reference_number(value: str | None, problems: Problems) -> None:
    if not value or len(value) > 20 or not value.isascii() or not value.isalnum():
        problems.add(FieldProblem("reference_number", "format", "照会番号は20文字以内の半角英数字です。",
                                  "reference_number must be 1-20 ASCII letters or digits."))


def person_by_numbers(conn, insurer_number: str, identification_number: str, now, problems: Problems):
    """The person behind a recipient's or an insured's numbers (created and linked if needed)."""
    ins = numbers.normalize_insurer_number(insurer_number or "")
    if ins.startswith("12") and len(ins) == 8:
        problems.add(numbers.check_payer_number(ins, field="insurer_number"))
        problems.add(numbers.check_recipient_number(identification_number or "", field="identification_number"))
        problems.raise_if_any()
        rec = conn.execute(Q.RECIPIENT_BY_NUMBERS, {"payer": ins, "rn": identification_number}).first()
        table, row = s.recipients, rec
    else:
        problems.add(numbers.check_insurer_number(ins))
        problems.raise_if_any()
        row = conn.execute(Q.INSURANCE_BY_NUMBERS, {"ins": ins, "num": identification_number}).first()
        table = s.insurance_qualifications
    if row is None:
        raise NotFound("該当する資格がありません。", "No qualification with these numbers.")
    if row.person_id is not None:
        return row.person_id
    pid = create_person(conn, now)
    conn.execute(update(table).where(table.c.id == row.id).values(person_id=pid))
    return pid


def register_reference(db: Database, principal: Principal, reference_number: str, insurer_number: str | None = None,
                       identification_number: str | None = None, person_id: int | None = None) -> dict:
    """Register (or change) this facility's 照会番号 for a person, identified by the numbers of a
    qualification or by a verified card (``person_id`` from :func:`person_from_card`)."""
    principal.require(FACILITY)
    problems = Problems()
    validate_reference_number(reference_number, problems)
    if person_id is None and not insurer_number:
        problems.add(FieldProblem("insurer_number", "required", "保険者番号または公費負担者番号を入力してください。",
                                  "insurer_number is required."))
    problems.raise_if_any()
    now = db.now()
    rn = s.reference_numbers
    with db.write() as conn:
        if person_id is None:
            person_id = person_by_numbers(conn, insurer_number, identification_number, now, problems)
        n = conn.execute(update(rn).where(rn.c.facility_id == principal.organisation_id, rn.c.person_id == person_id)
                         .values(reference_number=reference_number, updated_at=now)).rowcount
        if not n:
            conn.execute(rn.insert().values(facility_id=principal.organisation_id, person_id=person_id,
                                            reference_number=reference_number, updated_at=now))
    return {"reference_number": reference_number, "registered": True}


def person_from_card(db: Database, ca: CardAuthority, principal: Principal, proof: dict) -> int:
    return verify_proof(db, ca, principal, proof.get("challenge"), proof.get("certificate"), proof.get("signature"),
                        proof.get("consent", "0000"))
