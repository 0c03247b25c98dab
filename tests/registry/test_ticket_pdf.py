"""The printed 医療券/調剤券 (fujo/registry/printing.py), read back with poppler's pdftotext, pdfinfo and
pdffonts — readers independent of the library that wrote the PDF. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest

from fujo.audit.service import access_log
from fujo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fujo.registry import printing
from fujo.registry.service import cancel_ticket
from tests.factories import PAYER, PAYER2, PHARMACY


def _run(tool: str, pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / "t.pdf"
    path.write_bytes(pdf)
    out = ["-"] if tool == "pdftotext" else []
    return subprocess.run([tool, *args, str(path), *out], check=True, capture_output=True, text=True).stdout


def pages_text(pdf: bytes, tmp_path) -> list[str]:
    """The text of each page (pdftotext separates pages with a form feed); spaces removed, since the
    numbers are printed one digit per box."""
    text = _run("pdftotext", pdf, tmp_path, "-layout")
    return [re.sub(r"\s+", "", p) for p in text.split("\f") if p.strip()]


def test_one_ticket_shows_what_a_clerk_checks(world, tmp_path):
    r = world.recipient(name="生保一郎", birthdate="1990-01-15")
    t = world.ticket(
        r,
        self_pay_amount=1200,
        district_contact_name="地区太郎",
        handling_contact_name="取扱花子",
        remarks1="継続受診",
        social_insurance="02",
    )
    pdf = printing.ticket_pdf(world.db, world.principal("office"), t["ticket_key"])
    assert pdf.startswith(b"%PDF-")
    [page] = pages_text(pdf, tmp_path)
    for expected in [
        "医療券・調剤券",
        "令和6年7月分",
        "公費負担者番号" + PAYER,
        "受給者番号" + r["recipient_number"],
        "令和6年7月1日から令和6年7月31日まで",
        "生保一郎",
        "平成2年1月15日",
        "東京都○○市1-2-3",
        "●●医療機関",
        "診療別入院・入院外・歯科・調剤・訪問看護",
        "高血圧症",
        "2型糖尿病",
        "1,200円",
        "地区太郎",
        "取扱花子",
        "継続受診",
        "交付番号" + t["issue_number"],
        "○○市福祉事務所",
        "福祉事務所長",
    ]:
        assert expected in page, expected
    info = _run("pdfinfo", pdf, tmp_path)
    assert re.search(r"Pages:\s+1\b", info)
    assert "(A4)" in info  # 595.28 x 841.89 pts
    fonts = _run("pdffonts", pdf, tmp_path).splitlines()[2:]
    assert fonts and all(re.search(r"\byes\s+yes\s+yes\b", f) for f in fonts), fonts  # embedded, subset, unicode
    assert any("IPA" in f for f in fonts)


def test_pharmacy_ticket_is_a_調剤券(world, tmp_path):
    r = world.recipient()
    t = world.ticket(r, facility=PHARMACY)
    [page] = pages_text(printing.ticket_pdf(world.db, world.principal("office"), t["ticket_key"]), tmp_path)
    assert "■■薬局" in page and "処方箋発行医療機関" in page


def test_month_batch_has_one_page_per_current_ticket_of_the_office(world, tmp_path):
    a, b = world.recipient(name="一番目"), world.recipient(name="二番目")
    world.ticket(a)
    world.ticket(b)
    world.ticket(b, facility=PHARMACY)
    gone = world.ticket(a, on=dt.date(2024, 7, 10), facility=PHARMACY)
    cancel_ticket(world.db, world.principal("office"), key=gone["ticket_key"], reason="誤登録")
    world.ticket(a, on=dt.date(2024, 8, 10))  # another month
    other = world.recipient(office="office2", payer_number=PAYER2, name="他所の人")
    world.ticket(other, office="office2")
    m, pdf = printing.month_pdf(world.db, world.principal("office"), "2024-07")
    assert m == "202407"
    pages = pages_text(pdf, tmp_path)
    assert len(pages) == 3
    assert re.search(r"Pages:\s+3\b", _run("pdfinfo", pdf, tmp_path))
    assert all("令和6年7月分" in p for p in pages)
    assert sum("一番目" in p for p in pages) == 1 and sum("二番目" in p for p in pages) == 2
    assert not any("他所の人" in p for p in pages)
    # each printed ticket is in the recipient's access log
    log = access_log(world.db, None, [b["id"]])
    assert [e["method"] for e in log if e["method"] != "registry"] == ["print", "print"]


def test_refusals(world):
    r = world.recipient()
    t = world.ticket(r)
    key = t["ticket_key"]
    with pytest.raises(NotFound):  # another office: answered as not found, nothing revealed
        printing.ticket_pdf(world.db, world.principal("office2"), key)
    with pytest.raises(Forbidden):
        printing.ticket_pdf(world.db, world.principal("clinic"), key)
    with pytest.raises(Forbidden):
        printing.month_pdf(world.db, world.principal("clinic"), "2024-07")
    with pytest.raises(NotFound):
        printing.month_pdf(world.db, world.principal("office2"), "2024-07")
    with pytest.raises(ValidationFailed):
        printing.month_pdf(world.db, world.principal("office"), "2024-13")
    cancel_ticket(world.db, world.principal("office"), key=key, reason="誤登録")
    with pytest.raises(Conflict):
        printing.ticket_pdf(world.db, world.principal("office"), key)
    assert [e for e in access_log(world.db, None, [r["id"]]) if e["method"] == "print"] == []  # nothing printed


def test_missing_font_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(printing, "FONT_FILES", ((str(tmp_path / "none.ttf"), "fonts-x"),))
    monkeypatch.delenv("FUJO_PDF_FONT", raising=False)
    with pytest.raises(printing.FontMissing, match="fonts-ipafont-mincho"):
        printing.font_path()
    monkeypatch.setenv("FUJO_PDF_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(printing.FontMissing, match="FUJO_PDF_FONT"):
        printing.font_path()
