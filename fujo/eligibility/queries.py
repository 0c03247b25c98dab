"""The hot-path queries of a check, built once at import (SQLAlchemy caches their compiled form).
Each is one indexed equality lookup returning plain rows; no ORM objects are loaded."""
from __future__ import annotations

from sqlalchemy import bindparam, select

from ..db import schema as s

r, t, o, op, q, ref = (s.recipients, s.tickets, s.organisations, s.office_payers,
                       s.insurance_qualifications, s.reference_numbers)

RECIPIENT_BY_NUMBERS = select(r).where(r.c.payer_number == bindparam("payer"),
                                       r.c.recipient_number == bindparam("rn"))
RECIPIENTS_OF_PERSON = select(r).where(r.c.person_id == bindparam("pid"))
OFFICE_OF_PAYER = (select(o.c.name, o.c.phone).select_from(op.join(o, o.c.id == op.c.organisation_id))
                   .where(op.c.payer_number == bindparam("payer")))
TICKETS_OF_MONTH = select(t).where(t.c.recipient_id == bindparam("rid"), t.c.treatment_month == bindparam("month"),
                                   t.c.superseded_by.is_(None), t.c.status == "active")
INSURANCE_OF_PERSON = select(q).where(q.c.person_id == bindparam("pid")).order_by(q.c.qualification_date.desc())
INSURANCE_BY_NUMBERS = select(q).where(q.c.insurer_number == bindparam("ins"), q.c.card_number == bindparam("num"))
REFERENCE = select(ref.c.reference_number).where(ref.c.facility_id == bindparam("fid"),
                                                 ref.c.person_id == bindparam("pid"))
