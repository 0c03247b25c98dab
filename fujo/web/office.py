"""Welfare office (福祉事務所): recipients (edit with history, 保護停止・廃止 with the reason,
初回ひも付け with its cross-check item by item), 医療券/調剤券 registration, amendment and cancellation
with history — the registry's refusals shown field by field as the clerk types, facilities suggested
by name or code — the month's tickets with filters and counts, CSV import with progress and a
per-row report, and tickets registered late."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ..api import limits
from ..cards import service as cards
from ..core import identity
from ..core.dates import month_end, month_key, parse_month, today_jst
from ..core.errors import FujoError, NotFound, ValidationFailed
from ..core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS, Field
from ..jobs import service as jobs
from ..medinfo import service as medinfo
from ..registry import facilities as facility_registry
from ..registry import printing
from ..registry import service as registry
from .kit import OfficeUser, csrf_guard, db_of, env, field_errors, page, redirect, refusal, render

router = APIRouter(prefix="/office", dependencies=[Depends(csrf_guard)], include_in_schema=False)

LABELS = {f.name: f.label_ja for f in (*INSURANCE_FIELDS, *RECIPIENT_FIELDS, *TICKET_FIELDS)}
LABELS.update(
    payer_number="公費負担者番号",
    recipient_number="受給者番号",
    reason="変更・取消の理由",
    file="ファイル",
    kind="種類",
    card_serial="カードのシリアル番号",
    individual_number="個人番号",
    month="診療年月",
    facility="指定医療機関",
    status="状態",
)
# 受給者情報の変更: everything but the numbers (a new number is a new recipient) and 停止・廃止 (its own form)
DISQUALIFICATION = ("disqualification_kind", "disqualification_date", "disqualification_reason")
EDIT_FIELDS = tuple(
    f for f in RECIPIENT_FIELDS if f.name not in ("payer_number", "recipient_number", *DISQUALIFICATION)
)
DISQUALIFICATION_FIELDS = tuple(f for f in RECIPIENT_FIELDS if f.name in DISQUALIFICATION)
MONTH_PAGE = 100
MAX_CSV = limits.IMPORT  # answered on the page; a body far larger is cut off with 413 (limits.py)
IMPORT_KINDS = {"recipients": "受給者（被保護者）", "tickets": "医療券/調剤券"}
IMPORT_WAIT_POLLS = 200  # without JavaScript the import's answer waits up to ≈ 10 s, then reloads itself


def _ticket_values(t: dict) -> dict:
    """A ticket dict (service form) as form values."""
    v = {f.name: ("" if t.get(f.name) is None else str(t[f.name])) for f in TICKET_FIELDS}
    m = v.get("treatment_month", "")
    if len(m) == 6:
        v["treatment_month"] = f"{m[:4]}-{m[4:]}"
    return v


def _form_values(form, fields) -> dict:
    return {f.name: (form.get(f.name) if isinstance(form.get(f.name), str) else "") for f in fields}


def _with_names(db, values: dict) -> dict:
    """The registry's names for the facility codes of a ticket form (shown, never typed)."""
    codes = {
        "designated_facility_name": values.get("designated_facility_code", "").strip(),
        "prescription_issuer_name": values.get("prescription_issuer_code", "").strip(),
    }
    with db.read() as conn:
        rows = facility_registry.facility_rows(conn, [c for c in codes.values() if len(c) == 10])
    for name_field, code in codes.items():
        values[name_field] = rows[code].name if code in rows else ""
    return values


# --- recipients ------------------------------------------------------------------------------


@router.get("")
def search(request: Request, staff: OfficeUser, q: str = ""):
    q = q.strip()[:60]
    results = registry.search_recipients(db_of(request), staff.principal, q=q or None, limit=100)
    return render(request, "office/search.html", title="受給者検索", q=q, results=_with_status(results))


def _with_status(recs: list[dict]) -> list[dict]:
    """Recipients with their 保護 status today (``status``: (status, date)) for the lists."""
    today = today_jst()
    return [dict(r, status=registry.recipient_status(r, today)) for r in recs]


def _recipient_form(request, values: dict, status: int = 200, **kw):
    return render(
        request,
        "office/recipient_form.html",
        status=status,
        title="受給者登録",
        fields=RECIPIENT_FIELDS,
        values=values,
        **kw,
    )


@router.get("/recipients/new")
def recipient_form(request: Request, staff: OfficeUser):
    payers = sorted(staff.principal.payer_numbers)
    return _recipient_form(request, {"payer_number": payers[0] if payers else ""})


@router.post("/recipients")
async def recipient_create(request: Request, staff: OfficeUser):
    form = await request.form()
    values = _form_values(form, RECIPIENT_FIELDS)
    try:
        rec = registry.register_recipient(db_of(request), staff.principal, {k: v for k, v in values.items()})
    except FujoError as e:
        status, shown = refusal(e)
        return _recipient_form(request, values, status, **shown)
    return redirect(f"/office/recipients/{rec['payer_number']}/{rec['recipient_number']}?saved=1")


RECIPIENT_NOTICES = {
    "1": "登録しました。",
    "edited": "受給者情報を変更しました（変更前の内容は変更履歴に残ります）。",
    "unchanged": "変更された項目はありませんでした。",
    "disqualified": "保護の停止・廃止を記録しました（変更前の内容は変更履歴に残ります）。",
    "linked": "カードの基本4情報（氏名・生年月日・性別）と一致したため、マイナンバーカードとひも付けました（初回ひも付け）。",
    "unlinked": "マイナンバーカードとのひも付けを解除しました（記録に残ります）。",
    "restricted": "閲覧制限を設定しました。医療機関には住所を示さず、氏名・生年月日は指定医療機関にのみ、薬剤情報等はどこにも示しません。",
    "unrestricted": "閲覧制限を解除しました。",
}


def _recipient_page(request, staff, payer: str, rn: str, status: int = 200, **kw):
    rec = registry.get_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
    defaults: dict[str, Any] = dict(
        rec=rec,
        fields=RECIPIENT_FIELDS,
        link_errors={},
        link_check=None,
        unlink_errors={},
        disq_errors={},
        disq_values={f.name: rec.get(f.name) or "" for f in DISQUALIFICATION_FIELDS},
        disq_fields=DISQUALIFICATION_FIELDS,
        qstatus=registry.recipient_status(rec, today_jst()),
        history=_history(rec),
        labels=LABELS,
        notice=None,
        linked_cards=cards.cards_of_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
        if rec.get("card_linked")
        else [],
        reset=None,
        restriction_errors={},
    )
    return page(request, "office/recipient.html", f"受給者 {rec['name']}", defaults, kw, status)


@router.post("/recipients/{payer}/{rn}/restriction")
def restriction(
    request: Request,
    staff: OfficeUser,
    payer: str,
    rn: str,
    restricted: str = Form("", max_length=1),
    reason: str = Form("", max_length=200),
):
    """閲覧制限 (DV・虐待の被害者): on, no facility sees the address, only the designated one the name
    and birth date, and nobody any 薬剤情報等; the recipient's own portal still shows everything."""
    on = restricted == "1"
    try:
        medinfo.set_restriction(
            db_of(request), staff.principal, payer=payer, rn=rn, restricted=on, reason=reason.strip() or None
        )
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        return _recipient_page(request, staff, payer, rn, status=422, restriction_errors=errors)
    return redirect(f"/office/recipients/{payer}/{rn}?saved={'restricted' if on else 'unrestricted'}")


@router.post("/recipients/{payer}/{rn}/cards/{serial}/pin-reset")
def card_pin_reset(request: Request, staff: OfficeUser, payer: str, rn: str, serial: str):
    """A reset code for the PIN lock of a card of this recipient's holder, shown once on the page."""
    if serial not in {
        c["serial"] for c in cards.cards_of_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
    }:
        return _recipient_page(
            request, staff, payer, rn, status=404, notice="このカードはこの受給者のものではありません。"
        )
    try:
        reset = cards.issue_pin_reset(db_of(request), request.app.state.ca, staff.principal, serial=serial)
    except FujoError as e:
        return _recipient_page(request, staff, payer, rn, status=e.status, notice=e.message_ja)
    notice = f"カード {reset['serial']} の暗証番号ロック解除コードを発行しました。"
    return _recipient_page(request, staff, payer, rn, notice=notice, reset=reset)


def _history(rec: dict) -> list[dict]:
    """The recipient's changes, newest first: each earlier version against the one that replaced
    it (the next snapshot, or the record as it is now), as (field, before, after) of what differs."""
    snapshots = rec.get("history", [])
    out = []
    for i, h in enumerate(snapshots):
        after = snapshots[i + 1] if i + 1 < len(snapshots) else rec
        changes = [
            (f, h.get(f.name), after.get(f.name))
            for f in RECIPIENT_FIELDS
            if (h.get(f.name) or None) != (after.get(f.name) or None)
        ]
        out.append({"version": h["version"], "changed_at": h["changed_at"], "changes": changes})
    return out[::-1]


@router.get("/recipients/{payer}/{rn}/edit")
def recipient_edit_form(request: Request, staff: OfficeUser, payer: str, rn: str):
    rec = registry.get_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
    values = {f.name: "" if rec.get(f.name) is None else str(rec[f.name]) for f in EDIT_FIELDS}
    return _edit_form(request, rec, values)


def _edit_form(request, rec: dict, values: dict, status: int = 200, **kw):
    return render(
        request,
        "office/recipient_edit.html",
        status=status,
        title=f"受給者情報の変更 {rec['name']}",
        rec=rec,
        fields=EDIT_FIELDS,
        values=values,
        version=kw.pop("version", rec["version"]),
        **kw,
    )


def _changes(rec: dict, values: dict, fields: tuple[Field, ...]) -> dict:
    """The submitted values that differ from the record, as the service cleans them (so 令和6年7月10日
    and 2024-07-10, or ｶﾅ and カナ, are no change); raises the service's refusal."""
    clean = registry.clean_recipient(values, partial=True)
    return {f.name: values[f.name] for f in fields if _plain(clean.get(f.name)) != _plain(rec.get(f.name))}


def _plain(v: object) -> str:
    return "" if v is None else v.isoformat() if hasattr(v, "isoformat") else str(v)


@router.post("/recipients/{payer}/{rn}/edit")
async def recipient_edit(request: Request, staff: OfficeUser, payer: str, rn: str):
    """受給者情報の変更 (氏名, カナ, 性別, 生年月日 in 和暦 or ISO …) with the version the clerk saw: the
    earlier state goes to the change history; another clerk's change in between is refused."""
    db = db_of(request)
    rec = registry.get_recipient(db, staff.principal, payer=payer, rn=rn)
    form = await request.form()
    values = _form_values(form, EDIT_FIELDS)
    version = _revision(form, "expected_version")
    try:
        changes = _changes(rec, values, EDIT_FIELDS)
        if not changes:
            return redirect(f"/office/recipients/{payer}/{rn}?saved=unchanged")
        registry.update_recipient(db, staff.principal, payer=payer, rn=rn, changes=changes, expected_version=version)
    except FujoError as e:
        status, shown = refusal(e)
        return _edit_form(request, rec, values, status, version=version or rec["version"], **shown)
    return redirect(f"/office/recipients/{payer}/{rn}?saved=edited")


@router.post("/recipients/{payer}/{rn}/disqualification")
async def recipient_disqualification(request: Request, staff: OfficeUser, payer: str, rn: str):
    """保護の停止・廃止: 停止 or 廃止, its date and the office's reason (all three empty: 保護中 again).
    The registry's refusals appear beside each field; nothing is written then."""
    db = db_of(request)
    rec = registry.get_recipient(db, staff.principal, payer=payer, rn=rn)
    form = await request.form()
    values = _form_values(form, DISQUALIFICATION_FIELDS)
    try:
        changes = _changes(rec, values, DISQUALIFICATION_FIELDS)
        if not changes:
            return redirect(f"/office/recipients/{payer}/{rn}?saved=unchanged")
        registry.update_recipient(
            db,
            staff.principal,
            payer=payer,
            rn=rn,
            changes=changes,
            expected_version=_revision(form, "expected_version"),
        )
    except FujoError as e:
        status, shown = refusal(e, "disq_errors")
        return _recipient_page(request, staff, payer, rn, status, disq_values=values, **shown)
    return redirect(f"/office/recipients/{payer}/{rn}?saved=disqualified")


@router.get("/recipients/{payer}/{rn}")
def recipient_detail(request: Request, staff: OfficeUser, payer: str, rn: str, saved: str = ""):
    return _recipient_page(request, staff, payer, rn, notice=RECIPIENT_NOTICES.get(saved))


def _card_action(request, staff, payer: str, rn: str, done: str, action):
    """Link or unlink a card from the recipient's screen: its errors beside the form (``link_errors``
    or ``unlink_errors``), else back to the screen saying it was ``done``."""
    try:
        action(db_of(request), staff.principal)
    except FujoError as e:
        status, shown = refusal(e, "link_errors" if done == "linked" else "unlink_errors")
        if done == "linked" and isinstance(e, ValidationFailed):
            shown["link_check"] = _link_check(e)
        return _recipient_page(request, staff, payer, rn, status, **shown)
    return redirect(f"/office/recipients/{payer}/{rn}?saved={done}")


def _link_check(e: ValidationFailed) -> list[dict] | None:
    """What the 初回ひも付け cross-check found, item by item (一致 or the reason it differs), when it
    compared at all (not for a malformed 個人番号 or one without a card). Never the card's values."""
    differs = {p.field: p.message_ja for p in e.problems if p.code == "identity_mismatch"}
    if not differs:
        return None
    return [
        {"field": f, "label": LABELS[f], "ok": f not in differs, "message": differs.get(f, "一致")}
        for f in identity.COMPARED
    ]


@router.post("/recipients/{payer}/{rn}/card-link")
async def card_link(request: Request, staff: OfficeUser, payer: str, rn: str):
    """初回ひも付け from the recipient's screen: the office enters the recipient's 個人番号."""
    form = await request.form()
    raw = form.get("individual_number")
    number = raw if isinstance(raw, str) else ""
    ca = request.app.state.ca
    return _card_action(
        request,
        staff,
        payer,
        rn,
        "linked",
        lambda db, p: registry.link_card(db, ca, p, payer=payer, rn=rn, individual_number=number),
    )


@router.post("/recipients/{payer}/{rn}/card-unlink")
async def card_unlink(request: Request, staff: OfficeUser, payer: str, rn: str):
    form = await request.form()
    raw = form.get("reason")
    reason = raw if isinstance(raw, str) else ""
    return _card_action(
        request,
        staff,
        payer,
        rn,
        "unlinked",
        lambda db, p: registry.unlink_card(db, p, payer=payer, rn=rn, reason=reason[:400]),
    )


@router.get("/facilities")
def facility_suggestions(request: Request, staff: OfficeUser, q: str = ""):
    """The ticket form's suggestion list as the clerk types part of a name (or カナ) or a code (JSON)."""
    found = facility_registry.suggest_facilities(db_of(request), staff.principal, q=q[:40], limit=10)
    return JSONResponse({"results": [{k: f[k] for k in ("code", "name", "kind")} for f in found]})


@router.get("/facilities/{code}")
def facility_lookup(request: Request, staff: OfficeUser, code: str):
    """The ticket form's look-up as the clerk types a 医療機関コード (JSON)."""
    try:
        f = facility_registry.get_facility(db_of(request), staff.principal, code)
    except FujoError as e:
        return JSONResponse({"found": False, "message": e.message_ja}, status_code=e.status)
    return JSONResponse({"found": True, "code": f["code"], "name": f["name"], "kind": f["kind"]})


# --- tickets ---------------------------------------------------------------------------------


def _ticket_form(request, rec: dict, values: dict, status: int = 200, **kw):
    """The new-ticket form of a recipient."""
    action = f"/office/recipients/{rec['payer_number']}/{rec['recipient_number']}/tickets"
    return render(
        request,
        "office/ticket_form.html",
        status=status,
        title="医療券/調剤券の登録",
        rec=rec,
        fields=TICKET_FIELDS,
        values=values,
        action=action,
        **kw,
    )


@router.get("/recipients/{payer}/{rn}/tickets/new")
def ticket_form(request: Request, staff: OfficeUser, payer: str, rn: str):
    rec = registry.get_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
    first = today_jst().replace(day=1)
    last = month_end(first)
    values = {
        "ticket_type": "01",
        "treatment_month": f"{first:%Y-%m}",
        "valid_from": first.isoformat(),
        "valid_to": last.isoformat(),
        "treatment_type": "02",
        "single_or_combined": "01",
    }
    return _ticket_form(request, rec, values)


@router.post("/recipients/{payer}/{rn}/tickets")
async def ticket_create(request: Request, staff: OfficeUser, payer: str, rn: str):
    db = db_of(request)
    rec = registry.get_recipient(db, staff.principal, payer=payer, rn=rn)
    values = _ticket_input(await request.form())
    try:
        t = registry.register_ticket(db, staff.principal, {"payer_number": payer, "recipient_number": rn, **values})
    except FujoError as e:
        status, shown = refusal(e)
        return _ticket_form(request, rec, _with_names(db, values), status, **shown)
    return redirect(f"/office/tickets/{t['ticket_key']}?saved=registered")


def _ticket_page(
    request, staff, key, status=200, values=None, errors=None, cancel_errors=None, message=None, notice=None, reason=""
):
    t = registry.get_ticket(db_of(request), staff.principal, key)
    return render(
        request,
        "office/ticket.html",
        status=status,
        title="医療券/調剤券",
        t=t,
        fields=TICKET_FIELDS,
        values=values if values is not None else _ticket_values(t),
        errors=errors or {},
        cancel_errors=cancel_errors or {},
        message=message,
        notice=notice,
        reason=reason,
        labels=LABELS,
    )


NOTICES = {
    "registered": "医療券/調剤券を登録しました。",
    "amended": "変更しました（変更前の内容は履歴に残ります）。",
    "cancelled": "取り消しました（履歴に残ります）。",
}


@router.get("/tickets/{key}")
def ticket_detail(request: Request, staff: OfficeUser, key: str, saved: str = ""):
    _uuid(key)
    return _ticket_page(request, staff, key, notice=NOTICES.get(saved))


def _ticket_input(form) -> dict:
    """A ticket form's values as the services read them (the facility names are the registry's)."""
    values = _form_values(form, TICKET_FIELDS)
    values.pop("designated_facility_name", None)
    values.pop("prescription_issuer_name", None)
    return values


DATE_FIELDS = tuple(f.name for f in TICKET_FIELDS if f.kind == "date")


def _validation(values: dict, check) -> JSONResponse:
    """The answer of a live validation: ``ok`` and the problems by field (the same messages the
    form shows after saving), or the refusal's message (404, 403, 409); with the 和暦 reading of
    each date as typed (what the form shows beside it after saving)."""
    readings = {k: env.filters["wreading"](values.get(k, "")) for k in DATE_FIELDS}
    try:
        t = check()
    except ValidationFailed as e:
        return JSONResponse({"ok": False, "errors": field_errors(e)[0], "readings": readings})
    except FujoError as e:
        return JSONResponse(
            {"ok": False, "errors": {}, "readings": readings, "message": e.message_ja}, status_code=e.status
        )
    names = {k: t.get(k) or "" for k in ("designated_facility_name", "prescription_issuer_name")}
    return JSONResponse({"ok": True, "errors": {}, "readings": readings, "names": names})


@router.post("/recipients/{payer}/{rn}/tickets/validate")
async def ticket_validate(request: Request, staff: OfficeUser, payer: str, rn: str):
    """What registering the form as it stands would refuse, field by field, writing nothing: the
    service's own checks (registry.validate_ticket), called by fujo.js as the clerk types."""
    values = _ticket_input(await request.form())
    db = db_of(request)
    return _validation(values, lambda: registry.validate_ticket(db, staff.principal, data=values, payer=payer, rn=rn))


@router.post("/tickets/{key}/validate")
async def ticket_amend_validate(request: Request, staff: OfficeUser, key: str):
    """The same for the amendment form of ticket ``key`` (its own current revision is no duplicate)."""
    _uuid(key)
    form = await request.form()
    values, revision, db = _ticket_input(form), _revision(form), db_of(request)
    return _validation(
        values, lambda: registry.validate_ticket(db, staff.principal, data=values, key=key, expected_revision=revision)
    )


@router.get("/tickets")
def month_view(
    request: Request,
    staff: OfficeUser,
    month: str = "",
    facility: str = "",
    status: str = "",
    late: str = "",
    page: str = "1",
):
    """Every ticket of the office's 公費負担者番号 in a 診療年月, filtered by designated facility, state
    (有効・変更あり・取消, or the recipient's 保護停止・廃止 that month) and 事後登録, with counts."""
    month = month.strip()[:10] or f"{today_jst():%Y-%m}"
    facility, status = facility.strip()[:10], status.strip()[:20]
    number = max(int(page), 1) if page.isdigit() and len(page) < 7 else 1
    errors: dict = {}
    view: dict[str, Any] = {"rows": [], "total": 0, "counts": {}, "facilities": [], "offset": 0, "limit": MONTH_PAGE}
    try:
        view = registry.month_tickets(
            db_of(request),
            staff.principal,
            month=month,
            facility=facility or None,
            status=status or None,
            late=late == "1",
            limit=MONTH_PAGE,
            offset=(number - 1) * MONTH_PAGE,
        )
    except ValidationFailed as e:
        errors = field_errors(e)[0]
    ym, _ = parse_month(month, "month")
    key = month_key(*ym) if ym else ""
    filters = {"month": month.strip() if key else month, "facility": facility, "status": status}  # as typed
    if late == "1":
        filters["late"] = "1"
    return render(
        request,
        "office/tickets.html",
        status=422 if errors else 200,
        title=f"医療券/調剤券（{env.filters['wmonth'](key)}）" if key else "医療券/調剤券（月別）",
        month_key=key if not errors.get("month") else "",
        filters=filters,
        view=view,
        page=number,
        pages=max(1, -(-view["total"] // MONTH_PAGE)),
        statuses=registry.MONTH_FILTERS,
        errors=errors,
        labels=LABELS,
        link=lambda **over: "/office/tickets?" + urlencode({k: v for k, v in {**filters, **over}.items() if v}),
        wide=True,
    )


def _pdf(data: bytes, filename: str) -> Response:
    """A printed 医療券/調剤券 (personal data): shown inline for printing, never cached."""
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/tickets/{key}/print.pdf")
def ticket_print(request: Request, staff: OfficeUser, key: str):
    """One 医療券/調剤券 on A4 (docs/PRINT.md); recorded in the check log."""
    _uuid(key)
    return _pdf(printing.ticket_pdf(db_of(request), staff.principal, key), f"ticket-{key}.pdf")


@router.get("/print.pdf")
def month_print(request: Request, staff: OfficeUser, month: str = ""):
    """The office's current tickets of a 診療年月, one page each (docs/PRINT.md)."""
    m, data = printing.month_pdf(db_of(request), staff.principal, month or f"{today_jst():%Y%m}")
    return _pdf(data, f"tickets-{m}.pdf")


def _uuid(key: str) -> None:
    try:
        uuid.UUID(key)
    except ValueError:
        raise NotFound("医療券/調剤券が見つかりません。", "No such ticket.") from None


def _revision(form, name: str = "expected_revision") -> int | None:
    v = form.get(name)
    return int(v) if isinstance(v, str) and v.isdigit() else None


@router.post("/tickets/{key}/amend")
async def ticket_amend(request: Request, staff: OfficeUser, key: str):
    _uuid(key)
    form = await request.form()
    values = _ticket_input(form)
    raw = form.get("reason")
    reason = raw.strip()[:200] if isinstance(raw, str) else ""
    try:
        registry.amend_ticket(
            db_of(request),
            staff.principal,
            key=key,
            data=values,
            reason=reason or None,
            expected_revision=_revision(form),
        )
    except FujoError as e:
        status, shown = refusal(e)
        return _ticket_page(
            request, staff, key, status, values=_with_names(db_of(request), values), reason=reason, **shown
        )
    return redirect(f"/office/tickets/{key}?saved=amended")


@router.post("/tickets/{key}/cancel")
def ticket_cancel(
    request: Request,
    staff: OfficeUser,
    key: str,
    cancel_reason: str = Form("", max_length=400),
    expected_revision: str = Form("", max_length=10),
):
    _uuid(key)
    try:
        registry.cancel_ticket(
            db_of(request),
            staff.principal,
            key=key,
            reason=cancel_reason,
            expected_revision=int(expected_revision) if expected_revision.isdigit() else None,
        )
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        return _ticket_page(request, staff, key, 422, cancel_errors={"cancel_reason": errors.get("reason", [])})
    except FujoError as e:
        return _ticket_page(request, staff, key, e.status, message=e.message_ja)
    return redirect(f"/office/tickets/{key}?saved=cancelled")


# --- CSV import ------------------------------------------------------------------------------


def _report_view(report: dict) -> dict:
    report = dict(report)
    report["errors"] = [dict(e, label=LABELS.get(e["field"], e["field"])) for e in report.get("errors", [])]
    return report


def _outcome(job: dict) -> dict:
    """{'ok', 'report', 'message', 'problems'}: how the report page shows a job's answer."""
    if job["state"] == jobs.DONE:
        return {"ok": True, "report": _report_view(job["report"]), "message": None, "problems": []}
    err = job["error"] or {}
    if err.get("report"):
        return {"ok": False, "report": _report_view(err["report"]), "message": err["message_ja"], "problems": []}
    if err.get("code") == ValidationFailed.code:
        return {
            "ok": False,
            "report": None,
            "message": "ファイルを取り込めません。",
            "problems": [
                {"label": LABELS.get(p["field"], p["field"]), "message": p["message_ja"]} for p in err["fields"]
            ],
        }
    return {"ok": False, "report": None, "message": err.get("message_ja", "取り込めませんでした。"), "problems": []}


async def _start_import(request: Request, staff, kind: str, file: UploadFile | None) -> tuple[dict | None, dict]:
    """The import as a job (fujo.jobs: the same runner and rules as the API's): the upload is copied
    to the spool chunk by chunk, then queued. The job, or the form's errors."""
    errors: dict = {}
    if kind not in IMPORT_KINDS:
        errors["kind"] = ["種類を選んでください。"]
    if file is None or not file.filename:
        errors["file"] = ["CSVファイルを選択してください。"]
    if errors:
        return None, errors
    assert file is not None
    db, principal = db_of(request), staff.principal
    try:
        path = await asyncio.to_thread(jobs.copy_to_spool, file.file, request.app.state.settings.data_dir, MAX_CSV)
    except jobs.PayloadTooLarge:
        return None, {"file": ["ファイルが大きすぎます（20MBまで）。"]}
    if jobs.read_head(path, 1)[0] == b"":
        jobs.remove_spool(path)
        return None, {"file": ["CSVファイルを選択してください。"]}
    try:
        job = await asyncio.to_thread(jobs.submit, db, principal, kind=kind, spool_path=path)
    except BaseException:
        jobs.remove_spool(path)
        raise
    request.app.state.job_runner.wake()
    return job, {}


def _import_page(request, kind: str = "tickets", status: int = 200, **kw):
    return render(
        request,
        "office/import.html",
        status=status,
        title="CSV取込",
        kinds=IMPORT_KINDS,
        kind=kind,
        labels=LABELS,
        **kw,
    )


def _import_report(request, kind: str, out: dict):
    status = 200 if out["ok"] else 422
    return render(
        request, "office/import_report.html", status=status, title="CSV取込の結果", kinds=IMPORT_KINDS, kind=kind, **out
    )


def _import_result(request, job: dict):
    """The report of an ended job; while it runs, a page that looks again by itself."""
    kind = job["kind"].removeprefix(jobs.IMPORT)
    if job["state"] in jobs.ENDED:
        return _import_report(request, kind, _outcome(job))
    return render(
        request, "office/import_wait.html", title="CSV取込中", kinds=IMPORT_KINDS, kind=kind, job=job, phase=_phase(job)
    )


def _phase(job: dict) -> str:
    if job["state"] == jobs.RUNNING:
        return "書き込み中" if job["rows_total"] else "検証中"
    return jobs.STATES[job["state"]]


@router.get("/import")
def import_form(request: Request, staff: OfficeUser):
    return _import_page(request)


@router.post("/import", max_body_size=limits.IMPORT + limits.MIB)
async def import_sync(request: Request, staff: OfficeUser, kind: str = Form(""), file: UploadFile | None = File(None)):
    """Without JavaScript: the same job, waited for a while; the report, or a page that reloads."""
    started, errors = await _start_import(request, staff, kind, file)
    if started is None:
        return _import_page(request, kind, 422, errors=errors)
    db, principal, job = db_of(request), staff.principal, started
    for _ in range(IMPORT_WAIT_POLLS):
        if job["state"] in jobs.ENDED:
            break
        await asyncio.sleep(0.05)
        job = await asyncio.to_thread(jobs.get, db, principal, job["id"])
    return _import_result(request, job)


@router.post("/import/jobs", max_body_size=limits.IMPORT + limits.MIB)
async def import_start(request: Request, staff: OfficeUser, kind: str = Form(""), file: UploadFile | None = File(None)):
    """With JavaScript: start the import job; the page polls the job's row for progress."""
    job, errors = await _start_import(request, staff, kind, file)
    if job is None:
        return JSONResponse({"errors": errors}, status_code=422)
    return JSONResponse(
        {
            "job": job["id"],
            "status_url": f"/office/import/jobs/{job['id']}",
            "report_url": f"/office/import/jobs/{job['id']}/report",
        },
        status_code=202,
    )


@router.get("/import/jobs/{job_id}")
def import_status(request: Request, staff: OfficeUser, job_id: str):
    job = jobs.get(db_of(request), staff.principal, job_id)  # another user's job: 404
    return JSONResponse(
        {
            "phase": _phase(job),
            "done": job["rows_done"],
            "total": job["rows_total"] or 0,
            "finished": job["state"] in jobs.ENDED,
        }
    )


@router.get("/import/jobs/{job_id}/report")
def import_report(request: Request, staff: OfficeUser, job_id: str):
    return _import_result(request, jobs.get(db_of(request), staff.principal, job_id))


# --- late registrations ----------------------------------------------------------------------


@router.get("/late")
def late(request: Request, staff: OfficeUser, month: str = ""):
    ym, problem = parse_month(month or f"{today_jst():%Y%m}", "month")  # the same rule as the API
    m = month_key(*ym) if ym else month.replace("-", "")
    errors: dict = {}
    rows: list = []
    if problem:
        errors["month"] = [problem.message_ja]
    else:
        rows = registry.late_tickets(db_of(request), staff.principal, m)
    return render(
        request,
        "office/late.html",
        status=422 if errors else 200,
        title="事後登録の医療券/調剤券",
        month=month.strip() or f"{m[:4]}-{m[4:6]}",  # as typed (R6.7 stays R6.7)
        month_key="" if problem else m,
        rows=rows,
        errors=errors,
    )
