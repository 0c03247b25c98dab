"""Mounts the screens on the application: routers, static files, security headers and HTML error
pages for screen paths (the API keeps its JSON errors)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..accounts import service as accounts
from ..api.errors import logged_path
from ..auth.principal import ADMIN, FACILITY, INSURER, WELFARE_OFFICE
from ..core.errors import FujoError
from .kit import (
    HERE,
    PRE_COOKIE,
    CsrfRefused,
    LoginRequired,
    Throttle,
    clear_session_cookie,
    csrf_guard,
    current_session,
    db_of,
    is_web_path,
    login_url,
    pre_token,
    redirect,
    render,
    safe_next,
    set_session_cookie,
)

log = logging.getLogger("fujo.web")

HOME = {FACILITY: "/desk", WELFARE_OFFICE: "/office", ADMIN: "/admin", INSURER: "/insurer"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def csp_for(reader_url: str) -> str:
    """The CSP of the screens: the pages may also talk to the card reader on the desk (its origin)."""
    parts = urlsplit(reader_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return f"{CSP}; connect-src 'self'{' ' + origin if origin else ''}"


router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


@router.get("/")
def index(request: Request):
    sess = current_session(request)
    if sess and sess.person_id is not None:
        return redirect("/portal")
    if sess and sess.kind in HOME:
        return redirect(HOME[sess.kind])
    return redirect("/login")


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    cookies: dict = {}
    tok = pre_token(request, cookies)
    return render(
        request, "login.html", cookies=cookies, pre_csrf=tok, title="サインイン", next=safe_next(next) or "", values={}
    )


@router.post("/login")
def login(
    request: Request,
    org_code: str = Form("", max_length=20),
    login: str = Form("", max_length=60),
    password: str = Form("", max_length=200),
    next: str = Form("", max_length=300),
):
    throttle: Throttle = request.app.state.web_throttle
    ip = request.client.host if request.client else "-"
    keys = (f"login:{login.strip()}", f"ip:{ip}")
    errors: dict[str, list[str]] = {}
    if not org_code.strip():
        errors["org_code"] = ["組織コードを入力してください。"]
    if not login.strip():
        errors["login"] = ["ログインIDを入力してください。"]
    if not password:
        errors["password"] = ["パスワードを入力してください。"]
    message = None
    user = None
    if not errors:
        if throttle.blocked(*keys):
            message = "サインインの失敗が続いたため、しばらく（15分）受け付けません。"
        else:
            user = accounts.authenticate_user(db_of(request), org_code=org_code, login=login, password=password)
            if user is None:
                throttle.fail(*keys)
                message = "組織コード、ログインID、またはパスワードが正しくありません。"
    if user is None:
        log.info("web sign-in refused")
        return render(
            request,
            "login.html",
            status=401 if message else 422,
            pre_csrf=request.cookies.get(PRE_COOKIE, ""),
            title="サインイン",
            next=safe_next(next) or "",
            errors=errors,
            message=message,
            values={"org_code": org_code, "login": login},
        )
    throttle.ok(keys[0])
    cookie, _sess = accounts.start_session(db_of(request), user_id=user["id"])
    resp = redirect(safe_next(next) or HOME.get(user["kind"], "/"))
    set_session_cookie(request, resp, cookie, int(accounts.STAFF_MAX.total_seconds()))
    resp.delete_cookie(PRE_COOKIE, path="/")
    return resp


@router.post("/logout")
def logout(request: Request):
    sess = current_session(request)
    portal = bool(sess and sess.person_id is not None)
    if sess:
        accounts.end_session(db_of(request), sess.id)
    resp = redirect("/portal/login?out=1" if portal else "/login?out=1")
    clear_session_cookie(request, resp)
    return resp


async def _delegate(
    handler: Callable[[Request, Exception], Response | Awaitable[Response]], request: Request, exc: Exception
) -> Response:
    """Answer with one of the API's exception handlers (starlette allows plain and async ones)."""
    res = handler(request, exc)
    return await res if inspect.isawaitable(res) else res


def _install_errors(app: FastAPI) -> None:
    api_fujo = app.exception_handlers[FujoError]
    api_http = app.exception_handlers[StarletteHTTPException]
    api_crash = app.exception_handlers.get(Exception)

    async def on_crash(request: Request, exc: Exception):
        if not is_web_path(request.url.path) and api_crash is not None:
            return await _delegate(api_crash, request, exc)
        # Never echo the exception: it may carry personal data.
        log.error("internal error on %s %s: %s", request.method, logged_path(request), type(exc).__name__)
        return render(request, "error.html", status=500, title="エラー", message="内部エラーが発生しました。")

    async def on_fujo(request: Request, exc: FujoError):
        if not is_web_path(request.url.path):
            return await _delegate(api_fujo, request, exc)
        return render(request, "error.html", status=exc.status, title="エラー", message=exc.message_ja)

    async def on_http(request: Request, exc: StarletteHTTPException):
        if not is_web_path(request.url.path):
            return await _delegate(api_http, request, exc)
        ja = {404: "ページが見つかりません。", 405: "この操作はできません。"}.get(
            exc.status_code, "要求を処理できません。"
        )
        return render(request, "error.html", status=exc.status_code, title="エラー", message=ja)

    async def on_login(request: Request, exc: LoginRequired):
        nxt = request.url.path if request.method == "GET" else None
        return redirect(login_url(exc.portal, nxt))

    async def on_csrf(request: Request, exc: CsrfRefused):
        log.info("web CSRF refusal on %s", logged_path(request))
        return render(
            request,
            "error.html",
            status=403,
            title="送信を受け付けられません",
            message="画面の有効期限が切れたか、不正な送信のため受け付けませんでした。画面を開き直して、もう一度操作してください。",
        )

    # starlette types every handler as taking Exception, though it calls each with its own class
    app.add_exception_handler(FujoError, on_fujo)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, on_login)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, on_csrf)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_crash)


def mount(app: FastAPI) -> None:
    from . import admin, dates, desk, insurer, office, org_users, portal

    app.state.web_throttle = Throttle(app.state.db)
    for r in (
        router,
        desk.router,
        office.router,
        portal.router,
        admin.router,
        insurer.router,
        org_users.desk_router,
        org_users.office_router,
        dates.router,
    ):
        app.include_router(r)
    from .events import router as events  # the facility's ticket events, live (issue 15, webhooks)

    app.include_router(events)
    from . import claims, onboarding, subsidy  # issue 15: claims pre-check, onboarding checklist, subsidy

    for r in (
        claims.desk_router,
        claims.office_router,
        onboarding.desk_router,
        onboarding.admin_router,
        subsidy.router,
    ):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_errors(app)

    app.add_middleware(SecurityHeaders, csp=csp_for(app.state.settings.reader_url))


class SecurityHeaders:
    """Security headers on screen responses, as a plain ASGI middleware: Starlette's
    BaseHTTPMiddleware would add a task and a stream per request to every API call too, and the
    check API is the hot path."""

    def __init__(self, app, csp: str = CSP):
        self.app = app
        self.csp = csp

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_web_path(path):
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in (
                    ("Content-Security-Policy", self.csp),
                    ("X-Frame-Options", "DENY"),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "same-origin"),
                ):
                    if k not in headers:
                        headers[k] = v
                if not path.startswith("/static/"):
                    headers["Cache-Control"] = "no-store"  # screens carry personal data: never cached
                if https and "Strict-Transport-Security" not in headers:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)
