"""Field tables of the 薬剤情報等 records: one per category, shared by the API, the CSV import and the
screens (the key is the JSON key and the CSV column; ``column`` the storage column of
``medinfo_records``). Values are cleaned with :func:`fujo.core.fields.clean_value`, plus the code
formats of this module (YJ / レセ電 drug codes, 診療行為コード, 手術コード, ICD-10)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core import medinfo as rules
from ..core.consent import CATEGORIES
from ..core.errors import FieldProblem, Problems
from ..core.fields import Field, clean_value, refuse_unknown
from ..core.rows import Record


@dataclass(frozen=True)
class Spec:
    key: str  # JSON key and CSV column
    column: str  # medinfo_records column
    label_ja: str
    kind: str  # date | facility | text | amount | drug_code | procedure_code | operation_code | icd10
    required: bool = False
    max_len: int = 100


_FAC = (
    Spec("facility_code", "facility_code", "医療機関等コード", "facility", True),
    Spec("facility_name", "facility_name", "医療機関等名", "text", True, 80),
)
FIELDS: dict[str, tuple[Spec, ...]] = {
    "medication": (
        Spec("date", "on_date", "調剤・処方日", "date", True),
        *_FAC,
        Spec("drug_code", "code", "薬剤コード（YJ・レセ電）", "drug_code", True, 12),
        Spec("drug_name", "name", "薬剤名", "text", True, 100),
        Spec("ingredient", "ingredient", "一般名（成分）", "text", True, 100),
        Spec("dose", "dose", "用法・用量", "text", False, 100),
        Spec("days", "days", "日数", "amount", True),
        Spec("quantity", "quantity", "数量", "text", False, 20),
    ),
    "diagnosis": (
        Spec("date", "on_date", "診療日", "date", True),
        *_FAC,
        Spec("procedure_code", "code", "診療行為コード", "procedure_code", True, 9),
        Spec("procedure_name", "name", "診療行為名", "text", True, 100),
        Spec("disease_name", "disease_name", "傷病名", "text", False, 100),
        Spec("icd10", "icd10", "ICD-10", "icd10", False, 8),
    ),
    "checkups": (
        Spec("date", "on_date", "健診日", "date", True),
        Spec("facility_code", "facility_code", "健診機関コード", "facility", False),
        Spec("facility_name", "facility_name", "健診機関名", "text", False, 80),
        Spec("item_code", "code", "項目コード", "text", False, 12),
        Spec("item_name", "name", "健診項目", "text", True, 100),
        Spec("value", "value", "結果", "text", True, 40),
        Spec("unit", "unit", "単位", "text", False, 20),
    ),
    "surgery": (
        Spec("date", "on_date", "手術日", "date", True),
        *_FAC,
        Spec("procedure_code", "code", "手術コード", "operation_code", True, 12),
        Spec("procedure_name", "name", "術式", "text", True, 100),
    ),
}
assert set(FIELDS) == set(CATEGORIES)

WHO = (
    Spec("payer_number", "", "公費負担者番号", "payer", True),
    Spec("recipient_number", "", "受給者番号", "recipient", True),
)

_CODES = {
    "drug_code": (
        lambda s: bool(rules.YJ_CODE.match(s) or rules.RECEIPT_DRUG_CODE.match(s)),
        "は薬価基準収載医薬品コード（YJコード12桁）またはレセ電コード（6から始まる9桁）です",
        "must be a YJ code (12 characters) or a receipt drug code (9 digits from 6)",
    ),
    "procedure_code": (
        lambda s: bool(rules.RECEIPT_PROCEDURE_CODE.match(s)),
        "はレセ電の診療行為コード（1から始まる9桁）です",
        "must be a receipt procedure code (9 digits from 1)",
    ),
    "operation_code": (
        lambda s: bool(rules.OPERATION_CODE.match(s)),
        "は区分番号（例 K6335）またはレセ電の診療行為コード（9桁）です",
        "must be a K-code (e.g. K6335) or a receipt procedure code (9 digits)",
    ),
    "icd10": (
        lambda s: bool(rules.ICD10.match(s)),
        "はICD-10コード（例 I10、E11.9）です",
        "must be an ICD-10 code (e.g. I10, E11.9)",
    ),
}


def clean_one(spec: Spec, raw: object) -> tuple[object, FieldProblem | None]:
    if spec.kind in _CODES:
        v, p = clean_value(Field(spec.key, None, spec.label_ja, "text", spec.required, spec.max_len), raw)
        if p or v is None:
            return v, p
        s = str(v).upper()
        ok, ja, en = _CODES[spec.kind]
        if not ok(s):
            return None, FieldProblem(spec.key, "code_format", f"{spec.label_ja}{ja}。", f"{spec.key} {en}.")
        return s, None
    v, p = clean_value(Field(spec.key, None, spec.label_ja, spec.kind, spec.required, spec.max_len), raw)
    if spec.kind == "amount" and isinstance(v, int) and not 1 <= v <= 365:
        return None, FieldProblem(spec.key, "range", f"{spec.label_ja}は1〜365です。", f"{spec.key} must be 1–365.")
    return v, p


def unknown_category(category: str) -> FieldProblem:
    return FieldProblem(
        "category",
        "code",
        "種類はmedication（薬剤情報）・diagnosis（診療情報）・checkups（特定健診情報）・surgery（手術情報）のいずれかです。",
        "category must be medication, diagnosis, checkups or surgery.",
    )


def clean_record(category: str, data: Record, problems: Problems, with_who: bool = True) -> Record:
    """The clean record (JSON keys) of ``category``; unknown keys are problems too."""
    specs = (WHO if with_who else ()) + FIELDS[category]
    refuse_unknown(data, {f.key for f in specs}, problems)
    out: Record = {}
    for f in specs:
        v, p = clean_one(f, data.get(f.key)) if f.kind not in ("payer", "recipient") else _number(f, data.get(f.key))
        problems.add(p)
        out[f.key] = v
    return out


def _number(f: Spec, raw: object) -> tuple[object, FieldProblem | None]:
    return clean_value(Field(f.key, None, f.label_ja, f.kind, True), raw)


def to_columns(category: str, rec: Record) -> Record:
    """A clean record as the columns of ``medinfo_records``."""
    return {f.column: rec.get(f.key) for f in FIELDS[category]} | {"category": category}


def from_row(category: str, row: object) -> Record:
    """A stored row as the JSON keys of its category (ISO dates)."""
    out: Record = {}
    for f in FIELDS[category]:
        v = getattr(row, f.column)
        out[f.key] = v.isoformat() if hasattr(v, "isoformat") else v
    return out
