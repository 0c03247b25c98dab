"""Shared plumbing of the screens: templates, the signed-in session, CSRF, error pages, headers."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import unicodedata
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader

from ..accounts import service as accounts
from ..accounts.service import Session
from ..auth.principal import ADMIN, CLINICIAN, FACILITY, INSURER, KIND_JA, MANAGER, WELFARE_OFFICE, Principal
from ..core import codes
from ..core.era import wareki_date, wareki_month, written_in_era
from ..core.errors import FieldProblem, FujoError, ValidationFailed
from ..db import windows
from ..db.database import Database

HERE = Path(__file__).parent
SESSION_COOKIE = "fujo_session"
PRE_COOKIE = "fujo_pre"  # CSRF token for forms shown before sign-in (double submit)

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _wdate(v) -> str:
    if v in (None, ""):
        return "-"
    if isinstance(v, str):
        s = v.replace("-", "")[:8]
        v = dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    if isinstance(v, dt.datetime):
        v = v.date()
    return wareki_date(v)


def _wmonth(v) -> str:
    if not v:
        return "-"
    s = str(v).replace("-", "")
    return wareki_month(int(s[:4]), int(s[4:6]))


def _wtime(v) -> str:
    """和暦 date and time of day (JST) of an ISO timestamp or datetime."""
    if not v:
        return "-"
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    from ..core.dates import JST

    v = v.astimezone(JST) if v.tzinfo else v
    return f"{wareki_date(v.date())} {v:%H:%M}"


def _wreading(v, kind: str = "date") -> str:
    """The reading of a date (or, with ``kind`` "month" / "datetime", a month / a date and time) as typed into a form (R6.7.10,
    2024-07-10, R6.7 …): 令和6年7月10日（2024-07-10）, 令和6年7月（2024-07）, read by the same parser the
    services use; '' while it is empty or not a date (its error says why)."""
    from .dates import READERS

    return str(READERS[kind]("" if v is None else str(v))["reading"])


def _wera(v, kind: str = "date") -> str:
    """What a date (or month) entry's era selector shows: the era the value is written in (R, H …),
    AD for a Western date, R (令和) while the entry is empty or not yet a date."""
    from .dates import READERS

    s = unicodedata.normalize("NFKC", "" if v is None else str(v)).strip()
    forms = READERS[kind](s)["forms"]
    if not forms:
        return "R"
    return next(k for k in forms if k != "AD") if written_in_era(s) and len(forms) > 1 else "AD"


env.filters.update(wdate=_wdate, wmonth=_wmonth, wtime=_wtime, wreading=_wreading, wera=_wera)
env.globals.update(codes=codes, KIND_JA=KIND_JA)


# --- errors the screens raise ----------------------------------------------------------------


class LoginRequired(Exception):
    def __init__(self, portal: bool = False):
        self.portal = portal


class CsrfRefused(Exception):
    pass


def is_web_path(path: str) -> bool:
    return not (path.startswith("/api/") or path in ("/docs", "/redoc", "/openapi.json") or path.startswith("/docs/"))


# --- sessions --------------------------------------------------------------------------------


def db_of(request: Request) -> Database:
    return request.app.state.db


def current_session(request: Request) -> Session | None:
    if "fujo_web_session" not in request.state._state:
        request.state.fujo_web_session = accounts.load_session(db_of(request), request.cookies.get(SESSION_COOKIE))
    return request.state.fujo_web_session


def set_session_cookie(request: Request, resp: Response, cookie: str, max_age: int) -> None:
    resp.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(request: Request, resp: Response) -> None:
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


class Staff:
    """The signed-in staff member and the organisation they act for."""

    def __init__(self, session: Session, principal: Principal):
        self.session, self.principal = session, principal


def _staff(kind: str):
    def dep(request: Request) -> Staff:
        sess = current_session(request)
        if sess is None or sess.user_id is None:
            raise LoginRequired()
        if sess.kind != kind:
            raise accounts_forbidden(kind)
        return Staff(sess, sess.principal(db_of(request)))

    return dep


def accounts_forbidden(kind: str) -> FujoError:
    from ..core.errors import Forbidden

    return Forbidden(f"この画面は{KIND_JA[kind]}の利用者のみ使えます。", f"This screen is for {kind} users only.")


FacilityUser = Annotated[Staff, Depends(_staff(FACILITY))]
OfficeUser = Annotated[Staff, Depends(_staff(WELFARE_OFFICE))]
AdminUser = Annotated[Staff, Depends(_staff(ADMIN))]
InsurerUser = Annotated[Staff, Depends(_staff(INSURER))]


def recipient_session(request: Request) -> Session:
    sess = current_session(request)
    if sess is None or sess.person_id is None:
        raise LoginRequired(portal=True)
    return sess


Recipient = Annotated[Session, Depends(recipient_session)]


# --- CSRF ------------------------------------------------------------------------------------


async def csrf_guard(request: Request) -> None:
    """Every state-changing request carries the session's CSRF token (form field ``csrf_token`` or
    header ``X-CSRF-Token``); before sign-in, the token of the ``fujo_pre`` cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get("x-csrf-token")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            v = form.get("csrf_token")
            sent = v if isinstance(v, str) else None
    sess = current_session(request)
    expected = sess.csrf_token if sess else request.cookies.get(PRE_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def pre_token(request: Request, resp_cookies: dict) -> str:
    """The pre-sign-in CSRF token (re-used from the cookie, or new)."""
    tok = request.cookies.get(PRE_COOKIE)
    if not tok or len(tok) > 64:
        tok = secrets.token_urlsafe(24)
        resp_cookies[PRE_COOKIE] = tok
    return tok


# --- rendering -------------------------------------------------------------------------------

NAV: dict[str, list[tuple[str, str] | tuple[str, str, tuple[str, ...]]]] = {  # (href, label[, roles that see it])
    # — without roles: every role of the kind
    FACILITY: [
        ("/desk", "資格確認（カード）"),
        ("/desk/numbers", "資格確認（番号）"),
        ("/desk/tickets", "委託先一括取得"),
        ("/desk/medinfo", "薬剤情報等", (CLINICIAN,)),
        ("/desk/reference", "照会番号の登録"),
        ("/desk/events", "更新通知"),
        ("/desk/claims", "レセプト点検"),
        ("/desk/onboarding", "導入手順", (MANAGER,)),
        ("/desk/settings", "環境設定"),
        ("/desk/users", "利用者", (MANAGER,)),
    ],
    WELFARE_OFFICE: [
        ("/office", "受給者検索"),
        ("/office/recipients/new", "受給者登録"),
        ("/office/import", "CSV取込"),
        ("/office/tickets", "月別の券"),
        ("/office/late", "事後登録の券"),
        ("/office/claims", "レセプト点検"),
        ("/office/users", "利用者", (MANAGER,)),
    ],
    ADMIN: [
        ("/admin", "本日の資格確認"),
        ("/admin/orgs", "組織と認証情報"),
        ("/admin/facilities", "医療機関の登録簿"),
        ("/admin/cards", "カード失効"),
        ("/admin/disasters", "災害時の閲覧"),
        ("/admin/onboarding", "導入状況"),
        ("/admin/subsidy", "補助金"),
    ],
    INSURER: [("/insurer", "医療保険資格の登録")],
}


def nav_for(sess) -> list[tuple[str, str]]:
    """The menu of the signed-in user's organisation kind, without what their role may not use."""
    if not sess or not sess.kind:
        return []
    return [(e[0], e[1]) for e in NAV.get(sess.kind, []) if len(e) < 3 or sess.role in e[2]]


def require_manager(staff: Staff) -> None:
    """Screens of the organisation's 管理者 (changing settings, users)."""
    staff.principal.require_role(MANAGER)


def render(
    request: Request, template: str, status: int = 200, cookies: dict[str, str] | None = None, **ctx: Any
) -> HTMLResponse:
    sess = current_session(request)
    base: dict[str, Any] = {
        "request": request,
        "session": sess,
        "csrf": sess.csrf_token if sess else ctx.pop("pre_csrf", ""),
        "nav": nav_for(sess),
        "path": request.url.path,
        "errors": {},
        "problems": [],
        "message": None,
        "title": "fujo",
    }
    base.update(ctx)
    html = env.get_template(template).render(**base)
    resp = HTMLResponse(html, status_code=status)
    for k, v in (cookies or {}).items():
        resp.set_cookie(k, v, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/")
    return resp


def page(
    request: Request, template: str, title: str, defaults: dict[str, Any], given: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """A screen rendered from its defaults, overridden by what this answer gives (a notice, errors, values)."""
    return render(request, template, status=status, **{"title": title, **defaults, **given})


def stripped(**fields: str) -> dict[str, str]:
    """A form's values as the screen shows them again and the services read them: without the
    spaces around them."""
    return {k: v.strip() for k, v in fields.items()}


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def field_errors(e: ValidationFailed) -> tuple[dict[str, list[str]], list[FieldProblem]]:
    errs: dict[str, list[str]] = {}
    for p in e.problems:
        errs.setdefault(p.field, []).append(p.message_ja)
    return errs, list(e.problems)


def refusal(e: FujoError, errors_key: str = "errors") -> tuple[int, dict]:
    """A service's refusal as a form page shows it: (status, context) — the field errors under
    ``errors_key`` for a ValidationFailed, otherwise the message."""
    if isinstance(e, ValidationFailed):
        return e.status, {errors_key: field_errors(e)[0]}
    return e.status, {"message": e.message_ja}


def form_dict(form, names) -> dict:
    out = {}
    for n in names:
        v = form.get(n)
        if isinstance(v, str):
            out[n] = v
    return out


# --- sign-in throttle ------------------------------------------------------------------------


class Throttle:
    """After 5 failed sign-ins for one login (or from one address) within a 15-minute window, refuse
    for the rest of that window. Counted in the database (fujo.db.windows), so it holds across every
    server process and a restart."""

    LIMIT, WINDOW = 5, 15 * 60

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _keys(keys: tuple[str, ...]) -> list[str]:
        return [f"signin-{k}" for k in keys]

    def blocked(self, *keys: str) -> bool:
        return any(n >= self.LIMIT for n in windows.count(self.db, self._keys(keys), self.WINDOW).values())

    def fail(self, *keys: str) -> None:
        for k in self._keys(keys):
            windows.add(self.db, k, self.WINDOW)

    def ok(self, *keys: str) -> None:
        windows.clear(self.db, self._keys(keys))


def login_url(portal: bool, next_path: str | None) -> str:
    base = "/portal/login" if portal else "/login"
    return f"{base}?next={quote(next_path)}" if next_path and next_path.startswith("/") and not portal else base


def safe_next(v: str | None) -> str | None:
    if v and v.startswith("/") and not v.startswith("//") and "\\" not in v:
        return v
    return None
