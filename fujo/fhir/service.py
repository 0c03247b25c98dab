"""The tickets a facility may see, one at a time, for the FHIR Coverage resources (GET /fhir/Coverage).

One rule set: the month comes from :func:`fujo.bulk.service.open_month` (refusals, the audit
entries committed before anything is read, the snapshot cursor), and every ticket is turned into its
result by the bulk's own ``_results`` (the same 未委託/停止・廃止 masking as the download); this module only
keeps each ticket's key, which the download does not carry, so that a Coverage has a stable id.
Checks by numbers need no service of their own: the FHIR views call
:func:`fujo.eligibility.service.check_by_numbers_async` and ``check_numbers_batch_async``."""

from __future__ import annotations

import re

from sqlalchemy import and_

from ..audit.service import record_check
from ..auth.principal import FACILITY, Principal
from ..bulk import service as bulk
from ..core.errors import NotFound
from ..core.rows import WireDict
from ..db import schema as s
from ..db.database import Database
from ..facility.service import require_assistance
from ..registry.queries import current_tickets

t, r = s.tickets, s.recipients
TICKET_KEY = re.compile(r"[0-9A-Za-z-]{1,36}")  # ticket keys are UUIDs (36 characters)


def month_coverages(db: Database, principal: Principal, month: str) -> tuple[WireDict, list[tuple[str, WireDict]]]:
    """The facility's tickets of ``month`` as (ticket key, result with that one ticket), in the
    download's order, and the download's header (MedicalInstitutionCode, MedicalTreatmentMonth, Cursor).
    Recorded exactly as the download is (method ``bulk``, one entry per recipient)."""
    stream = bulk.open_month(db, principal, month)  # its results (grouped per recipient) are not read:
    # the same snapshot is read below one ticket at a time, each with its key
    m, cursor = str(stream.header["MedicalTreatmentMonth"]), int(stream.header["Cursor"])
    mine = and_(t.c.designated_facility_code == principal.code, t.c.treatment_month == m)
    query = bulk._SELECT.where(mine, bulk.as_of(cursor)).order_by(r.c.payer_number, r.c.recipient_number, t.c.id)
    with db.read() as conn:
        rows = conn.execute(query, {"fid": principal.organisation_id}).all()
    return stream.header, [(str(x.ticket_key), bulk._results([x], principal)[0]) for x in rows]


def ticket_coverage(db: Database, principal: Principal, key: str) -> WireDict:
    """One ticket designated to this facility (its current revision, not cancelled), as the bulk
    download shows it; recorded (method ``bulk``) before it is returned. A ticket of another facility,
    cancelled, moved away or unknown is not found — the same answer, so nothing is revealed."""
    principal.require(FACILITY)
    require_assistance(principal)
    missing = NotFound("この医療券/調剤券はありません。", "No such ticket designated to this facility.")
    if not TICKET_KEY.fullmatch(key):
        raise missing
    query = bulk._SELECT.where(t.c.ticket_key == key, t.c.designated_facility_code == principal.code, current_tickets())
    with db.read() as conn:
        row = conn.execute(query, {"fid": principal.organisation_id}).first()
    if row is None:
        raise missing
    result = bulk._results([row], principal)[0]
    record_check(
        db,
        principal,
        "bulk",
        "-",
        person_id=row.person_id,
        recipient_id=row.recipient_id,
        detail=f"ticket={key}",
    )
    return result
