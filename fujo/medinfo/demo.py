"""Demo 薬剤情報等 for the seed's 生保一郎: half a year of medication, clinical, health-check and operation
records, dated back from the day the demo is loaded. ●●医療機関 prescribes アムロジピン every 28 days;
▲▲クリニック prescribed アムロジピンOD錠 (the same ingredient) three weeks ago for 30 days, so the two
overlap and the medication list shows the duplicate hint. All records are synthetic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..auth.principal import Principal
from ..db.database import Database
from . import service

DRUGS = {  # YJ code, 薬剤名, 一般名, 用法・用量
    "amlodipine": ("2171022F1020", "アムロジピン錠5mg「サワイ」", "アムロジピンベシル酸塩", "1日1回朝食後 1回1錠"),
    "amlodipine_od": ("2171022F2025", "アムロジピンOD錠5mg「トーワ」", "アムロジピンベシル酸塩", "1日1回朝食後 1回1錠"),
    "metformin": ("3962002F1020", "メトホルミン塩酸塩錠250mgMT「DSEP」", "メトホルミン塩酸塩", "1日2回朝夕食後 1回1錠"),
    "loxoprofen": (
        "1149019F1560",
        "ロキソプロフェンNa錠60mg「サワイ」",
        "ロキソプロフェンナトリウム水和物",
        "疼痛時 1回1錠",
    ),
    "rebamipide": ("2329021F1021", "レバミピド錠100mg「サワイ」", "レバミピド", "1日3回毎食後 1回1錠"),
}

CHECKUP_ITEMS = [  # 項目コード (JLAC10 style), 項目, 結果, 単位
    ("9N001", "身長", "168.2", "cm"),
    ("9N006", "体重", "72.4", "kg"),
    ("9N011", "BMI", "25.6", "kg/m2"),
    ("9N016", "腹囲", "88.0", "cm"),
    ("9A751", "収縮期血圧", "138", "mmHg"),
    ("9A761", "拡張期血圧", "86", "mmHg"),
    ("3D046", "HbA1c（NGSP）", "6.6", "%"),
    ("3F077", "LDLコレステロール", "142", "mg/dL"),
    ("3F015", "中性脂肪", "168", "mg/dL"),
    ("3B035", "AST（GOT）", "24", "U/L"),
    ("3B045", "ALT（GPT）", "31", "U/L"),
    ("3B090", "γ-GT", "45", "U/L"),
]


def load_medinfo_demo(
    db: Database,
    office: Principal,
    *,
    payer: str,
    recipient: str,
    today: dt.date,
    clinic: tuple[str, str],
    other_clinic: tuple[str, str],
) -> int:
    """Feed the records through the service (as the office would); returns how many were written."""
    who = {"payer_number": payer, "recipient_number": recipient}
    n = 0

    def add(category: str, on: dt.date, facility: tuple[str, str] | None, **kw: Any) -> None:
        nonlocal n
        data = dict(who, date=on.isoformat(), **kw)
        if facility:
            data |= {"facility_code": facility[0], "facility_name": facility[1]}
        service.add_record(db, office, category, data)
        n += 1

    def drug(key: str, on: dt.date, facility: tuple[str, str], days: int, per_day: int = 1) -> None:
        code, name, ingredient, dose = DRUGS[key]
        add(
            "medication",
            on,
            facility,
            drug_code=code,
            drug_name=name,
            ingredient=ingredient,
            dose=dose,
            days=str(days),
            quantity=str(days * per_day),
        )

    first = today - dt.timedelta(days=168)
    for i in range(7):  # every 28 days at ●●医療機関: 高血圧症 and 2型糖尿病
        visit = first + dt.timedelta(days=28 * i)
        if visit > today:
            break
        drug("amlodipine", visit, clinic, 28)
        drug("metformin", visit, clinic, 28, 2)
        add(
            "diagnosis",
            visit,
            clinic,
            procedure_code="112007410",
            procedure_name="再診料",
            disease_name="本態性高血圧症",
            icd10="I10",
        )
        if i % 2 == 0:
            add(
                "diagnosis",
                visit,
                clinic,
                procedure_code="160000310",
                procedure_name="HbA1c",
                disease_name="2型糖尿病",
                icd10="E11.9",
            )
    # ▲▲クリニック, for 腰痛: the same ingredient as ●●医療機関's アムロジピン, overlapping (duplicate hint)
    back = today - dt.timedelta(days=21)
    add(
        "diagnosis",
        back,
        other_clinic,
        procedure_code="111000110",
        procedure_name="初診料",
        disease_name="腰痛症",
        icd10="M54.5",
    )
    drug("amlodipine_od", back, other_clinic, 30)
    drug("loxoprofen", back, other_clinic, 14, 3)
    drug("rebamipide", back, other_clinic, 14, 3)
    checkup = today - dt.timedelta(days=120)
    for code, item, value, unit in CHECKUP_ITEMS:
        add("checkups", checkup, clinic, item_code=code, item_name=item, value=value, unit=unit)
    operation = today - dt.timedelta(days=150)
    add(
        "surgery",
        operation,
        clinic,
        procedure_code="K7211",
        procedure_name="内視鏡的大腸ポリープ・粘膜切除術（長径2センチメートル未満）",
    )
    add(
        "diagnosis",
        operation,
        clinic,
        procedure_code="150285010",
        procedure_name="内視鏡的大腸ポリープ・粘膜切除術（長径2センチメートル未満）",
        disease_name="大腸ポリープ",
        icd10="K63.5",
    )
    return n
