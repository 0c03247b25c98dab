"""A lean request path for the hottest endpoints (issue 12): a check by numbers.

Why: under load, FastAPI's per-request dependency solving and body handling (cache keys, scopes, a
JSON parse then a validation, an exit stack) were ≈ 18 % of a worker's interpreter time for a request
whose own work is a few statements (py-spy). An endpoint that declares a lean handler is answered, for a
well-formed request, by: its body validated straight from the bytes by the same pydantic model, the
caller authenticated (and rate-limited) by the same dependency function, then the handler. Anything
else — no body, another content type, invalid JSON, a body the model refuses — goes to FastAPI's own
handler unchanged, so every refusal is FastAPI's (and the body is checked before the caller is
counted, as FastAPI does: a refused body never counts against the rate limit twice). The route, its
OpenAPI description and the middleware around it are FastAPI's as declared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from ..auth.principal import Principal
from .deps import _bearer, get_principal


@dataclass(frozen=True)
class Lean:
    """The lean form of an endpoint: its body model and what answers a valid body for a caller."""

    model: type[BaseModel]
    answer: Callable[[Request, Any, Principal], Awaitable[Response]]


def lean(model: type[BaseModel], answer: Callable[[Request, Any, Principal], Awaitable[Response]]) -> Callable:
    """Decorator of an endpoint (below its ``@router.post``): answer its well-formed requests by ``answer``."""

    def mark(endpoint: Callable) -> Callable:
        endpoint.lean = Lean(model, answer)  # type: ignore[attr-defined]
        return endpoint

    return mark


def _is_json(content_type: str | None) -> bool:
    """application/json or application/*+json (FastAPI's own test, parameters ignored)."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class LeanRoute(APIRoute):
    """An APIRoute whose endpoint may carry a :class:`Lean` form (``@lean(...)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        form: Lean | None = getattr(self.endpoint, "lean", None)
        if form is None:
            return full

        async def handler(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                return await full(request)
            try:
                body = form.model.model_validate_json(await request.body())
            except ValidationError:
                return await full(request)  # FastAPI's own refusal (the body is cached on the request)
            caller = await get_principal(request, await _bearer(request))
            return await form.answer(request, body, caller)

        return handler
