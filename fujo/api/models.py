"""Response models: what each ``/api/v1`` route answers, as the OpenAPI document publishes it.

The models are used **only for the schema** (``responses={200: {"model": X}, **errors(...)}`` on
the route). Handlers keep returning the dicts the services build, rendered by the fast JSON
response (:class:`fujo.api.deps.JSON`), so nothing — least of all the check hot path — is validated
through pydantic. ``tests/api/test_openapi_contracts.py`` validates real answers against the
published schemas, so the two cannot drift apart.

Each domain package keeps its read models next to its routes (``fujo/<package>/models.py``); this
module holds what they share: the base class, the one error shape and the helpers that describe a
field from the field tables of :mod:`fujo.core.fields` (label, code table, wire format).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.fields import Field as Spec

WIRE_DATE = r"^[0-9]{8}$"  # yyyyMMdd
WIRE_TIME = r"^[0-9]{14}$"  # yyyyMMddHHmmss
WIRE_MONTH = r"^[0-9]{6}$"  # yyyyMM


def _absent_not_null(schema: dict[str, Any]) -> None:
    # An optional key of an answer is left out, never sent as null: the None default is pydantic's,
    # not the wire's, so it is not published.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class ReadModel(BaseModel):
    """Base of the response models (schema only: never instantiated on a request)."""

    model_config = ConfigDict(json_schema_extra=_absent_not_null, field_title_generator=lambda name, _info: name)


def _codes(table: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in table.items())


def described(
    description: str,
    *,
    required: bool = False,
    table: Mapping[str, str] | None = None,
    pattern: str | None = None,
    nullable: bool = False,
) -> Any:
    """A documented field: ``required`` keys are always present; the others may be left out.
    ``table`` publishes the allowed codes as an enum (with null when ``nullable``)."""
    extra: dict[str, Any] | None = None
    if table:
        description = f"{description} — {_codes(table)}"
        extra = {"enum": [*table, None] if nullable else list(table)}
    return Field(... if required else None, description=description, pattern=pattern, json_schema_extra=extra)


def wire(spec: Spec, *, required: bool = False, description: str | None = None) -> Any:
    """A field of the terminal's vocabulary (key = ``spec.wire``), in wire format: dates
    ``yyyyMMdd``, months ``yyyyMM``, amounts as digit strings."""
    pattern = {"date": WIRE_DATE, "month": WIRE_MONTH, "amount": r"^[0-9]+$"}.get(spec.kind)
    return described(
        description or f"{spec.label_ja} ({spec.name})",
        required=required,
        table=spec.table if spec.kind == "code" else None,
        pattern=pattern,
    )


def column(spec: Spec, *, required: bool = True, description: str | None = None) -> Any:
    """A field of a registry resource (key = ``spec.name``; null when an optional field is not
    set): ISO dates, months ``yyyyMM``."""
    pattern = WIRE_MONTH if spec.kind == "month" else None
    return described(
        description or (f"{spec.label_ja}" + (f" (wire: {spec.wire})" if spec.wire else "")),
        required=required,
        table=spec.table if spec.kind == "code" else None,
        pattern=pattern,
        nullable=not spec.required,
    )


def by_name(specs: tuple[Spec, ...]) -> dict[str, Spec]:
    return {f.name: f for f in specs}


# --- the one error shape: {"error": {code, message_ja, message_en, fields?}} ---------------------


class FieldProblemOut(ReadModel):
    field: str = described("the field (request key, CSV column) the problem is about", required=True)
    code: str = described("what is wrong: required, check_digit, code, too_long, …", required=True)
    message_ja: str = described("説明（日本語）", required=True)
    message_en: str = described("explanation (English)", required=True)


class ErrorDetail(ReadModel):
    code: str = described(
        "validation_error, unauthorized, forbidden, card_proof_refused, medical_assistance_disabled, not_found, "
        "conflict, import_failed, invalid_characters, timeout, http_<status>, internal_error",
        required=True,
    )
    message_ja: str = described("説明（日本語）", required=True)
    message_en: str = described("explanation (English)", required=True)
    fields: list[FieldProblemOut] = described("validation_error: each field and its problem")
    reason: str = described("card_proof_refused: which test of the card proof failed (docs/API.md)")


class ErrorOut(ReadModel):
    """Every refusal of the API has this shape; nothing is written when a request is refused."""

    error: ErrorDetail = described("the refusal", required=True)


ERROR_DESCRIPTIONS = {
    401: "no, invalid or revoked token",
    403: "not allowed for this organisation or role (forbidden, card_proof_refused, medical_assistance_disabled)",
    404: "not found",
    409: "conflict: duplicate, stale expected_version/expected_revision, concurrent change",
    413: "request body larger than the route's limit (payload_too_large; see fujo/api/limits.py)",
    422: "invalid input (validation_error with fields; invalid_characters)",
    429: "rate_limited: too many requests of this class for this credential (Retry-After)",
    503: "timeout",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an authenticated route: 401, 413 and 429 always (every route has a body
    limit; checks, downloads and imports a rate limit), and ``statuses`` (declaring 422 also replaces FastAPI's default validation schema,
    which is not the shape the API answers)."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in sorted({401, 413, 429, *statuses})}


class HealthOut(ReadModel):
    status: str = described("ok", required=True)
