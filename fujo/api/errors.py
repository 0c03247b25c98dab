"""One error shape for the whole API: {"error": {code, message_ja, message_en, fields?}}."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import FieldProblem, FujoError, ValidationFailed
from ..db import faults
from .deps import JSON

log = logging.getLogger("fujo.api")


def logged_path(request: Request) -> str:
    """What a log line may say about the request: the route's template
    (``/api/v1/recipients/{payer_number}/{recipient_number}``), never the path itself, which carries
    recipient numbers (tests/audit/test_no_personal_data_in_logs.py)."""
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or "(no route)")


_PYDANTIC_JA = {
    "missing": "必須項目です。",
    "string_type": "文字列で指定してください。",
    "int_type": "整数で指定してください。",
    "int_parsing": "整数で指定してください。",
    "bool_type": "true または false で指定してください。",
    "bool_parsing": "true または false で指定してください。",
    "json_invalid": "JSONとして読めません。",
    "string_too_long": "長すぎます。",
    "model_type": "JSONオブジェクトで指定してください。",
    "dict_type": "JSONオブジェクトで指定してください。",
    "list_type": "配列で指定してください。",
    "extra_forbidden": "この項目はありません。",
}


def _problem(err: Mapping[str, Any]) -> FieldProblem:
    """A FieldProblem from one of pydantic's error details (``type``, ``loc``, ``msg``)."""
    loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
    fieldname = ".".join(loc) or "body"
    kind = str(err.get("type", "invalid"))
    ja = _PYDANTIC_JA.get(kind, "入力形式が正しくありません。")
    code = {"missing": "required"}.get(kind, kind)  # same code as our validators
    return FieldProblem(fieldname, code, ja, str(err.get("msg", "invalid")))


def _error(status: int, code: str, ja: str, en: str, headers: Mapping[str, str] | None = None) -> JSON:
    """The API's error answer: ``{"error": {code, message_ja, message_en}}``."""
    return JSON({"error": {"code": code, "message_ja": ja, "message_en": en}}, status_code=status, headers=headers)


TOO_LARGE = (
    "payload_too_large",
    "送信されたデータが大きすぎます。",
    "The request body is larger than this route accepts (see docs/API.md, Limits).",
)


class TooLargeInOurShape:
    """Starlette's body limit (FastAPI's ``max_body_size``) answers 413 in plain text, from inside
    the route, before any exception handler sees it. This outer layer gives that answer the API's
    error shape, and closes the connection: the rest of an oversized body is never read. It has to
    wrap the whole stack (see fujo.api.app.App): the application-wide limit answers outside every
    middleware added with ``add_middleware``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def reshape(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                replaced = True
                await _error(413, *TOO_LARGE, headers={"Connection": "close"})(scope, receive, send)
            elif not replaced:
                await send(message)

        await self.app(scope, receive, reshape)


def error_headers(exc: FujoError) -> dict[str, str] | None:
    """401 says how to authenticate; 503/507 say when to try again."""
    if exc.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry)} if retry else None


async def _delegate(handler: Callable[..., Any], request: Request, exc: Exception) -> Any:
    res = handler(request, exc)
    return await res if inspect.isawaitable(res) else res


def storage_faults() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answers of a route that reports storage faults itself (``/ready``)."""
    from .models import ErrorOut

    return {
        503: {"model": ErrorOut, "description": "database unreachable, hung, busy or read-only (Retry-After)"},
        507: {"model": ErrorOut, "description": "storage full (Retry-After)"},
    }


def fault_answer(fault: faults.Fault) -> JSON:
    """A storage fault in the API's error shape; the English message names the operator's cause."""
    e = fault.error()
    return _error(e.status, e.code, e.message_ja, f"{e.message_en} ({fault.cause})", error_headers(e))


def install(app: FastAPI) -> None:

    @app.exception_handler(FujoError)
    async def _fujo(request: Request, exc: FujoError):
        return JSON({"error": exc.as_dict()}, status_code=exc.status, headers=error_headers(exc))

    async def _storage(request: Request, exc: Exception):
        fault = faults.classify(exc)
        if fault is None:  # not the storage's fault: a bug, answered as one
            return await _delegate(request.app.exception_handlers[Exception], request, exc)
        faults.incidents.report(fault, exc)
        # the FujoError handler in force (the screens replace the API's with an HTML page)
        return await _delegate(request.app.exception_handlers[FujoError], request, fault.error())

    for kind in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(kind, _storage)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        e = ValidationFailed(problems=[_problem(x) for x in exc.errors()])
        return JSON({"error": e.as_dict()}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        ja = {404: "見つかりません。", 405: "このメソッドは使えません。"}.get(exc.status_code, "要求を処理できません。")
        return _error(exc.status_code, f"http_{exc.status_code}", ja, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError):
        # Two requests raced to create the same thing; the loser's transaction was rolled back.
        return _error(
            409,
            "conflict",
            "同じ内容が同時に登録されました。再読み込みしてください。",
            "Conflict with a concurrent change; nothing was written.",
        )

    async def _bad_characters(request: Request, exc: Exception):
        # e.g. a NUL byte (PostgreSQL refuses it in text) or a lone surrogate reaching the driver
        return _error(
            422,
            "invalid_characters",
            "入力に使用できない文字が含まれています。",
            "The request contains characters that cannot be stored or searched.",
        )

    app.add_exception_handler(DataError, _bad_characters)
    app.add_exception_handler(UnicodeError, _bad_characters)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        # Never echo the exception: it may carry personal data from a query.
        log.error("internal error on %s %s: %s", request.method, logged_path(request), type(exc).__name__)
        return _error(500, "internal_error", "内部エラーが発生しました。", "Internal error.")
