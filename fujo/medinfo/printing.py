"""薬剤情報等 as a PDF (A4 landscape, a table), for the facility's clinician: the same view as the
screen and the API (same consent rule), recorded with channel ``print`` before the file is made.
The Japanese font is the one of the printed tickets (fujo.registry.printing.font_path: IPA明朝)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..auth.principal import Principal
from ..core.consent import CATEGORY_JA
from ..core.era import wareki_date
from ..db.database import Database
from ..registry.printing import font_path
from . import service

# (header, key, width mm) per category; the medication table ends with the duplicate mark
COLUMNS: dict[str, list[tuple[str, str, float]]] = {
    "medication": [
        ("調剤・処方日", "date", 30),
        ("医療機関等", "facility_name", 45),
        ("薬剤名", "drug_name", 55),
        ("一般名", "ingredient", 45),
        ("用法・用量", "dose", 40),
        ("日数", "days", 12),
        ("数量", "quantity", 15),
        ("重複", "duplicate", 20),
    ],
    "diagnosis": [
        ("診療日", "date", 30),
        ("医療機関", "facility_name", 55),
        ("診療行為", "procedure_name", 80),
        ("傷病名", "disease_name", 70),
        ("ICD-10", "icd10", 22),
    ],
    "checkups": [
        ("健診日", "date", 30),
        ("健診機関", "facility_name", 60),
        ("項目", "item_name", 80),
        ("結果", "value", 50),
        ("単位", "unit", 37),
    ],
    "surgery": [
        ("手術日", "date", 30),
        ("医療機関", "facility_name", 70),
        ("手術コード", "procedure_code", 35),
        ("術式", "procedure_name", 122),
    ],
}
SEX_JA = {"1": "男", "2": "女", "3": "未設定"}


def _cell(rec: dict[str, Any], key: str) -> str:
    v = rec.get(key)
    if key == "date" and v:
        return wareki_date(dt.date.fromisoformat(v))
    if key == "duplicate":
        return "重複の可能性" if v else ""
    return "" if v is None else str(v)


def render(answer: dict[str, Any], font: Path, printed: dt.datetime, facility_name: str) -> bytes:
    from fpdf import FPDF  # here, not at the top: as fujo.registry.printing

    cat = answer["category"]
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_font("jp", fname=str(font))
    pdf.set_title(CATEGORY_JA[cat])
    pdf.set_creator("fujo")
    pdf.add_page()
    pdf.set_font("jp", size=16)
    title = CATEGORY_JA[cat] + ("（災害時）" if answer.get("disaster") else "")
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(10)
    p = answer["patient"]
    born = wareki_date(dt.date.fromisoformat(p["birthdate"]))
    pdf.cell(
        0, 6, f"氏名：{p['name']}　性別：{SEX_JA.get(p['sex'], '-')}　生年月日：{born}", new_x="LMARGIN", new_y="NEXT"
    )
    since = wareki_date(dt.date.fromisoformat(answer["retained_from"]))
    pdf.cell(
        0,
        6,
        f"表示期間：{since}以降（{answer['retention_years']}年分）　印刷：{wareki_date(printed.date())} "
        f"{printed:%H:%M}　{facility_name}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    cols = COLUMNS[cat]
    pdf.set_font_size(9)
    for head, _key, w in cols:
        pdf.cell(w, 7, head, border=1, align="C")
    pdf.ln()
    for rec in answer["records"]:
        for _head, key, w in cols:
            text = _cell(rec, key)
            size = 9.0
            while size > 5 and pdf.get_string_width(text) > w - 1:
                size -= 0.5
                pdf.set_font_size(size)
            pdf.cell(w, 7, text, border=1)
            pdf.set_font_size(9)
        pdf.ln()
    if not answer["records"]:
        pdf.cell(0, 7, "表示期間内の記録はありません。", new_x="LMARGIN", new_y="NEXT")
    if cat == "medication" and any(r.get("duplicate") for r in answer["records"]):
        pdf.ln(2)
        pdf.cell(
            0,
            6,
            "重複の可能性：同じ成分の薬剤が、他の医療機関等から重なる期間に処方・調剤されています。",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def medinfo_pdf(db: Database, principal: Principal, *, category: str, **who: Any) -> tuple[dict[str, Any], bytes]:
    """The view (channel ``print``) and its PDF. The font is looked up first: a print that cannot
    happen is not recorded as a view."""
    font = font_path()
    answer = service.view(db, principal, category=category, channel="print", **who)
    return answer, render(answer, font, db.now(), principal.name)
