"""Read models of the claims check (schema only, see :mod:`fujo.api.models`), as
:mod:`fujo.claims.service` builds the report."""

from __future__ import annotations

from typing import Literal

from ..api.models import WIRE_MONTH, ReadModel, described
from .service import CODES

_CODE_TABLE = {k: f"{sev}: {ja}" for k, (sev, ja) in CODES.items()}


class FindingOut(ReadModel):
    code: str = described("what is wrong", required=True, table=_CODE_TABLE)
    severity: Literal["error", "warning", "info"] = described(
        "error: the claim would come back (返戻) as it is; warning: check before submitting; info: for "
        "reference only (never changes the claim's status)",
        required=True,
    )
    message_ja: str = described("what is wrong and what to do, in Japanese", required=True)
    message_en: str = described("the same in English", required=True)
    field: str = described("the line and field of the file (e.g. 12行目 KO.受給者番号)")
    ticket_key: str = described("the ticket concerned (this facility's)")
    revision: int = described("the ticket's revision that says so (cancelled, amended …)")
    changed_at: str = described("when that revision was written (ISO 8601)")
    date: str = described("保護の停止・廃止日 or 開始日 (ISO 8601)")
    months: list[str] = described("outside_validity: the months of this facility's tickets for the recipient")
    since_written: bool = described(
        "ticket_cancelled, ticket_moved, ticket_amended, ticket_revised (only when written_at was given): the "
        "change was made after the claims were written"
    )
    written_revision: int | None = described(
        "ticket_amended: the revision in force when the claims were written (null: registered after)"
    )
    changed_fields: list[str] = described(
        "ticket_amended: the fields (日本語 labels) that differ between that revision and the current one"
    )


class ClaimOut(ReadModel):
    line: int = described("line of the claim's RE record (or CSV row)", required=True)
    receipt_number: str | None = described("レセプト番号", required=True)
    facility_code: str | None = described("医療機関コード (from the IR record)", required=True)
    treatment_month: str | None = described("診療年月 yyyyMM (null when unreadable)", required=True)
    name: str = described("氏名 as in the claim", required=True)
    payer_number: str | None = described("公費負担者番号 as in the claim", required=True)
    recipient_number: str | None = described("受給者番号 as in the claim", required=True)
    status: Literal["ok", "warning", "error"] = described("the worst finding", required=True)
    findings: list[FindingOut] = described("what is wrong (empty: ok)", required=True)
    office_name: str = described("the 福祉事務所 to call (unless ok)")
    office_phone: str | None = described("its phone")


class CountsOut(ReadModel):
    claims: int = described("claims (RE records or CSV rows) read", required=True)
    assistance: int = described("medical-assistance claims checked", required=True)
    other: int = described("claims without 医療扶助 (not checked)", required=True)
    error: int = described("claims with an error", required=True)
    warning: int = described("claims with warnings only", required=True)
    ok: int = described("claims without findings", required=True)
    unbilled: int = described("office check: tickets of the months never billed")


class UnbilledOut(ReadModel):
    ticket_key: str = described("the ticket", required=True)
    revision: int = described("its current revision", required=True)
    treatment_month: str = described("診療年月", required=True, pattern=WIRE_MONTH)
    payer_number: str = described("公費負担者番号", required=True)
    recipient_number: str = described("受給者番号", required=True)
    name: str = described("氏名", required=True)
    designated_facility_code: str = described("指定医療機関コード", required=True)
    designated_facility_name: str = described("指定医療機関名", required=True)
    message_ja: str = described("what to do", required=True)


class ClaimsReportOut(ReadModel):
    mode: Literal["facility", "office"] = described("whose check", required=True)
    format: Literal["uke", "csv"] = described("the input format read", required=True)
    organisation_code: str = described("医療機関コード or 福祉事務所 code of the caller", required=True)
    months: list[str] = described("診療年月 of the claims checked (yyyyMM)", required=True)
    written_at: str | None = described(
        "when the claims were written, as given (ISO 8601, JST); null when not given", required=True
    )
    counts: CountsOut = described("how many", required=True)
    by_code: dict[str, int] = described("findings per code", required=True)
    claims: list[ClaimOut] = described("one per medical-assistance claim, in file order", required=True)
    unbilled: list[UnbilledOut] = described("office check: tickets in force of the months billed with no claim")
