"""Operator (運用管理者): today's checks as a chart, organisations, API credentials, web users and
card revocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from ..accounts import service as accounts
from ..api import limits
from ..audit.dashboard import checks_for_day
from ..auth.principal import KINDS, ROLES
from ..cards import service as cards
from ..core import codes
from ..core.dates import parse_date, today_jst
from ..core.errors import FujoError, ValidationFailed
from ..orgs import service as orgs
from ..registry import facilities as facility_registry
from ..registry.csv_import import ImportFailed, import_csv
from .kit import AdminUser, csrf_guard, db_of, field_errors, page, redirect, refusal, render

router = APIRouter(prefix="/admin", dependencies=[Depends(csrf_guard)], include_in_schema=False)

OUTCOMES = [
    (codes.VALID, "有効"),
    (codes.VALID_UNREGISTERED, "有効（未登録・未委託）"),
    (codes.INVALID, "無効"),
    (codes.INVALID_NEWER, "無効（新しい資格あり）"),
    (codes.NO_QUALIFICATION, "該当資格なし"),
    (codes.MULTIPLE, "複数該当"),
]
COLORS = {"1": "#0b6b2b", "6": "#d08a00", "2": "#b00020", "3": "#b00020", "4": "#666666", "5": "#5b3f99"}


def chart(stats: dict) -> dict:
    """Geometry of a stacked bar chart (inline SVG, no script): one bar per hour."""
    w, h, left, bottom, top = 720, 240, 36, 24, 10
    peak = max([x["total"] for x in stats["hours"]] + [1])
    step = max(1, -(-peak // 4))
    scale_max = step * 4
    bw = (w - left - 8) / 24
    bars = []
    for x in stats["hours"]:
        y = h - bottom
        for code, label in OUTCOMES:
            n = x["by_outcome"].get(code, 0)
            if not n:
                continue
            bh = (h - bottom - top) * n / scale_max
            y -= bh
            bars.append(
                {
                    "x": round(left + x["hour"] * bw + 2, 1),
                    "y": round(y, 1),
                    "w": round(bw - 4, 1),
                    "h": round(bh, 1),
                    "fill": COLORS[code],
                    "title": f"{x['hour']}時台 {label} {n}件",
                }
            )
    ticks = [{"y": round(h - bottom - (h - bottom - top) * i / 4, 1), "v": step * i} for i in range(5)]
    hours = [{"x": round(left + hh * bw + bw / 2, 1), "h": hh} for hh in range(0, 24, 3)]
    return {"w": w, "h": h, "bars": bars, "ticks": ticks, "hours": hours, "left": left, "base": h - bottom}


@router.get("")
def dashboard(request: Request, staff: AdminUser, day: str = Query("", max_length=40)):
    """The day is typed as any date entry is (R6.7.10, 令和6年7月10日, 2024-07-10); a day that is not
    a date is named next to the field (422) and today's figures are shown instead."""
    picked, problem = parse_date(day, "day", "日付", required=False)
    d = picked or today_jst()
    stats = checks_for_day(db_of(request), d)
    return render(
        request,
        "admin/dashboard.html",
        title="本日の資格確認" if d == today_jst() else "資格確認の件数",
        stats=stats,
        chart=chart(stats),
        outcomes=OUTCOMES,
        colors=COLORS,
        day=d,
        day_entry=day if problem else (day or d.isoformat()),
        errors={"day": [problem.message_ja]} if problem else {},
        status=422 if problem else 200,
    )


def _orgs_page(request, status: int = 200, **kw):
    defaults: dict[str, Any] = dict(orgs=orgs.list_organisations(db_of(request)), kinds=KINDS, values={}, notice=None)
    return page(request, "admin/orgs.html", "組織と認証情報", defaults, kw, status)


@router.get("/orgs")
def org_list(request: Request, staff: AdminUser):
    return _orgs_page(request)


@router.post("/orgs")
def org_create(
    request: Request,
    staff: AdminUser,
    kind: str = Form("", max_length=20),
    code: str = Form("", max_length=20),
    name: str = Form("", max_length=200),
    phone: str = Form("", max_length=30),
    address: str = Form("", max_length=200),
    payer_numbers: str = Form("", max_length=200),
):
    values = dict(kind=kind, code=code, name=name, phone=phone, address=address, payer_numbers=payer_numbers)
    payers = [p for p in payer_numbers.replace("、", ",").replace(" ", ",").split(",") if p] or None
    try:
        org = orgs.create_organisation(
            db_of(request),
            kind=kind,
            code=code,
            name=name,
            phone=phone or None,
            address=address or None,
            payer_numbers=payers,
        )
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        for k in list(errors):
            if k.startswith("payer_numbers["):
                errors.setdefault("payer_numbers", []).extend(errors.pop(k))
        return _orgs_page(request, status=422, values=values, errors=errors)
    except FujoError as e:
        return _orgs_page(request, status=e.status, values=values, message=e.message_ja)
    return redirect(f"/admin/orgs/{org['id']}")


def _org_page(request, org_id: int, status=200, **kw):
    db = db_of(request)
    org = orgs.get_organisation(db, org_id)
    defaults: dict[str, Any] = dict(
        org=org,
        credentials=orgs.list_credentials(db, org_id),
        users=accounts.list_users(db, org_id),
        token=None,
        values={},
        user_errors={},
        notice=None,
        roles=ROLES.get(org["kind"], {}),
        cred_errors={},
    )
    return page(request, "admin/org.html", f"{org['name']}", defaults, kw, status)


@router.get("/orgs/{org_id}")
def org_detail(request: Request, staff: AdminUser, org_id: int):
    return _org_page(request, org_id)


@router.post("/orgs/{org_id}/credentials")
def credential_issue(
    request: Request,
    staff: AdminUser,
    org_id: int,
    label: str = Form("", max_length=100),
    role: str = Form("", max_length=20),
):
    try:
        cred = orgs.issue_credential(db_of(request), org_id, label=label.strip() or None, role=role or None)
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        return _org_page(request, org_id, status=422, cred_errors=errors)
    # The token is shown once, on this response only (no-store), and never stored in clear.
    return _org_page(
        request,
        org_id,
        token=cred["token"],
        notice="APIトークンを発行しました。この画面を閉じると二度と表示されません。",
    )


@router.post("/orgs/{org_id}/credentials/{cred_id}/revoke")
def credential_revoke(request: Request, staff: AdminUser, org_id: int, cred_id: int):
    try:
        orgs.revoke_credential(db_of(request), org_id, cred_id)
    except FujoError as e:
        return _org_page(request, org_id, status=e.status, message=e.message_ja)
    return _org_page(request, org_id, notice="認証情報を失効しました。")


@router.post("/orgs/{org_id}/users")
def user_create(
    request: Request,
    staff: AdminUser,
    org_id: int,
    login: str = Form("", max_length=60),
    display_name: str = Form("", max_length=60),
    password: str = Form("", max_length=200),
    role: str = Form("", max_length=20),
):
    values = {"login": login, "display_name": display_name, "role": role}
    try:
        accounts.create_user(
            db_of(request), org_id, login=login, password=password, display_name=display_name or None, role=role or None
        )
    except FujoError as e:
        status, shown = refusal(e, "user_errors")
        return _org_page(request, org_id, status=status, values=values, **shown)
    return _org_page(request, org_id, notice=f"利用者「{login}」を登録しました。")


@router.post("/orgs/{org_id}/users/{user_id}/disable")
def user_disable(request: Request, staff: AdminUser, org_id: int, user_id: int):
    accounts.set_user_disabled(db_of(request), org_id, user_id, True)
    return _org_page(request, org_id, notice="利用者を停止しました（サインイン中のセッションも終了しました）。")


def _cards_page(request, status: int = 200, **kw):
    defaults: dict[str, Any] = dict(cards=cards.list_cards(db_of(request)), values={})
    return page(request, "admin/cards.html", "カードの失効", defaults, kw, status)


@router.get("/cards")
def card_list(request: Request, staff: AdminUser):
    return _cards_page(request)


@router.post("/cards/revoke")
def card_revoke(
    request: Request, staff: AdminUser, serial: str = Form("", max_length=60), reason: str = Form("", max_length=100)
):
    errors: dict = {}
    values = {"serial": serial, "reason": reason}
    if not serial.strip():
        errors["serial"] = ["シリアル番号を入力してください。"]
    if not reason.strip():
        errors["reason"] = ["失効の理由を入力してください。"]
    message = None
    if not errors:
        try:
            cards.revoke_card(db_of(request), serial=serial.strip(), reason=reason.strip())
            return _cards_page(request, notice=f"カード {serial.strip()} を失効しました。")
        except FujoError as e:
            errors["serial"] = [e.message_ja]
    return _cards_page(request, status=422, values=values, errors=errors, message=message)


@router.post("/cards/{serial}/pin-reset")
def card_pin_reset(request: Request, staff: AdminUser, serial: str):
    """A reset token for the card's PIN lock (3 wrong PINs at the reader), shown once on the page."""
    try:
        reset = cards.issue_pin_reset(db_of(request), request.app.state.ca, staff.principal, serial=serial)
    except FujoError as e:
        return _cards_page(request, status=e.status, message=e.message_ja)
    return _cards_page(
        request, notice=f"カード {reset['serial']} の暗証番号ロック解除コードを発行しました。", reset=reset
    )


# --- the facility registry -------------------------------------------------------------------

FACILITY_LABELS = {
    "code": "医療機関コード",
    "name": "医療機関名",
    "prefecture": "都道府県番号",
    "address": "所在地",
    "phone": "電話番号",
    "file": "ファイル",
}


def _facilities_page(request, q: str = "", status: int = 200, **kw):
    db = db_of(request)
    defaults: dict[str, Any] = dict(
        q=q,
        labels=FACILITY_LABELS,
        values={},
        errors={},
        notice=None,
        report=None,
        facilities=facility_registry.search_facilities(db, None, q or None, limit=200),
    )
    return page(request, "admin/facilities.html", "医療機関の登録簿", defaults, kw, status)


@router.get("/facilities")
def facility_list(request: Request, staff: AdminUser, q: str = ""):
    return _facilities_page(request, q.strip()[:80])


@router.post("/facilities")
def facility_register(
    request: Request,
    staff: AdminUser,
    code: str = Form("", max_length=20),
    name: str = Form("", max_length=200),
    address: str = Form("", max_length=200),
    phone: str = Form("", max_length=30),
):
    values = {"code": code, "name": name, "address": address, "phone": phone}
    try:
        f = facility_registry.register_facility(
            db_of(request), staff.principal, {k: v for k, v in values.items() if v.strip()}
        )
    except FujoError as e:
        status, shown = refusal(e)
        return _facilities_page(request, status=status, values=values, **shown)
    return _facilities_page(request, notice=f"{f['name']}（{f['code']}、{f['kind']}）を登録しました。")


@router.post("/facilities/import", max_body_size=limits.IMPORT + limits.MIB)
async def facility_import(request: Request, staff: AdminUser, file: UploadFile | None = File(None)):
    """Facilities in bulk from a CSV file (code,name,prefecture,address,phone), all or nothing."""
    data = await file.read(20 * 1024 * 1024 + 1) if file is not None and file.filename else b""
    if not data:
        return _facilities_page(request, status=422, errors={"file": ["CSVファイルを選択してください。"]})
    try:
        report = import_csv(db_of(request), staff.principal, "facilities", data)
    except ImportFailed as e:
        rows = [dict(x, label=FACILITY_LABELS.get(x["field"], x["field"])) for x in e.report.as_dict()["errors"]]
        return _facilities_page(request, status=422, message=e.message_ja, report=rows)
    except ValidationFailed as e:
        errors, _ = field_errors(e)
        return _facilities_page(
            request,
            status=422,
            message="ファイルを取り込めません。",
            report=[
                {"row": "-", "label": FACILITY_LABELS.get(k, k), "message_ja": "、".join(v)} for k, v in errors.items()
            ],
        )
    return _facilities_page(request, notice=f"{report.written}件の医療機関を登録しました。")
