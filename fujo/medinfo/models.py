"""Response models of the 薬剤情報等 routes (schema only, as every package's models.py)."""

from __future__ import annotations

from ..api.models import WIRE_TIME, ErrorOut, ReadModel, described
from ..core.consent import CATEGORY_JA

_CATS = dict(CATEGORY_JA)
_FLAGS = {"0": "なし", "1": "あり", "2": "期限切れ"}


class DuplicateOut(ReadModel):
    id: int = described("the other record's id", required=True)
    facility_name: str | None = described("its facility")
    date: str = described("its date (ISO)", required=True)
    drug_name: str = described("its drug", required=True)


class RecordOut(ReadModel):
    """One record; the keys are those of its category (fujo/medinfo/fields.py)."""

    id: int = described("record id", required=True)
    date: str = described("調剤・処方日 / 診療日 / 健診日 / 手術日 (ISO)", required=True)
    facility_code: str | None = described("医療機関等コード")
    facility_name: str | None = described("医療機関等名")
    drug_code: str | None = described("medication: 薬剤コード (YJ 12 / レセ電 9)")
    drug_name: str | None = described("medication: 薬剤名")
    ingredient: str | None = described("medication: 一般名")
    dose: str | None = described("medication: 用法・用量")
    days: int | None = described("medication: 日数")
    quantity: str | None = described("medication: 数量")
    end_date: str | None = described("medication: last day covered (date + days - 1)")
    duplicate: bool | None = described("medication: same ingredient from another facility in an overlapping period")
    duplicate_with: list[DuplicateOut] | None = described("medication: the records it duplicates")
    procedure_code: str | None = described("diagnosis / surgery: 診療行為コード / 手術コード")
    procedure_name: str | None = described("diagnosis / surgery: 診療行為名 / 術式")
    disease_name: str | None = described("diagnosis: 傷病名")
    icd10: str | None = described("diagnosis: ICD-10")
    item_code: str | None = described("checkups: 項目コード")
    item_name: str | None = described("checkups: 健診項目")
    value: str | None = described("checkups: 結果")
    unit: str | None = described("checkups: 単位")


class PatientOut(ReadModel):
    name: str = described("氏名", required=True)
    name_kana: str = described("氏名カナ", required=True)
    sex: str = described("性別 (1 男 2 女 3 未設定)", required=True)
    birthdate: str = described("生年月日 (ISO)", required=True)


class ViewOut(ReadModel):
    category: str = described("category", required=True, table=_CATS)
    category_ja: str = described("種類", required=True)
    disaster: bool | None = described("true: viewed in the disaster mode (no card, no consent)")
    patient: PatientOut = described("whom the records are about", required=True)
    consent_flag: str = described("ConsFlg for this facility", required=True, table=_FLAGS)
    consent_time: str | None = described("ConsTime (yyyyMMddHHmmss)", pattern=WIRE_TIME, nullable=True)
    available_time: str | None = described("AvailableTime = ConsTime + 24 h", pattern=WIRE_TIME, nullable=True)
    retained_from: str = described("oldest date served (the retention)", required=True)
    retention_years: int = described("the retention in years", required=True)
    records: list[RecordOut] = described("newest first", required=True)
    view_id: int = described("the audit record of this view (check_log id)", required=True)


class PlannedOut(ReadModel):
    drug_codes: list[str] = described("the drug codes sent", required=True)
    start_date: str = described("start of the planned period (ISO)", required=True)
    end_date: str = described("end of the planned period (ISO)", required=True)


class OverlapOut(ReadModel):
    drug_code: str = described("the planned drug", required=True)
    ingredient: str | None = described("the shared ingredient (一般名)")
    record: RecordOut = described("the medication it duplicates", required=True)


class OverlapsOut(ViewOut):
    planned: PlannedOut = described("what was checked", required=True)
    unknown_codes: list[str] = described("drug codes whose ingredient is not known here", required=True)
    overlaps: list[OverlapOut] = described("each overlap with a medication from another facility", required=True)


def refused() -> dict[int | str, dict[str, object]]:
    """403 of a view: ``forbidden`` (not a facility) or ``medinfo_refused`` with ``reason`` — no_consent,
    expired, other_facility, numbers_only, role, unavailable."""
    return {403: {"model": ErrorOut, "description": "medinfo_refused with the reason, or forbidden"}}


class RecordCreatedOut(RecordOut):
    category: str = described("category", required=True, table=_CATS)
    payer_number: str = described("公費負担者番号", required=True)
    recipient_number: str = described("受給者番号", required=True)


class RestrictionOut(ReadModel):
    payer_number: str = described("公費負担者番号", required=True)
    recipient_number: str = described("受給者番号", required=True)
    restricted: bool = described("閲覧制限", required=True)
    changed_at: str | None = described("when (ISO)")


class DisasterOut(ReadModel):
    id: int = described("opening id", required=True)
    reason: str = described("理由", required=True)
    prefectures: list[str] = described("都道府県番号", required=True)
    municipalities: list[str] = described("市区町村 (start of the registered address)", required=True)
    starts_at: str = described("from (ISO)", required=True)
    ends_at: str = described("up to, not including (ISO)", required=True)
    opened_at: str = described("opened (ISO)", required=True)
    opened_by: str = described("by", required=True)
    closed_at: str | None = described("closed (ISO)", nullable=True)
    closed_by: str | None = described("closed by", nullable=True)
    in_force: bool = described("open now", required=True)
