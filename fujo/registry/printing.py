"""Paper 医療券/調剤券 as PDF (A4, one page per ticket), for the cases where paper stays: the recipient
has no My Number card, or the facility is not connected to online eligibility verification.

The page follows the items of 「生活保護法による医療券等の記載要領について」 (平成11年8月27日 社援保第41号):
the title 「医療券・調剤券」 with the word that does not apply struck out, 診療年月「令和 年 月分」,
公費負担者番号 (8 digits) and 受給者番号 (7 digits) in one box per digit, 有効期間, 単独・併用別, 氏名, 性別,
生年月日 (和暦), 住所, 指定医療機関名, 診療別 and 社会保険の有無 with the applicable choice circled, 傷病名,
本人支払額, 地区担当員名, 取扱担当者名, 備考, 交付番号, the 福祉事務所名 and a box for the 福祉事務所長印. The
boxes' sizes and positions are an approximation (see docs/PRINT.md): the printed 様式 is not reproduced to the
millimetre.

Who may print: a welfare office, for its own 公費負担者番号 only; a ticket of another office is answered as
not found (nothing about it is revealed). Every printed ticket is a ``check_log`` row (method ``print``),
so the recipient's access log shows who printed it and when.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, select

from ..audit.service import record_many
from ..auth.principal import WELFARE_OFFICE, Principal
from ..core import codes
from ..core.dates import JST, month_key, parse_month
from ..core.era import wareki_date, wareki_month
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from .queries import CANCELLED, RECIPIENT_COLUMNS, current_tickets, latest_revision, with_office

# The Japanese font: a TrueType font from a Debian package (the subset used is embedded in the PDF).
# FUJO_PDF_FONT may name another TrueType/OpenType file.
FONT_FILES = (
    ("/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf", "fonts-ipafont-mincho"),
    ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf", "fonts-ipafont-gothic"),
)
FONT_PACKAGE = "fonts-ipafont-mincho"  # what scripts/test-setup.sh installs; the gothic one is a fallback

_t, _r, _o = s.tickets, s.recipients, s.organisations


class FontMissing(RuntimeError):
    """No Japanese font for the PDF: the Debian package is not installed."""


def font_path() -> Path:
    env = os.environ.get("FUJO_PDF_FONT")
    if env:
        if not Path(env).is_file():
            raise FontMissing(f"FUJO_PDF_FONT names {env}, which is not a file.")
        return Path(env)
    for path, _package in FONT_FILES:
        if Path(path).is_file():
            return Path(path)
    raise FontMissing(
        "医療券/調剤券の印刷には日本語フォントが必要です。"
        f"Install the Debian package {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set FUJO_PDF_FONT."
    )


# --- reading what is printed ------------------------------------------------------------------


def _query() -> Select[tuple[object, ...]]:
    return select(
        _t,
        *RECIPIENT_COLUMNS,
        _o.c.address.label("office_address"),
    ).select_from(with_office(_t.join(_r, _r.c.id == _t.c.recipient_id)))


def _audit_rows(rows: Sequence[DbRow], kind: str) -> list[dict[str, object]]:
    return [
        {"recipient_id": row.recipient_id, "reason": kind, "detail": f"{row.ticket_key} 版{row.revision}"}
        for row in rows
    ]


def ticket_pdf(db: Database, principal: Principal, key: str) -> bytes:
    """One ticket (its current revision) as a one-page A4 PDF; recorded in the check log."""
    principal.require(WELFARE_OFFICE)
    font = font_path()  # before anything is recorded: a print that cannot happen is not logged
    with db.write() as conn:
        row = conn.execute(_query().where(_t.c.ticket_key == key, latest_revision())).first()
        if row is None or row.payer_number not in principal.payer_numbers:
            raise NotFound("医療券/調剤券が見つかりません。", f"No ticket {key}.")
        if row.status == CANCELLED:
            raise Conflict("取り消し済みの券は印刷できません。", "The ticket is cancelled.")
        now = db.now()
        record_many(conn, principal, "print", _audit_rows([row], "ticket"), now)
    return render_pdf([row], font, now)


def month_tickets(db: Database, principal: Principal, month: str) -> tuple[str, Sequence[DbRow]]:
    """The office's current tickets of a 診療年月 (all its 公費負担者番号), in 受給者番号 order."""
    principal.require(WELFARE_OFFICE)
    ym, problem = parse_month(month, "month")
    if problem or ym is None:
        raise ValidationFailed(problems=[problem] if problem else [])
    m = month_key(*ym)
    q = (
        _query()
        .where(
            _t.c.treatment_month == m,
            current_tickets(),
            _r.c.payer_number.in_(sorted(principal.payer_numbers)),
        )
        .order_by(_r.c.payer_number, _r.c.recipient_number, _t.c.ticket_type, _t.c.valid_from, _t.c.ticket_key)
    )
    with db.read() as conn:
        return m, conn.execute(q).all()


def month_pdf(db: Database, principal: Principal, month: str) -> tuple[str, bytes]:
    """Every current ticket of the office for a 診療年月, one page each; (yyyyMM, PDF). Recorded per ticket."""
    font = font_path()
    m, rows = month_tickets(db, principal, month)
    if not rows:
        raise NotFound(f"{wareki_month(int(m[:4]), int(m[4:]))}の医療券/調剤券はありません。", f"No tickets for {m}.")
    now = db.now()
    with db.write() as conn:
        record_many(conn, principal, "print", _audit_rows(rows, "month"), now)
    return m, render_pdf(rows, font, now)


# --- drawing --------------------------------------------------------------------------------

A4_W, A4_H = 210.0, 297.0
LEFT, RIGHT = 15.0, 195.0
WIDTH = RIGHT - LEFT
LABEL_W = 32.0


@dataclass(frozen=True)
class _Cell:
    x: float
    y: float
    w: float
    h: float


class _Sheet:
    """A thin layer over FPDF in millimetres: labelled boxes, digit boxes, circled choices."""

    def __init__(self, font: Path) -> None:
        from fpdf import FPDF  # here, not at the top: fpdf and fontTools take 0.6 s to import at every server start

        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.add_font("jp", fname=str(font))
        pdf.set_font("jp", size=10)
        pdf.set_line_width(0.3)
        pdf.set_title("医療券・調剤券")
        pdf.set_creator("fujo")
        self.pdf = pdf

    def text(self, x: float, y: float, s: str, size: float = 10) -> None:
        """Text with its baseline at y."""
        self.pdf.set_font_size(size)
        self.pdf.text(x, y, s)

    def width(self, s: str, size: float = 10) -> float:
        self.pdf.set_font_size(size)
        return float(self.pdf.get_string_width(s))

    def centred(self, c: _Cell, s: str, size: float = 10) -> None:
        self.text(c.x + (c.w - self.width(s, size)) / 2, c.y + c.h / 2 + size * 0.125, s, size)

    def box(self, c: _Cell) -> None:
        self.pdf.rect(c.x, c.y, c.w, c.h)

    def labelled(self, c: _Cell, label: str, value: str, label_w: float = LABEL_W, size: float = 10) -> None:
        """A box with its label on the left (shaded column) and the value after it."""
        self.box(c)
        self.pdf.line(c.x + label_w, c.y, c.x + label_w, c.y + c.h)
        self.centred(_Cell(c.x, c.y, label_w, c.h), label, 9)
        self.fit(_Cell(c.x + label_w + 2, c.y, c.w - label_w - 4, c.h), value, size)

    def fit(self, c: _Cell, s: str, size: float = 10) -> None:
        """Left-aligned, vertically centred, shrunk to fit the width."""
        while size > 6 and self.width(s, size) > c.w:
            size -= 0.5
        self.text(c.x, c.y + c.h / 2 + size * 0.125, s, size)

    def digits(self, x: float, y: float, h: float, value: str, n: int) -> float:
        """``n`` boxes of one digit each (as the 様式 has for the numbers); returns the right edge."""
        w = 6.5
        for i in range(n):
            c = _Cell(x + i * w, y, w, h)
            self.box(c)
            if i < len(value):
                self.centred(c, value[i], 12)
        return x + n * w

    def choices(
        self, x: float, y: float, h: float, options: Sequence[str], chosen: str | None, size: float = 10
    ) -> None:
        """Options separated by ・ with the chosen one circled (the 様式's 「○で囲む」)."""
        base = y + h / 2 + size * 0.125
        for i, opt in enumerate(options):
            if i:
                self.text(x, base, "・", size)
                x += self.width("・", size)
            w = self.width(opt, size)
            self.text(x, base, opt, size)
            if opt == chosen:
                self.pdf.ellipse(x - 1.5, y + 1.2, w + 3, h - 2.4)
            x += w

    def strike(self, x: float, y: float, w: float) -> None:
        self.pdf.line(x, y - 0.5, x + w, y - 2.5)
        self.pdf.line(x, y - 2.5, x + w, y - 0.5)


def _d(v: object) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return None


def _month(m: str) -> str:
    return wareki_month(int(m[:4]), int(m[4:]))


def _page(sh: _Sheet, t: DbRow, printed: dt.datetime) -> None:
    pdf = sh.pdf
    pdf.add_page()
    ticket = codes.TICKET_TYPES.get(t.ticket_type, "医療券")
    # title: 「医療券・調剤券」, the word that does not apply struck out (記載要領 一(一))
    size, y = 18, 24.0
    words = ("医療券", "・", "調剤券")
    total = sum(sh.width(w, size) for w in words)
    x = (A4_W - total) / 2
    for w in words:
        sh.text(x, y, w, size)
        if w in ("医療券", "調剤券") and w != ticket:
            sh.strike(x, y - 1.5, sh.width(w, size))
        x += sh.width(w, size)
    sh.text(LEFT, 15, "生活保護法", 9)
    sh.text(RIGHT - sh.width(f"交付番号 {t.issue_number or '-'}", 9), 15, f"交付番号 {t.issue_number or '-'}", 9)
    sh.text(RIGHT - sh.width(f"{_month(t.treatment_month)}分", 12), y, f"{_month(t.treatment_month)}分", 12)

    h = 11.0
    y = 32.0
    # 公費負担者番号 / 有効期間
    sh.labelled(_Cell(LEFT, y, 90, h), "公費負担者番号", "")
    sh.digits(LEFT + LABEL_W + 3, y + 1.5, h - 3, t.payer_number, 8)
    valid = f"{wareki_date(_d(t.valid_from))}から{wareki_date(_d(t.valid_to))}まで"
    sh.labelled(_Cell(LEFT + 90, y, WIDTH - 90, h), "有効期間", valid, 20, 9.5)
    y += h
    # 受給者番号 / 単独・併用別
    sh.labelled(_Cell(LEFT, y, 90, h), "受給者番号", "")
    sh.digits(LEFT + LABEL_W + 3, y + 1.5, h - 3, t.recipient_number, 7)
    sh.labelled(_Cell(LEFT + 90, y, WIDTH - 90, h), "単独・併用別", "", 20)
    sh.choices(LEFT + 114, y, h, ("単独", "併用"), codes.SINGLE_OR_COMBINED.get(t.single_or_combined or ""))
    y += h
    # 氏名 (フリガナ) / 性別 / 生年月日
    sh.labelled(_Cell(LEFT, y, 90, h + 4), "氏名", "")
    sh.text(LEFT + LABEL_W + 2, y + 4.5, t.name_kana or "", 7)
    sh.fit(_Cell(LEFT + LABEL_W + 2, y + 5, 90 - LABEL_W - 4, h - 2), t.name, 13)
    sh.labelled(_Cell(LEFT + 90, y, 34, h + 4), "性別", "", 12)
    sh.choices(LEFT + 104, y + 2, h, ("男", "女"), codes.SEX.get(t.sex or ""))
    sh.labelled(_Cell(LEFT + 124, y, WIDTH - 124, h + 4), "生年月日", wareki_date(_d(t.birthdate)), 16)
    y += h + 4
    sh.labelled(_Cell(LEFT, y, WIDTH, h), "住所", t.address or "")
    y += h
    facility = f"{t.designated_facility_name or ''}（{t.designated_facility_code}）"
    sh.labelled(_Cell(LEFT, y, WIDTH, h), "指定医療機関名", facility)
    y += h
    if t.prescription_issuer_code or t.ticket_type == "02":
        issuer = f"{t.prescription_issuer_name or ''}（{t.prescription_issuer_code or '-'}）"
        sh.labelled(_Cell(LEFT, y, WIDTH, h), "処方箋発行医療機関", issuer)
        y += h
    sh.labelled(_Cell(LEFT, y, WIDTH, h), "診療別", "")
    sh.choices(
        LEFT + LABEL_W + 4, y, h, tuple(codes.TREATMENT_TYPES.values()), codes.TREATMENT_TYPES.get(t.treatment_type)
    )
    y += h
    # 傷病名 (1)(2)(3)
    injuries = [t.injury_name1, t.injury_name2, t.injury_name3]
    sh.labelled(_Cell(LEFT, y, WIDTH, 3 * 8.0), "傷病名", "")
    for i, name in enumerate(injuries):
        sh.fit(_Cell(LEFT + LABEL_W + 2, y + i * 8, WIDTH - LABEL_W - 4, 8), f"（{i + 1}）{name or ''}")
    y += 3 * 8.0
    # 本人支払額 / 社会保険
    pay = "-" if t.self_pay_amount is None else f"{int(t.self_pay_amount):,}円"
    sh.labelled(_Cell(LEFT, y, 90, h), "本人支払額", pay)
    sh.labelled(_Cell(LEFT + 90, y, WIDTH - 90, h), "社会保険", "", 20)
    sh.choices(LEFT + 114, y, h, ("有", "無"), {"01": "有", "02": "無"}.get(t.social_insurance or ""))
    y += h
    # 公費 (結核・精神・後期高齢・都道府県費) as stored: shown in the 備考 column with the remarks
    extra = [
        f"{label}：{codes.PRESENCE[v]}"
        for label, v in (
            ("感染症", t.infection_status),
            ("後期高齢者医療", t.elderly_care_status),
            ("都道府県費", t.prefectural_expense_status),
        )
        if v in codes.PRESENCE
    ]
    remarks = [r for r in (t.remarks1, t.remarks2, t.remarks3) if r]
    lines = [*remarks, "　".join(extra)] if extra else remarks
    sh.labelled(_Cell(LEFT, y, WIDTH, 3 * 8.0), "備考", "")
    for i, line in enumerate(lines[:3]):
        sh.fit(_Cell(LEFT + LABEL_W + 2, y + i * 8, WIDTH - LABEL_W - 4, 8), line, 9)
    y += 3 * 8.0
    sh.labelled(_Cell(LEFT, y, 90, h), "地区担当員名", t.district_contact_name or "")
    sh.labelled(_Cell(LEFT + 90, y, WIDTH - 90, h), "取扱担当者名", t.handling_contact_name or "", 26)
    y += h + 10

    # the issuing office, the 交付年月日 and the seal box
    issued = aware(t.registered_at)
    issued_day = issued.astimezone(JST).date() if issued else None
    sh.text(LEFT, y, "上記のとおり医療（調剤）を委託します。", 10)
    y += 9
    sh.text(LEFT, y, f"交付年月日　{wareki_date(issued_day)}", 10)
    y += 9
    sh.text(LEFT, y, f"福祉事務所名　{t.office_name or '-'}", 11)
    if t.office_phone:
        sh.text(LEFT, y + 7, f"電話　{t.office_phone}", 9)
    seal = _Cell(RIGHT - 26, y - 12, 24, 24)
    sh.box(seal)
    sh.centred(_Cell(seal.x, seal.y + 2, seal.w, 6), "福祉事務所長", 7)
    sh.centred(_Cell(seal.x, seal.y + 8, seal.w, 14), "印", 12)

    # footer: how and when this paper was made (not part of the 様式)
    sh.text(LEFT, A4_H - 12, f"fujo により作成（{wareki_date(printed.astimezone(JST).date())} 印刷）", 7)


def render_pdf(rows: Sequence[DbRow], font: Path, printed: dt.datetime) -> bytes:
    """The PDF of the given ticket rows (as read by ``_query``): one A4 page each."""
    sh = _Sheet(font)
    for row in rows:
        _page(sh, row, printed)
    return bytes(sh.pdf.output())
