"""The qualification status of a month, for 委託先資格情報一括取得. Pure.

Bulk retrieval hands tickets to a receipt computer that bills from them, so every row says whether
the person is billable that month: 有効 (valid), or 停止 / 廃止 with the date assistance ended (the
first day it no longer covers). A ticket is billable when its validity overlaps the 保護 period; a
person none of whose tickets is billable is answered like a check of a lost qualification
(QualificationValidity 2): name, sex, birth date, office and the dates — never the numbers or the
ticket data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from . import codes
from .dates import month_bounds
from .rows import Period, TicketPeriod, WireDict

VALID, SUSPENDED, ABOLISHED, NOT_STARTED = "valid", "suspended", "abolished", "not_started"
STATUS_JA = {VALID: "有効", SUSPENDED: "停止", ABOLISHED: "廃止", NOT_STARTED: "保護開始前"}


def month_status(recipient: Period, month: str) -> tuple[str, dt.date | None]:
    """(status, date) of ``recipient`` for ``month`` (yyyyMM): ``suspended``/``abolished`` with the
    停止・廃止日 when assistance ends within or before the month, ``not_started`` when it starts after it."""
    _first, last = month_bounds(month)
    end = recipient.disqualification_date
    if end is not None and end <= last:
        kind = getattr(recipient, "disqualification_kind", None)
        return (SUSPENDED if kind == "1" else ABOLISHED), end
    if recipient.qualification_date > last:
        return NOT_STARTED, recipient.qualification_date
    return VALID, None


def billable(recipient: Period, ticket: TicketPeriod) -> bool:
    """Does the ticket's validity overlap the 保護 period (start day up to, not including, the end)?"""
    start, end = recipient.qualification_date, recipient.disqualification_date
    return ticket.valid_to >= start and (end is None or ticket.valid_from < end)


def status_fields(status: str, when: dt.date | None) -> WireDict:
    """The fujo extras a bulk row carries (JSON; the terminal's XML has no element for them)."""
    d = {"QualificationStatus": status, "QualificationStatusText": STATUS_JA[status]}
    if when is not None:
        d["QualificationStatusDate"] = when.strftime("%Y%m%d")
    return d


def validity_for_month(recipient: Period, tickets: Iterable[TicketPeriod]) -> str:
    """1 when at least one ticket is billable, else 2 (withheld as a lost qualification)."""
    return codes.VALID if any(billable(recipient, t) for t in tickets) else codes.INVALID
