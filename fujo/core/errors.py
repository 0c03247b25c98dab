"""Validation problems that name the field and say what is wrong, in Japanese and English.

Every entry point (HTTP, CLI, CSV, XML, FHIR) turns these into its own error shape, so the
wording of a refusal is decided once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message_ja: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message_ja": self.message_ja, "message_en": self.message_en}


class FujoError(Exception):
    """Base of the errors a user is meant to see (never a stack trace)."""

    status = 400
    code = "bad_request"

    def __init__(self, message_ja: str, message_en: str):
        super().__init__(message_en)
        self.message_ja = message_ja
        self.message_en = message_en

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message_ja": self.message_ja, "message_en": self.message_en}


@dataclass
class ValidationFailed(FujoError):
    """One or more fields are wrong; nothing has been written."""

    problems: list[FieldProblem] = field(default_factory=list)
    status = 422
    code = "validation_error"

    def __post_init__(self) -> None:
        ja = "；".join(f"{p.field}: {p.message_ja}" for p in self.problems)
        en = "; ".join(f"{p.field}: {p.message_en}" for p in self.problems)
        FujoError.__init__(self, "入力に誤りがあります。" + ja, "Invalid input. " + en)

    def as_dict(self) -> dict[str, Any]:
        d = super().as_dict()
        d["fields"] = [p.as_dict() for p in self.problems]
        return d


class NotFound(FujoError):
    status = 404
    code = "not_found"


class Forbidden(FujoError):
    status = 403
    code = "forbidden"


class Conflict(FujoError):
    status = 409
    code = "conflict"


class Unauthorized(FujoError):
    status = 401
    code = "unauthorized"


class Problems:
    """Collects field problems so a form or CSV row reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, p: FieldProblem | None) -> None:
        if p is not None:
            self.items.append(p)

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(problems=list(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)
