"""Welfare office (福祉事務所): recipients, 医療券/調剤券 registration, amendment and cancellation
with history, CSV import with progress and a per-row report, and tickets registered late."""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ..core.dates import month_end, today_jst
from ..core.errors import FujoError, ValidationFailed
from ..core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from ..registry import facilities as facility_registry
from ..registry import printing
from ..registry import service as registry
from ..registry.csv_import import ImportFailed, import_csv
from .kit import OfficeUser, csrf_guard, db_of, field_errors, page, redirect, refusal, render

router = APIRouter(prefix="/office", dependencies=[Depends(csrf_guard)], include_in_schema=False)

LABELS = {f.name: f.label_ja for f in (*INSURANCE_FIELDS, *RECIPIENT_FIELDS, *TICKET_FIELDS)}
LABELS.update(
    payer_number="公費負担者番号",
    recipient_number="受給者番号",
    reason="変更・取消の理由",
    file="ファイル",
    kind="種類",
    card_serial="カードのシリアル番号",
)
MAX_CSV = 20 * 1024 * 1024
IMPORT_KINDS = {"recipients": "受給者（被保護者）", "tickets": "医療券/調剤券"}


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
    return render(request, "office/search.html", title="受給者検索", q=q, results=results)


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
    "linked": "マイナンバーカードとひも付けました（初回ひも付け）。",
    "unlinked": "マイナンバーカードとのひも付けを解除しました（記録に残ります）。",
}


def _recipient_page(request, staff, payer: str, rn: str, status: int = 200, **kw):
    rec = registry.get_recipient(db_of(request), staff.principal, payer=payer, rn=rn)
    defaults: dict[str, Any] = dict(rec=rec, fields=RECIPIENT_FIELDS, link_errors={}, unlink_errors={}, notice=None)
    return page(request, "office/recipient.html", f"受給者 {rec['name']}", defaults, kw, status)


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
        return _recipient_page(request, staff, payer, rn, status, **shown)
    return redirect(f"/office/recipients/{payer}/{rn}?saved={done}")


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
    form = await request.form()
    values = _form_values(form, TICKET_FIELDS)
    values.pop("designated_facility_name", None)  # the registry's, never typed
    values.pop("prescription_issuer_name", None)
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
        from ..core.errors import NotFound

        raise NotFound("医療券/調剤券が見つかりません。", "No such ticket.") from None


def _revision(form) -> int | None:
    v = form.get("expected_revision")
    return int(v) if isinstance(v, str) and v.isdigit() else None


@router.post("/tickets/{key}/amend")
async def ticket_amend(request: Request, staff: OfficeUser, key: str):
    _uuid(key)
    form = await request.form()
    values = _form_values(form, TICKET_FIELDS)
    values.pop("designated_facility_name", None)  # the registry's, never typed
    values.pop("prescription_issuer_name", None)
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


def _run_import(db, principal, kind: str, data: bytes, progress=None) -> dict:
    """{'ok', 'report', 'message', 'problems'} — whatever happened, as the report page shows it."""
    try:
        report = import_csv(db, principal, kind, data, progress)
        return {"ok": True, "report": _report_view(report.as_dict()), "message": None, "problems": []}
    except ImportFailed as e:
        return {"ok": False, "report": _report_view(e.report.as_dict()), "message": e.message_ja, "problems": []}
    except ValidationFailed as e:
        return {
            "ok": False,
            "report": None,
            "message": "ファイルを取り込めません。",
            "problems": [{"label": LABELS.get(p.field, p.field), "message": p.message_ja} for p in e.problems],
        }
    except FujoError as e:
        return {"ok": False, "report": None, "message": e.message_ja, "problems": []}


async def _read_upload(file: UploadFile | None, kind: str) -> tuple[bytes, dict]:
    errors: dict = {}
    if kind not in IMPORT_KINDS:
        errors["kind"] = ["種類を選んでください。"]
    data = await file.read(MAX_CSV + 1) if file is not None and file.filename else b""
    if not data:
        errors["file"] = ["CSVファイルを選択してください。"]
    elif len(data) > MAX_CSV:
        errors["file"] = ["ファイルが大きすぎます（20MBまで）。"]
    return data, errors


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


@router.get("/import")
def import_form(request: Request, staff: OfficeUser):
    return _import_page(request)


@router.post("/import")
async def import_sync(request: Request, staff: OfficeUser, kind: str = Form(""), file: UploadFile | None = File(None)):
    """Without JavaScript: import at once and show the report."""
    data, errors = await _read_upload(file, kind)
    if errors:
        return _import_page(request, kind, 422, errors=errors)
    return _import_report(request, kind, _run_import(db_of(request), staff.principal, kind, data))


@router.post("/import/jobs")
async def import_start(request: Request, staff: OfficeUser, kind: str = Form(""), file: UploadFile | None = File(None)):
    """With JavaScript: start the import in the background; the page polls the job for progress."""
    data, errors = await _read_upload(file, kind)
    if errors:
        return JSONResponse({"errors": errors}, status_code=422)
    jobs: dict = request.app.state.web_jobs
    for k in [k for k, j in jobs.items() if j["finished"]][:-50]:  # keep the store small
        jobs.pop(k, None)
    job_id = secrets.token_urlsafe(16)
    job: dict[str, Any] = {
        "owner": staff.session.user_id,
        "kind": kind,
        "phase": "検証中",
        "done": 0,
        "total": 0,
        "finished": False,
        "result": None,
    }
    jobs[job_id] = job
    db, principal = db_of(request), staff.principal

    def progress(done: int, total: int) -> None:
        job.update(phase="書き込み中", done=done, total=total)

    def run() -> None:
        try:
            job["result"] = _run_import(db, principal, kind, data, progress)
        except Exception:  # never leave the page polling forever; no details (personal data)
            job["result"] = {
                "ok": False,
                "report": None,
                "message": "内部エラーのため取り込めませんでした。",
                "problems": [],
            }
        job.update(phase="完了", finished=True)

    threading.Thread(target=run, daemon=True, name="fujo-web-import").start()
    return JSONResponse(
        {
            "job": job_id,
            "status_url": f"/office/import/jobs/{job_id}",
            "report_url": f"/office/import/jobs/{job_id}/report",
        },
        status_code=202,
    )


def _job(request: Request, staff, job_id: str) -> dict:
    job = request.app.state.web_jobs.get(job_id)
    if not job or job["owner"] != staff.session.user_id:
        from ..core.errors import NotFound

        raise NotFound("取込処理が見つかりません。", "No such import job.")
    return job


@router.get("/import/jobs/{job_id}")
def import_status(request: Request, staff: OfficeUser, job_id: str):
    job = _job(request, staff, job_id)
    return JSONResponse({k: job[k] for k in ("phase", "done", "total", "finished")})


@router.get("/import/jobs/{job_id}/report")
def import_report(request: Request, staff: OfficeUser, job_id: str):
    job = _job(request, staff, job_id)
    if not job["finished"]:
        return redirect("/office/import")
    return _import_report(request, job["kind"], job["result"])


# --- late registrations ----------------------------------------------------------------------


@router.get("/late")
def late(request: Request, staff: OfficeUser, month: str = ""):
    from ..core.dates import month_key, parse_month

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
        month=f"{m[:4]}-{m[4:6]}" if len(m) == 6 else month,
        month_key="" if problem else m,
        rows=rows,
        errors=errors,
    )
