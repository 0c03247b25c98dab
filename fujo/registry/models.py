"""Read models of the welfare office's routes (schema only, see :mod:`fujo.api.models`): recipients,
tickets with their revisions, the facility registry and CSV import reports, as
:mod:`fujo.registry.service`, :mod:`fujo.registry.facilities` and :mod:`fujo.registry.csv_import`
build them. Registry resources use snake_case keys (the field tables' names) and ISO dates; every
field of the table is present, null when not set."""

from __future__ import annotations

import datetime as dt

from ..api.models import ErrorDetail, ReadModel, by_name, column, described
from ..core import numbers
from ..core.fields import RECIPIENT_FIELDS, TICKET_FIELDS

_R, _T = by_name(RECIPIENT_FIELDS), by_name(TICKET_FIELDS)


class _RecipientColumns(ReadModel):
    payer_number: str = column(_R["payer_number"])
    recipient_number: str = column(_R["recipient_number"])
    name: str = column(_R["name"])
    name_kana: str = column(_R["name_kana"], description="氏名カナ (half-width)")
    sex: str = column(_R["sex"])
    birthdate: dt.date = column(_R["birthdate"])
    address: str | None = column(_R["address"])
    post_number: str | None = column(_R["post_number"], description="郵便番号 (123-4567)")
    qualification_date: dt.date = column(_R["qualification_date"])
    disqualification_date: dt.date | None = column(_R["disqualification_date"])
    disqualification_kind: str | None = column(_R["disqualification_kind"])
    disqualification_reason: str | None = column(_R["disqualification_reason"])


class RecipientOut(_RecipientColumns):
    """A recipient (被保護者) as registered now."""

    id: int = described("row id", required=True)
    version: int = described("optimistic lock: send it back as expected_version", required=True)
    card_linked: bool = described("linked to a My Number card holder (初回ひも付け)", required=True)
    restricted: bool = described(
        "閲覧制限 (DV・虐待): no address to any facility, name and birth date only to the designated one, "
        "no 薬剤情報等 (PUT …/restriction)",
        required=True,
    )
    updated_at: dt.datetime = described("ISO 8601 with offset", required=True)


class RecipientRevisionOut(_RecipientColumns):
    """An earlier state of the recipient (the columns as they were before a change)."""

    version: int = described("the version this state had", required=True)
    changed_at: dt.datetime = described("when it was replaced", required=True)
    disqualification_kind: str | None = column(
        _R["disqualification_kind"], required=False, description="停止・廃止の別 (absent in states from before 0003)"
    )
    disqualification_reason: str | None = column(
        _R["disqualification_reason"],
        required=False,
        description="停止・廃止の理由 (absent in states from before 0003)",
    )


class TicketOut(ReadModel):
    """A 医療券/調剤券 revision."""

    ticket_key: str = described("the ticket's key (stable across revisions)", required=True)
    revision: int = described("revision number: send it back as expected_revision", required=True)
    status: str = described("active or cancelled", required=True, table={"active": "有効", "cancelled": "取消"})
    payer_number: str = described("公費負担者番号 (not in a recipient's list of tickets)")
    recipient_number: str = described("受給者番号 (not in a recipient's list of tickets)")
    ticket_type: str = column(_T["ticket_type"])
    treatment_month: str = column(_T["treatment_month"], description="診療年月 (yyyyMM)")
    valid_from: dt.date = column(_T["valid_from"])
    valid_to: dt.date = column(_T["valid_to"])
    issue_number: str | None = column(_T["issue_number"])
    designated_facility_code: str = column(_T["designated_facility_code"])
    designated_facility_name: str | None = column(
        _T["designated_facility_name"], description="指定医療機関名 (the registry's)"
    )
    prescription_issuer_code: str | None = column(_T["prescription_issuer_code"])
    prescription_issuer_name: str | None = column(
        _T["prescription_issuer_name"], description="処方箋発行医療機関名 (the registry's)"
    )
    injury_name1: str | None = column(_T["injury_name1"])
    injury_name2: str | None = column(_T["injury_name2"])
    injury_name3: str | None = column(_T["injury_name3"])
    treatment_type: str = column(_T["treatment_type"])
    self_pay_amount: int | None = column(_T["self_pay_amount"], description="本人支払額 (yen)")
    district_contact_name: str | None = column(_T["district_contact_name"])
    handling_contact_name: str | None = column(_T["handling_contact_name"])
    single_or_combined: str = column(_T["single_or_combined"])
    social_insurance: str | None = column(_T["social_insurance"])
    consistency_flag: str | None = column(_T["consistency_flag"])
    infection_status: str | None = column(_T["infection_status"])
    elderly_care_status: str | None = column(_T["elderly_care_status"])
    prefectural_expense_status: str | None = column(_T["prefectural_expense_status"])
    remarks1: str | None = column(_T["remarks1"])
    remarks2: str | None = column(_T["remarks2"])
    remarks3: str | None = column(_T["remarks3"])
    registered_at: dt.datetime = described("when the ticket was first registered", required=True)
    changed_at: dt.datetime = described("when this revision was written", required=True)
    change_reason: str | None = described("変更・取消理由 of this revision", required=True, nullable=True)
    seq: int = described("change-feed sequence number of this revision", required=True)


class TicketDetailOut(TicketOut):
    """The current revision with every revision (oldest first)."""

    history: list[TicketOut] = described("every revision, oldest first", required=True)


class LateTicketOut(TicketOut):
    """A ticket registered after the recipient was first checked at the designated facility that month."""

    name: str = described("氏名", required=True)
    first_checked_at: dt.datetime = described("the first check at the designated facility that month", required=True)


class RecipientDetailOut(RecipientOut):
    history: list[RecipientRevisionOut] = described("earlier states, oldest first", required=True)
    tickets: list[TicketOut] = described(
        "current revisions of the recipient's tickets, newest month first", required=True
    )


class FacilityOut(ReadModel):
    """A facility of the registry (指定医療機関・薬局)."""

    code: str = described("医療機関コード", required=True)
    name: str = described("医療機関名 (the 指定医療機関名 of tickets)", required=True)
    score_table: str = described("点数表 (from the code)", required=True, table=numbers.SCORE_TABLE_KINDS)
    kind: str = described("点数表 in words (- when unknown)", required=True)
    prefecture: str = described("都道府県番号 (from the code)", required=True)
    address: str | None = described("住所", required=True, nullable=True)
    phone: str | None = described("電話番号", required=True, nullable=True)
    updated_at: dt.datetime = described("ISO 8601 with offset", required=True)


class RowErrorOut(ReadModel):
    row: int = described("line of the file (header = 1)", required=True)
    field: str = described("the column", required=True)
    message_ja: str = described("説明（日本語）", required=True)
    message_en: str = described("explanation (English)", required=True)


class ImportReportOut(ReadModel):
    kind: str = described("recipients, tickets, insurance or facilities", required=True)
    rows: int = described("data rows read", required=True)
    written: int = described("rows written (0 when refused: all or nothing)", required=True)
    ok: bool = described("no errors", required=True)
    errors: list[RowErrorOut] = described("every problem found, by row and column", required=True)


class ImportErrorDetail(ErrorDetail):
    report: ImportReportOut = described("import_failed: the per-row report (nothing was written)")


class ImportErrorOut(ReadModel):
    """The error shape, with the per-row report of import_failed."""

    error: ImportErrorDetail = described("the refusal", required=True)
