"""The facility's own settings: 「医療扶助」 利用する/利用しない, and 照会番号 (its patient number,
so a My Number card works as the 診察券)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from ..auth.principal import FACILITY, MANAGER, Principal
from ..cards.ca import CardAuthority
from ..cards.service import CardProof, verify_proof
from ..core import numbers
from ..core.dates import parse_date
from ..core.errors import Conflict, FieldProblem, Forbidden, NotFound, Problems
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from ..eligibility import queries as Q
from ..orgs.auth_events import announce
from ..orgs.service import clear_auth_cache

MEDICAL_ASSISTANCE = "medical_assistance"


class AssistanceDisabled(Forbidden):
    code = "medical_assistance_disabled"


def require_assistance(principal: Principal) -> None:
    """Refuse medical-assistance data to a facility whose 「医療扶助」 is 利用しない: checks by a
    公費負担者番号, bulk retrieval and 照会番号 registration by such numbers all call this."""
    if not principal.medical_assistance_enabled:
        raise AssistanceDisabled(
            "この医療機関・薬局は「医療扶助」を「利用しない」設定です。環境設定で「利用する」に変更してください。",
            "Medical assistance is switched off for this facility (setting 医療扶助: 利用しない).",
        )


def get_settings(db: Database, principal: Principal) -> dict[str, Any]:
    """The facility's settings with the history of 「医療扶助」 changes (who, when), newest first."""
    principal.require(FACILITY)
    sc = s.setting_changes
    with db.read() as conn:
        row = conn.execute(select(s.organisations).where(s.organisations.c.id == principal.organisation_id)).one()
        changes = conn.execute(
            select(sc.c.value, sc.c.changed_at, sc.c.actor)
            .where(sc.c.organisation_id == principal.organisation_id, sc.c.setting == MEDICAL_ASSISTANCE)
            .order_by(sc.c.changed_at.desc(), sc.c.id.desc())
            .limit(20)
        ).all()
    return {
        "facility_code": row.code,
        "name": row.name,
        "medical_assistance_enabled": bool(row.medical_assistance_enabled),
        "can_change": principal.role == MANAGER,
        "changes": [
            {
                "medical_assistance_enabled": c.value == "1",
                "changed_at": aware(c.changed_at).isoformat(),
                "changed_by": c.actor,
            }
            for c in changes
        ],
    }


def set_medical_assistance(db: Database, principal: Principal, enabled: bool) -> dict[str, Any]:
    """Switch 「医療扶助」 利用する/利用しない: the facility's 管理者 only; recorded with who and when."""
    principal.require(FACILITY)
    principal.require_role(MANAGER)
    now = db.now()
    with db.write() as conn:
        conn.execute(
            update(s.organisations)
            .where(s.organisations.c.id == principal.organisation_id)
            .values(medical_assistance_enabled=enabled)
        )
        conn.execute(
            s.setting_changes.insert().values(
                organisation_id=principal.organisation_id,
                setting=MEDICAL_ASSISTANCE,
                value="1" if enabled else "0",
                changed_at=now,
                user_id=principal.user_id,
                credential_id=principal.credential_id,
                actor=(principal.actor or principal.role)[:100],
            )
        )
        announce(conn)  # every server process forgets the principals that carry the old setting
    clear_auth_cache()  # the setting travels in the Principal
    return get_settings(db, principal)


def validate_reference_number(value: str | None, problems: Problems) -> None:
    if not value or len(value) > 20 or not value.isascii() or not value.isalnum():
        problems.add(
            FieldProblem(
                "reference_number",
                "format",
                "照会番号は20文字以内の半角英数字です。",
                "reference_number must be 1-20 ASCII letters or digits.",
            )
        )


_INSURER_NUMBER_REQUIRED = FieldProblem(
    "insurer_number", "required", "保険者番号または公費負担者番号を入力してください。", "insurer_number is required."
)


def check_reference_form(
    *, reference_number: str, insurer_number: str, identification_number: str, birthdate: str, problems: Problems
) -> None:
    """Every missing field of a 照会番号 registration by numbers at once, for a form to show them
    together (:func:`register_reference` checks them again, and the numbers themselves)."""
    validate_reference_number(reference_number, problems)
    if not insurer_number:
        problems.add(_INSURER_NUMBER_REQUIRED)
    if not identification_number:
        problems.add(
            FieldProblem(
                "identification_number", "required", "受給者番号（または被保険者番号）を入力してください。", "required"
            )
        )
    problems.add(parse_date(birthdate, "birthdate", "生年月日", required=True)[1])


def person_by_numbers(
    conn: Connection,
    principal: Principal,
    problems: Problems,
    *,
    insurer_number: str | None,
    identification_number: str | None,
    birthdate: str | dt.date | None,
    branch_number: str | None = None,
) -> int:
    """The card holder behind a recipient's or an insured person's numbers + birth date.

    Registering a 照会番号 never changes the registry: the qualification must already be linked to
    a card holder (初回ひも付け is the welfare office's or insurer's act, not a facility's)."""
    ins, assistance = numbers.check_qualification_numbers(insurer_number, identification_number, problems)
    bd, p = parse_date(birthdate, "birthdate", "生年月日", required=True)
    problems.add(p)
    problems.raise_if_any()
    rows: Sequence[DbRow]
    if assistance:
        require_assistance(principal)
        rows = conn.execute(Q.RECIPIENT_BY_NUMBERS, {"payer": ins, "rn": identification_number}).all()
    else:
        rows = [
            x
            for x in conn.execute(Q.INSURANCE_BY_NUMBERS, {"ins": ins, "num": identification_number})
            if branch_number in (None, "") or x.branch_number == branch_number
        ]
    rows = [x for x in rows if x.birthdate == bd]
    if not rows:
        raise NotFound("該当する資格がありません。", "No qualification with these numbers and birth date.")
    persons = {x.person_id for x in rows}
    if len(persons) > 1:
        raise Conflict(
            "複数の方が該当します。枝番を指定してください。", "Several people match; give the branch number."
        )
    pid: int | None = persons.pop()
    if pid is None:
        raise Conflict(
            "この資格はまだマイナンバーカードにひも付けられていないため、照会番号を登録できません。",
            "This qualification is not linked to a My Number card yet, so no 照会番号 can be registered.",
        )
    return pid


def register_reference(
    db: Database,
    principal: Principal,
    *,
    reference_number: str,
    insurer_number: str | None = None,
    identification_number: str | None = None,
    person_id: int | None = None,
    birthdate: str | dt.date | None = None,
    branch_number: str | None = None,
) -> dict[str, Any]:
    """Register (or change) this facility's 照会番号 for a person, identified by the numbers of a
    qualification or by a verified card (``person_id`` from :func:`person_from_card`)."""
    principal.require(FACILITY)
    problems = Problems()
    validate_reference_number(reference_number, problems)
    if person_id is None and not insurer_number:
        problems.add(_INSURER_NUMBER_REQUIRED)
    problems.raise_if_any()
    now = db.now()
    rn = s.reference_numbers
    with db.write() as conn:
        if person_id is None:
            person_id = person_by_numbers(
                conn,
                principal,
                problems,
                insurer_number=insurer_number,
                identification_number=identification_number,
                birthdate=birthdate,
                branch_number=branch_number,
            )
        n = conn.execute(
            update(rn)
            .where(rn.c.facility_id == principal.organisation_id, rn.c.person_id == person_id)
            .values(reference_number=reference_number, updated_at=now)
        ).rowcount
        if not n:
            conn.execute(
                rn.insert().values(
                    facility_id=principal.organisation_id,
                    person_id=person_id,
                    reference_number=reference_number,
                    updated_at=now,
                )
            )
    return {"reference_number": reference_number, "registered": True}


def person_from_card(db: Database, ca: CardAuthority, principal: Principal, proof: CardProof) -> int:
    return verify_proof(
        db,
        ca,
        principal,
        challenge=proof.get("challenge"),
        certificate=proof.get("certificate"),
        signature=proof.get("signature"),
        consent=proof.get("consent", "0000"),
    )
