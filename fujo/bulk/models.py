"""Read models of 委託先資格情報一括取得 (schema only, see :mod:`fujo.api.models`): the month's
tickets per recipient and the change feed, as :mod:`fujo.bulk.service` builds them."""

from __future__ import annotations

from typing import Literal

from ..api.models import WIRE_MONTH, ReadModel, described
from ..core import monthly
from ..eligibility.models import ResultOfQualificationConfirmation


class MonthResult(ResultOfQualificationConfirmation):
    """A ResultOfQualificationConfirmation (A1) with the tickets designated to the facility and the
    qualification status of the month. A person with no billable ticket is withheld as in a check of
    a lost qualification (QualificationValidity 2: no numbers, no ticket data)."""

    QualificationStatus: str = described(
        "保護 status of the month (fujo extra)", required=True, table=monthly.STATUS_JA
    )
    QualificationStatusText: str = described(
        "the status in Japanese: " + "・".join(monthly.STATUS_JA.values()), required=True
    )
    QualificationStatusDate: str = described("unless valid: the 停止・廃止日 (or the 保護開始日), yyyyMMdd")


class MonthTicketsOut(ReadModel):
    MedicalInstitutionCode: str = described("医療機関コード of the asking facility", required=True)
    MedicalTreatmentMonth: str = described("診療年月", required=True, pattern=WIRE_MONTH)
    Cursor: int = described(
        "the change-feed cursor as of this download (for GET /facility/tickets/changes)", required=True
    )
    Count: int = described("results (recipients) in ResultList", required=True)
    ResultList: list[MonthResult] = described("one per recipient, with that recipient's tickets", required=True)


class ChangeOut(ReadModel):
    Change: Literal["upsert", "removed"] = described(
        "upsert: new, amended or late-registered ticket designated to you (with Result); "
        "removed: cancelled, moved to another facility or out of the month followed",
        required=True,
    )
    TicketKey: str = described("the ticket's key (stable across revisions)", required=True)
    Seq: int = described("the revision's sequence number (the cursor moves past it)", required=True)
    Result: MonthResult = described("upsert only: the recipient with this ticket, as in the month download")


class ChangesOut(ReadModel):
    MedicalInstitutionCode: str = described("医療機関コード of the asking facility", required=True)
    Cursor: int = described("store it and call again with it; no change ever appears below it later", required=True)
    HasMore: bool = described("more changes wait: call again at once", required=True)
    Changes: list[ChangeOut] = described("in sequence order", required=True)
