"""Front desk (医療機関・薬局): check by card and by numbers, the result screen of the seed,
委託先一括取得 (table + CSV), the 「医療扶助」 setting and 照会番号 registration."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import operator
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..auth.principal import CLINICIAN, MANAGER
from ..bulk import service as bulk
from ..cards.reader import consent_from_bits
from ..cards.service import CardProofRefused, create_challenge
from ..core import codes, monthly, numbers, screen
from ..core.dates import month_key, parse_date, parse_month, today_jst
from ..core.era import wareki_date
from ..core.errors import FujoError, Problems, ValidationFailed
from ..eligibility import service as eligibility
from ..facility import service as facility
from .kit import FacilityUser, csrf_guard, db_of, field_errors, redirect, render, require_manager, stripped

router = APIRouter(prefix="/desk", dependencies=[Depends(csrf_guard)], include_in_schema=False)

CONSENTS = [
    ("PharmacistsInfo", "薬剤情報"),
    ("DiagnosisInfo", "診療情報"),
    ("SpecificHealthCheckupsInfo", "特定健診情報"),
    ("OperationInfo", "手術情報"),
    # the optional 5th/6th consent bits of the reader (cards/reader.py): 医療保険 results only
    ("LimitApplicationCertificateRelated", "限度額適用認定証の情報"),
    ("SpecificDiseasesCertificateRelated", "特定疾病療養受療証の情報"),
]

# The seed lays the items out in lines; these are the number of items on each line.
_PERSON_LINES = (1, 2, 1, 3)  # 照会番号 / 公費負担者番号 福祉事務所名 / 受給者番号 / 氏名 性別 生年月日
_TICKET_LINES = (2, 2, 1, 1, 3)  # 券別 診療年月 / 指定医療機関名 単独併用 / 有効開始 / 有効終了 / 傷病名1-3
_INSURANCE_LINES = (1, 2, 2, 3, 3, 1)  # … / 保険の種類 被保険者証区分 / … ; 負担割合 and certificates one per line

REASON_JA = {
    "unregistered": "この医療機関・薬局を委託先とする今月の医療券/調剤券は登録されていません（未委託または未登録）。",
    "lost": "保護が停止・廃止されています。",
}
NO_LINK_NOTE = "未委託の状態での診療報酬請求を防止するために公費負担者番号・受給者番号を連携しません。"


def _lines(items, pattern, repeat=None):
    out, i = [], 0
    for n in pattern:
        out.append(items[i : i + n])
        i += n
    while repeat and i + sum(repeat) <= len(items):
        for n in repeat:
            out.append(items[i : i + n])
            i += n
    out += [[x] for x in items[i:]]
    return [x for x in out if x]


def _tone(validity: str) -> str:
    return {codes.VALID: "ok", codes.VALID_UNREGISTERED: "warn"}.get(validity, "ng")


def _groups(lines: list, first: int) -> list[list]:
    """The lines in two groups (the person; the tickets/insurance), laid side by side when there is room."""
    return [g for g in (lines[:first], lines[first:]) if g]


def result_view(check: dict) -> list[dict]:
    """The check as screen blocks, built from :mod:`fujo.core.screen` (the CLI shows the same)."""
    blocks = []
    for r in check.get("ResultList") or []:
        v = r.get("QualificationValidity", codes.NO_QUALIFICATION)
        if r.get("InsuredCardClassification") == codes.CARD_CLASS_MEDICAL_ASSISTANCE:
            head, items = screen.assistance_screen(r)
            lines = _lines(items, _PERSON_LINES, _TICKET_LINES)
            groups = _groups(lines, len(_PERSON_LINES))
            title = "医療扶助"
        else:
            head, items = screen.insurance_screen(r)
            lines = _lines(items, _INSURANCE_LINES)
            groups = _groups(lines, 3)
            title = "医療保険"
        consent = [
            (label, codes.CONSENT_FLAGS.get(r.get(f"{k}ConsFlg", ""), "-"))
            for k, label in CONSENTS
            if f"{k}ConsFlg" in r
        ]
        until = next(
            (r[f"{k}AvailableTime"] for k, _ in CONSENTS if r.get(f"{k}ConsFlg") == "1" and r.get(f"{k}AvailableTime")),
            None,
        )
        blocks.append(
            {
                "title": title,
                "headline": head,
                "tone": _tone(v),
                "lines": lines,
                "groups": groups,
                "validity": v,
                "masked": v == codes.VALID_UNREGISTERED,
                "consent": consent,
                "consent_until": _wire_time_ja(until),
            }
        )
    return blocks


def _wire_time_ja(v: str | None) -> str | None:
    """yyyyMMddHHmmss (JST) as 令和6年7月11日 09:30, the consent's end as the reader showed it."""
    if not v or len(v) < 12 or not v.isdigit():
        return None
    try:
        day = dt.date(int(v[:4]), int(v[4:6]), int(v[6:8]))
    except ValueError:
        return None
    return f"{wareki_date(day)} {v[8:10]}:{v[10:12]}"


def _result(request: Request, staff, check: dict, method: str):
    blocks = result_view(check)
    if not blocks:
        blocks = [
            {
                "title": "医療扶助",
                "headline": screen.HEADLINES[codes.NO_QUALIFICATION],
                "tone": "ng",
                "lines": [],
                "groups": [],
                "validity": codes.NO_QUALIFICATION,
                "masked": False,
                "consent": [],
            }
        ]
    advice = screen.advice(check)
    on = check.get("QualificationConfirmationDate")
    return render(
        request,
        "desk/result.html",
        title="資格確認結果",
        wide=True,
        manager=_is_manager(staff),
        not_today=bool(on) and on != f"{today_jst():%Y%m%d}",
        blocks=blocks,
        advice=advice,
        reason=REASON_JA.get(check.get("Reason") or ""),
        note=NO_LINK_NOTE,
        method=method,
        confirmation_date=check.get("QualificationConfirmationDate"),
        check_id=check.get("CheckId"),
        clinician=staff.principal.role == CLINICIAN,
        consented=any(b.get("consent_until") for b in blocks),  # some category given, for 24 hours
        hidden_assistance=check.get("MedicalAssistanceNotice"),
    )


def _is_manager(staff) -> bool:
    """Only the facility's 管理者 may switch 「医療扶助」 on (the others are told to ask)."""
    return staff.principal.role == MANAGER


def _check_date(value: str, problems: Problems) -> dt.date | None:
    """The 資格確認日 of the form (ISO or 和暦 as core parsing accepts; empty = today)."""
    d, p = parse_date(value, "confirmation_date", "資格確認日", required=False)
    problems.add(p)
    return d


# --- check by card ---------------------------------------------------------------------------


def _form_page(request, staff, template: str, title: str, status: int = 200, **kw):
    """A check form of the desk (it says whether 「医療扶助」 is on; 資格確認日 defaults to today)."""
    kw.setdefault("values", {})
    kw["values"].setdefault("confirmation_date", today_jst().isoformat())
    return render(
        request,
        template,
        status=status,
        title=title,
        enabled=staff.principal.medical_assistance_enabled,
        manager=_is_manager(staff),
        **kw,
    )


def _card_page(request, staff, status: int = 200, **kw):
    kw.setdefault("checked", set())
    return _form_page(
        request,
        staff,
        "desk/card.html",
        "資格確認（マイナンバーカード）",
        status,
        consents=CONSENTS,
        reader_url=request.app.state.settings.reader_url,
        **kw,
    )


def _numbers_page(request, staff, status: int = 200, **kw):
    return _form_page(request, staff, "desk/numbers.html", "資格確認（番号）", status, **kw)


@router.get("")
def card_form(request: Request, staff: FacilityUser):
    return _card_page(request, staff)


@router.post("/check/card/challenge")
def card_challenge(request: Request, staff: FacilityUser):
    """A one-time challenge for the card reader on the desk (fetched by static/reader.js with the
    session's CSRF token); the reader signs it for this facility's code (the audience)."""
    ch = create_challenge(db_of(request), staff.principal)
    return JSONResponse({**ch, "audience": staff.principal.code}, headers={"Cache-Control": "no-store"})


PROOF_FIELD = re.compile(r"[A-Za-z0-9+/=_-]{1,8192}")


@router.post("/check/card")
def check_card(
    request: Request,
    staff: FacilityUser,
    challenge: str = Form("", max_length=200),
    certificate: str = Form("", max_length=8192),
    signature: str = Form("", max_length=2048),
    consent: str = Form("", max_length=8),
    confirmation_date: str = Form("", max_length=20),
):
    """The card reader's proof (challenge, certificate, signature, consent bits it signed), never a
    card file or a PIN: the page had the reader on the desk sign (static/reader.js)."""
    checked = (
        {k for k, _ in CONSENTS if consent_from_bits(consent).get(k)} if re.fullmatch(r"[01]{4,6}", consent) else set()
    )
    values = {"confirmation_date": confirmation_date.strip()}
    errors: dict[str, list[str]] = {}
    message = None
    on, date_problem = parse_date(values["confirmation_date"], "confirmation_date", "資格確認日", required=False)
    if date_problem:
        errors["confirmation_date"] = [date_problem.message_ja]
    if not all(PROOF_FIELD.fullmatch(x) for x in (challenge, certificate, signature)) or not consent:
        errors["card"] = ["カードリーダーでカードを読み取ってください（暗証番号を入力して「資格確認」）。"]
    if not errors:
        try:
            check = eligibility.check_by_card(
                db_of(request),
                request.app.state.ca,
                staff.principal,
                challenge=challenge,
                certificate=certificate,
                signature=signature,
                consent=consent,
                confirmation_date=on,
            )
            return _result(request, staff, check, "card")
        except ValidationFailed as e:
            errors, _ = field_errors(e)
        except CardProofRefused as e:
            message = e.message_ja
    return _card_page(request, staff, 422, checked=checked, values=values, errors=errors, message=message)


# --- check by numbers ------------------------------------------------------------------------


@router.get("/numbers")
def numbers_form(request: Request, staff: FacilityUser):
    return _numbers_page(request, staff)


@router.post("/check/numbers")
def check_numbers(
    request: Request,
    staff: FacilityUser,
    payer_number: str = Form("", max_length=20),
    recipient_number: str = Form("", max_length=20),
    birthdate: str = Form("", max_length=20),  # 和暦 forms are longer than ISO
    confirmation_date: str = Form("", max_length=20),
):
    values = stripped(payer_number=payer_number, recipient_number=recipient_number, confirmation_date=confirmation_date)
    values["birthdate"] = birthdate  # as typed (和暦 included): the check reads it so
    problems = Problems()
    problems.add(numbers.check_payer_number(values["payer_number"]))
    problems.add(numbers.check_recipient_number(values["recipient_number"]))
    # Required, as by the service (numbers alone would let anyone enumerate recipients): said here
    # too so that every missing field is named at once.
    problems.add(parse_date(birthdate, "birthdate", "生年月日", required=True)[1])
    on = _check_date(values["confirmation_date"], problems)  # late entry of yesterday's paper tickets
    message = None
    errors: dict = {}
    try:
        problems.raise_if_any()
        db = db_of(request)
        check = eligibility.check_by_numbers(
            db,
            staff.principal,
            insurer_number=values["payer_number"],
            identification_number=values["recipient_number"],
            birthdate=birthdate,
            confirmation_date=on,
        )
        return _result(request, staff, check, "numbers")
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        for a, b in (("insurer_number", "payer_number"), ("identification_number", "recipient_number")):
            if a in errors:
                errors.setdefault(b, []).extend(errors.pop(a))
    except FujoError as e:
        message = e.message_ja
    return _numbers_page(request, staff, 422, values=values, errors=errors, message=message)


# --- 委託先一括取得 ----------------------------------------------------------------------------


def _status_text(res: dict) -> str:
    """有効 / 停止（令和…） / 廃止（令和…） of the month, as the row's qualification status."""
    text = res.get("QualificationStatusText") or codes.VALIDITY_TEXT.get(res.get("QualificationValidity") or "", "-")
    when = res.get("QualificationStatusDate")
    return f"{text}（{screen.date_ja(when)}）" if when else text


# A person with no billable ticket this month: the numbers and the ticket data are withheld.
_WITHHELD = {
    "payer_number": "-",
    "recipient_number": "-",
    "billable": False,
    "ticket_type": "-",
    "treatment_type": "-",
    "single_or_combined": "-",
    "valid_from": None,
    "valid_to": None,
    "issue_number": "-",
    "self_pay": "-",
    "injuries": "-",
    "registered_at": None,
    "new": False,
}


def _ticket_rows(results: Iterable[Any], new: set) -> Iterator[dict]:
    """One row per ticket (the table and the CSV), or one withheld row for a person without any."""
    for res in results:
        key = (res.get("InsurerNumber"), res.get("InsuredIdentificationNumber"))
        tickets = (res.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo") or []
        person = {
            "name": res.get("Name", ""),
            "name_kana": res.get("NameKana", ""),
            "sex": codes.SEX.get(res.get("Sex1"), "-"),
            "birthdate": res.get("Birthdate"),
            "status": _status_text(res),
            # valid / suspended / abolished / not_started: a 停止 or 廃止 row is styled apart
            "status_code": res.get("QualificationStatus") or monthly.VALID,
            "validity": codes.VALIDITY_TEXT.get(res["QualificationValidity"]),
        }
        if not tickets:  # not billable this month: the status says why
            yield person | _WITHHELD
        for t in tickets:
            yield (
                person
                | {
                    "payer_number": key[0],
                    "recipient_number": key[1],
                    "billable": True,
                    "ticket_type": codes.TICKET_TYPES.get(t.get("TicketType"), "-"),
                    "treatment_type": codes.TREATMENT_TYPES.get(t.get("MedicalTreatmentType"), "-"),
                    "single_or_combined": codes.SINGLE_OR_COMBINED.get(t.get("SingleOrCombinedUse"), "-"),
                    "valid_from": t.get("MedicalTicketValidDate"),
                    "valid_to": t.get("MedicalTicketExpirationDate"),
                    "issue_number": t.get("IssueNumber", ""),
                    "self_pay": t.get("SelfPayAmount", ""),
                    "injuries": "、".join(x for x in (t.get(f"InjuryName{i}") for i in (1, 2, 3)) if x),
                    "registered_at": t.get("RegisteredAt"),
                    "new": key in new,
                }
            )


def _month_param(month: str | None) -> tuple[str, str]:
    """(the month as the clerk typed it, for the form: 2024-07, 202407 or 和暦 R6.7; 'YYYYMM')."""
    if not month:
        t = today_jst()
        return f"{t:%Y-%m}", f"{t:%Y%m}"
    ym, _ = parse_month(month, "month")  # a bad one is refused by the service, naming the field
    return month.strip(), month_key(*ym) if ym else month.replace("-", "")


def _tickets_page(request, month: str, status: int = 200, **kw):
    kw = {"rows": [], "last": None} | kw
    return render(request, "desk/tickets.html", status=status, title="委託先一括取得", wide=True, month=month, **kw)


@router.get("/tickets")
def tickets(request: Request, staff: FacilityUser, month: str | None = None):
    shown, m = _month_param(month)
    db, p = db_of(request), staff.principal
    try:
        data = bulk.tickets_for_month(db, p, shown)
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        month_errors: dict[str, list[str]] = {"month": functools.reduce(operator.iadd, errors.values(), [])}
        return _tickets_page(request, shown, status=422, errors=month_errors)
    except FujoError as e:
        return _tickets_page(request, shown, status=e.status, message=e.message_ja)
    last = bulk.last_csv_download(db, p, m)
    rows = list(_ticket_rows(data["ResultList"], bulk.recipients_changed_since(db, p, m, last)))
    return _tickets_page(request, shown, month_key=m, rows=rows, last=last, new_count=sum(1 for x in rows if x["new"]))


CSV_COLUMNS = [
    ("payer_number", "公費負担者番号"),
    ("recipient_number", "受給者番号"),
    ("name", "氏名"),
    ("name_kana", "氏名カナ"),
    ("sex", "性別"),
    ("birthdate", "生年月日"),
    ("status", "資格の状態（当月）"),
    ("ticket_type", "医療券/調剤券別"),
    ("treatment_type", "診療別"),
    ("single_or_combined", "単独/併用別"),
    ("valid_from", "有効開始年月日"),
    ("valid_to", "有効終了年月日"),
    ("issue_number", "交付番号"),
    ("self_pay", "本人支払額"),
    ("injuries", "傷病名"),
    ("registered_at", "登録日時"),
    ("new", "前回ダウンロード以降の新着"),
]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run: text starting with = + - @ (e.g. a 傷病名 typed by
    someone else) is prefixed with an apostrophe."""
    v = "" if value is None else str(value)
    risky = v[:1] in ("=", "+", "@", "\t", "\r") or (v[:1] == "-" and len(v) > 1)
    return "'" + v if risky else v


@router.get("/tickets.csv")
def tickets_csv(request: Request, staff: FacilityUser, month: str | None = None):
    shown, m = _month_param(month)
    db, p = db_of(request), staff.principal
    new = bulk.recipients_changed_since(db, p, m, bulk.last_csv_download(db, p, m))
    stream = bulk.open_month(db, p, shown)
    bulk.record_csv_download(db, p, m, stream.header["Cursor"])

    def lines() -> Iterator[bytes]:  # written as the rows are read (the month is never held whole)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        buf.write("\ufeff")
        w.writerow([label for _, label in CSV_COLUMNS])
        for x in _ticket_rows(stream.results, new):
            w.writerow([("1" if x[k] else "") if k == "new" else _cell(x[k]) for k, _ in CSV_COLUMNS])
            if buf.tell() >= 64 * 1024:
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode("utf-8")

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tickets-{p.code}-{m}.csv"'},
    )


# --- settings and 照会番号 ---------------------------------------------------------------------


@router.get("/settings")
def settings_form(request: Request, staff: FacilityUser, saved: int = 0):
    st = facility.get_settings(db_of(request), staff.principal)
    return render(
        request, "desk/settings.html", title="環境設定", settings=st, notice="設定を保存しました。" if saved else None
    )


@router.post("/settings")
def settings_save(request: Request, staff: FacilityUser, medical_assistance: str = Form("", max_length=10)):
    require_manager(staff)  # only the facility's 管理者 changes settings (403 otherwise)
    if medical_assistance not in ("use", "nouse"):
        st = facility.get_settings(db_of(request), staff.principal)
        errors = {"medical_assistance": ["「利用する」または「利用しない」を選んでください。"]}
        return render(
            request, "desk/settings.html", status=422, title="環境設定", settings=st, notice=None, errors=errors
        )
    facility.set_medical_assistance(db_of(request), staff.principal, medical_assistance == "use")
    return redirect("/desk/settings?saved=1")


def _reference_page(request, status: int = 200, **kw):
    kw = {"values": {}, "notice": None} | kw
    return render(request, "desk/reference.html", status=status, title="照会番号の登録", **kw)


@router.get("/reference")
def reference_form(request: Request, staff: FacilityUser):
    return _reference_page(request)


@router.post("/reference")
def reference_save(
    request: Request,
    staff: FacilityUser,
    reference_number: str = Form("", max_length=40),
    insurer_number: str = Form("", max_length=20),
    identification_number: str = Form("", max_length=40),
    birthdate: str = Form("", max_length=20),  # 和暦 forms are longer than ISO
    branch_number: str = Form("", max_length=10),
):
    values = stripped(
        reference_number=reference_number,
        insurer_number=insurer_number,
        identification_number=identification_number,
        birthdate=birthdate,
        branch_number=branch_number,
    )
    errors: dict = {}
    message = None
    status = 422
    try:
        problems = Problems()  # every missing field at once; the service checks them again
        facility.check_reference_form(
            reference_number=values["reference_number"],
            insurer_number=values["insurer_number"],
            identification_number=values["identification_number"],
            birthdate=values["birthdate"],
            problems=problems,
        )
        problems.raise_if_any()
        facility.register_reference(
            db_of(request),
            staff.principal,
            reference_number=values["reference_number"],
            insurer_number=values["insurer_number"],
            identification_number=values["identification_number"],
            birthdate=values["birthdate"],
            branch_number=values["branch_number"],
        )
        return _reference_page(request, notice=f"照会番号 {values['reference_number']} を登録しました。")
    except ValidationFailed as e:
        errors, _ = field_errors(e)
    except FujoError as e:  # not found, several people (give the 枝番), not linked to a card yet, setting off
        message, status = e.message_ja, e.status
    return _reference_page(request, status, values=values, errors=errors, message=message)
