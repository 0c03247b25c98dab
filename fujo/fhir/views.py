"""The FHIR R4 routes (/fhir, docs/FHIR.md). They only translate: the request is parsed with the R4B
models of ``fhir.resources``, the same services as the native API decide and record (check by
numbers, 委託先一括取得, 薬剤情報 with consent), and their answers are turned into resources by
:mod:`fujo.fhir.mapping`. Large answers (a page of the month, a list of 薬剤情報) are built and
serialised on a worker thread, never on the event loop (a page of the month is written as JSON text,
not built as dicts or models).

Every answer, refusals included, is ``application/fhir+json``: a refusal is an OperationOutcome
(400 not readable as R4 or an unreadable search parameter, 401/403, 404, 422 refused by the rules,
naming the field; 503 storage). While a route runs, the audit channel is ``fhir``
(:data:`fujo.audit.service.CHANNEL`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..api import limits
from ..api.deps import DB, Caller
from ..api.errors import error_headers, logged_path
from ..audit.service import CHANNEL
from ..auth.principal import FACILITY
from ..bulk import views as bulk_views
from ..core.dates import now_jst
from ..core.errors import FieldProblem, FujoError, ValidationFailed
from ..db import faults
from ..eligibility import service as eligibility
from ..medinfo import service as medinfo
from . import mapping
from . import service as fhir_service
from .capability import capability_statement
from .read_ahead import ReadAhead

log = logging.getLogger("fujo.fhir")
FHIR_JSON = "application/fhir+json"
SEARCH_TIMEOUT = 120.0  # seconds a month search waits for its reads (then 503)


class FhirJSON(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        if isinstance(content, Resource):
            return content.model_dump_json().encode()
        return bytes(super().render(content))  # bytes: a resource already written as JSON


def _outcome(status: int, outcome: OperationOutcome, headers: dict[str, str] | None = None) -> FhirJSON:
    return FhirJSON(outcome, status_code=status, headers=headers)


def _simple(status: int, code: str, ja: str, en: str) -> FhirJSON:
    return _outcome(status, OperationOutcome(issue=[mapping.issue(status, code, ja, en)]))


class _Refused(FujoError):
    def __init__(self, status: int, code: str, ja: str, en: str):
        super().__init__(ja, en)
        self.status, self.code = status, code


class _Invalid(FujoError):
    """A request refused with a prepared OperationOutcome (400)."""

    status, code = 400, "structure"

    def __init__(self, outcome: OperationOutcome):
        super().__init__("FHIR R4 のリソースとして読めません。", "Not readable as FHIR R4.")
        self.outcome = outcome


def fhir_error(exc: FujoError) -> FhirJSON:
    outcome = exc.outcome if isinstance(exc, _Invalid) else mapping.outcome_of(exc)
    return _outcome(exc.status, outcome, error_headers(exc))


class FhirRoute(APIRoute):
    """Every refusal of a /fhir route as an OperationOutcome (the API's exception handlers answer in
    the native error shape), and the audit channel ``fhir`` for the length of the request."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            token = CHANNEL.set("fhir")
            try:
                return await handler(request)
            except FujoError as e:
                return fhir_error(e)
            except RequestValidationError as e:
                return _outcome(400, mapping.structure_outcome(e.errors(), "request"))
            except StarletteHTTPException as e:
                return _simple(e.status_code, f"http_{e.status_code}", "要求を処理できません。", str(e.detail))
            except (OperationalError, InterfaceError, PoolTimeout) as e:
                fault = faults.classify(e)
                if fault is None:
                    raise
                faults.incidents.report(fault, e)
                return fhir_error(fault.error())
            except Exception as e:  # never echo the exception: it may carry personal data
                log.error("internal error on %s %s: %s", request.method, logged_path(request), type(e).__name__)
                return _simple(500, "internal_error", "内部エラーが発生しました。", "Internal error.")
            finally:
                CHANNEL.reset(token)

        return route


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.get("/metadata", response_class=FhirJSON)
async def metadata(request: Request):
    """The CapabilityStatement (no token needed)."""
    return FhirJSON(capability_statement(_base(request), now_jst().replace(microsecond=0)))


# --- check by numbers ----------------------------------------------------------------------------
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


async def _read_json(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in _JSON_TYPES:
        raise _Refused(
            415, "unsupported_media_type", "application/fhir+json で送信してください。", "Send application/fhir+json."
        )
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "json_invalid", "JSONとして読めません。", "The body is not JSON.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        raise _Refused(
            400, "structure", "FHIRリソースではありません。", "The body is not a FHIR resource (resourceType)."
        )
    return raw


def _parse_request(raw: Any, root: str) -> CoverageEligibilityRequest | OperationOutcome:
    """The request as R4, or the OperationOutcome (400) of what does not parse."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "CoverageEligibilityRequest":
        return OperationOutcome(
            issue=[
                mapping.issue(
                    400,
                    "structure",
                    "CoverageEligibilityRequest を送信してください。",
                    "Expected a CoverageEligibilityRequest.",
                    root,
                )
            ]
        )
    try:
        return CoverageEligibilityRequest.model_validate(raw)
    except ValidationError as e:
        return mapping.structure_outcome(e.errors(include_input=False), root)


@router.post(
    "/CoverageEligibilityRequest/$submit",
    response_class=FhirJSON,
    max_body_size=limits.CHECK_BATCH,
)
async def submit(request: Request, db: DB, caller: Caller):
    """Check by numbers: a CoverageEligibilityRequest → CoverageEligibilityResponse, or a batch
    Bundle of them → a batch-response Bundle (each entry answered in its place)."""
    caller.require(FACILITY)  # the services' own first rule, before the body is looked at
    raw = await _read_json(request)
    if raw["resourceType"] == "Bundle":
        return FhirJSON(await _submit_batch(raw, db, caller))
    parsed = _parse_request(raw, "CoverageEligibilityRequest")
    if isinstance(parsed, OperationOutcome):
        return _outcome(400, parsed)
    query = mapping.numbers_query(parsed, caller.code)  # ValidationFailed: 422 naming the element
    check = await eligibility.check_by_numbers_async(db, caller, **query)
    status, answer = mapping.check_answer(check, caller.code, parsed.identifier)  # nothing matches: 422
    return FhirJSON(answer, status_code=status)


async def _submit_batch(raw: dict[str, Any], db: Any, caller: Any) -> Bundle:
    entries = raw.get("entry") or []
    try:
        bundle = Bundle.model_validate({k: v for k, v in raw.items() if k != "entry"})
    except ValidationError as e:
        raise _Invalid(mapping.structure_outcome(e.errors(include_input=False), "Bundle")) from None
    if bundle.type != "batch" or not isinstance(entries, list):
        raise _Refused(
            400, "bundle_type", "Bundle は type batch で送信してください。", "Only a Bundle of type batch is accepted."
        )
    eligibility.require_batch(caller, len(entries))  # facility only, at most BATCH_MAX entries
    slots: list[tuple[int, Resource] | None] = [None] * len(entries)
    items: list[dict[str, Any]] = []
    asked: list[tuple[int, list[Identifier] | None]] = []
    for i, entry in enumerate(entries):
        root = f"Bundle.entry[{i}].resource"
        res = entry.get("resource") if isinstance(entry, dict) else None
        parsed = _parse_request(res, root)
        if isinstance(parsed, OperationOutcome):
            slots[i] = (400, parsed)
            continue
        try:
            BundleEntry.model_validate({k: v for k, v in entry.items() if k != "resource"})
            items.append(mapping.numbers_query(parsed, caller.code))
        except ValidationError as e:
            slots[i] = (400, mapping.structure_outcome(e.errors(include_input=False), f"Bundle.entry[{i}]"))
            continue
        except ValidationFailed as e:
            slots[i] = (422, mapping.outcome_of(e))
            continue
        asked.append((i, parsed.identifier))
    if items:
        answer = await eligibility.check_numbers_batch_async(db, caller, items)
        for (i, ident), ans in zip(asked, answer["Results"]):
            if "Check" in ans:
                slots[i] = mapping.check_answer(ans["Check"], caller.code, ident)
            else:
                status = 422 if ans["Error"]["code"] == ValidationFailed.code else 403
                slots[i] = (status, mapping.outcome_of_dict(ans["Error"], status))
    return mapping.batch_response([x for x in slots if x is not None])


# --- search parameters ---------------------------------------------------------------------------
def _params(request: Request, allowed: set[str], resource: str) -> dict[str, str]:
    """The search parameters of ``allowed`` (each at most once). Another parameter is refused (400),
    except those starting with ``_`` that are not in ``allowed`` (ignored, as FHIR servers do)."""
    params = request.query_params
    unknown = sorted(k for k in params if k not in allowed and not k.startswith("_"))
    if unknown:
        named = ", ".join(sorted(k for k in allowed if not k.startswith("_")))
        raise _Refused(
            400,
            "unknown_parameter",
            f"対応していない検索パラメータです: {', '.join(unknown)}",
            f"Unsupported search parameters of {resource}: {', '.join(unknown)} (supported: {named}).",
        )
    for k in sorted(allowed):
        if len(params.getlist(k)) > 1:
            raise fhir_service.bad_parameter(k, f"{k} は1回だけ指定してください。", f"{k} may be given once.")
    return {k: params[k] for k in allowed if k in params}


def _count(value: str | None) -> int:
    if value is None:
        return fhir_service.COUNT_DEFAULT
    if not re.fullmatch(r"[0-9]{1,9}", value) or not 1 <= int(value) <= fhir_service.COUNT_MAX:
        raise fhir_service.bad_parameter(
            "_count",
            f"_count は1〜{fhir_service.COUNT_MAX}の整数です。",
            f"_count must be an integer 1-{fhir_service.COUNT_MAX}.",
        )
    return int(value)


# --- Coverage: the facility's tickets ------------------------------------------------------------
_COVERAGE_PARAMS = {"month", "_count", "_cursor"}


@router.get("/Coverage", response_class=FhirJSON)
async def search_coverage(request: Request, db: DB, caller: Caller):
    """The facility's tickets of a month (委託先一括取得) as searchset Bundles of Coverage, paged:
    ``_count`` per page, ``next`` carrying the walk's snapshot and position (``_cursor``)."""
    given = _params(request, _COVERAGE_PARAMS, "Coverage")
    month = given.get("month")
    if not month:
        raise ValidationFailed(
            problems=[
                FieldProblem("month", "required", "診療年月（month=YYYY-MM）を指定してください。", "month is required.")
            ]
        )
    count = _count(given.get("_count"))
    position = fhir_service.PagePosition.parse(given["_cursor"]) if "_cursor" in given else None
    base = _base(request)

    ahead: ReadAhead[_Page] = request.app.state.fhir_read_ahead
    orders: fhir_service.WalkOrders = request.app.state.fhir_walk_orders
    gzipped = bulk_views.gzip_accepted(request)

    def written(found: fhir_service.CoveragePage, at: fhir_service.PagePosition | None) -> _Page:
        # the Bundle written as JSON text (never built as dicts or models, mapping.py), gzipped if accepted
        query = {"month": mapping.fhir_date(found.month), "_count": str(count)}
        here = {**query, "_cursor": at.token} if at else query
        links = [("self", f"{base}/Coverage?" + urlencode(here))]
        if found.next is not None:
            links.append(("next", f"{base}/Coverage?" + urlencode({**query, "_cursor": found.next.token})))
        chunks = mapping.coverage_bundle_text(
            found.tickets,
            caller.code,
            base,
            total=found.total,
            links=links,
            identifier={"system": mapping.NS_TICKET_CURSOR, "value": str(found.snapshot)},
        )
        body, headers = bulk_views.encoded(request, chunks)  # gzip when accepted, as the native download
        return _Page(found, b"".join(body), headers)

    def answer() -> tuple[bytes, dict[str, str]]:
        # on a worker thread, in one go (one hop a page: a loaded machine makes every hop between the
        # event loop and a thread cost milliseconds): the page (read and written, or read ahead), its
        # audit entries, then the next page read and written ahead while the client reads this one
        m = fhir_service.check_page_request(caller, month[:20], count)
        done = ahead.take(_ahead_key(caller, m, count, position, base, gzipped)) if position else None
        if done is not None and not fhir_service.page_unchanged(db, caller, done.page):
            done = None  # a ticket of this facility changed since: read again, as if not read ahead
        if done is None:
            done = written(
                fhir_service.read_page(db, caller, m, count=count, position=position, orders=orders), position
            )
        fhir_service.record_page(db, caller, done.page)
        after = done.page.next
        if after is not None:
            ahead.start(
                _ahead_key(caller, m, count, after, base, gzipped),
                lambda: written(
                    fhir_service.read_page(db, caller, m, count=count, position=after, orders=orders), after
                ),
            )
        return done.body, done.headers

    try:
        content, headers = await asyncio.wait_for(asyncio.to_thread(answer), SEARCH_TIMEOUT)
    except TimeoutError:
        raise eligibility.CheckTimeout(
            "時間内に終わりませんでした。しばらくしてから再度取得してください。", "The search did not finish in time."
        ) from None
    return FhirJSON(content, headers=headers)


@dataclass(frozen=True)
class _Page:
    """A page of the month search, read and written (the body as sent, gzipped or not)."""

    page: fhir_service.CoveragePage
    body: bytes
    headers: dict[str, str]


def _ahead_key(
    caller: Any, month: str, count: int, position: fhir_service.PagePosition, base: str, gzipped: bool
) -> tuple[Any, ...]:
    """A page read ahead goes to the very caller whose walk it continues, written as it asks for it
    (the same base URL and encoding) (fujo.fhir.read_ahead)."""
    return (caller.organisation_id, caller.credential_id, caller.user_id, month, count, position.token, base, gzipped)


@router.get("/Coverage/{coverage_id}", response_class=FhirJSON)
async def read_coverage(coverage_id: str, db: DB, caller: Caller):
    """One ticket designated to this facility (id = its ticket key); 404 otherwise."""
    result = await asyncio.to_thread(fhir_service.ticket_coverage, db, caller, coverage_id[:64])
    return FhirJSON(mapping.ticket_coverage(result, coverage_id, caller.code))


# --- 薬剤情報等: Consent and MedicationDispense (fujo.medinfo) --------------------------------------
_WHO = {"check-id": "check_id", "payer-number": "payer_number", "recipient-number": "recipient_number"}


def _expressions(resource: str) -> dict[str, str]:
    """Where a refused value is: the search parameter (by its own name or the native field's)."""
    return {**{k: f"{resource}?{k}" for k in _WHO}, **{v: f"{resource}?{k}" for k, v in _WHO.items()}}


def _who(request: Request, resource: str) -> dict[str, Any]:
    """Whose information: ``check-id`` (the CheckId of this facility's check), or ``payer-number`` and
    ``recipient-number`` — the native medinfo API's check_id / payer_number / recipient_number."""
    out: dict[str, Any] = {}
    for name, value in _params(request, set(_WHO), resource).items():
        if _WHO[name] == "check_id":
            if not re.fullmatch(r"[0-9]{1,16}", value) or not 1 <= int(value) <= 2**53:
                raise fhir_service.bad_parameter(
                    name,
                    "check-id は資格確認の照会ID（CheckId）です。",
                    "check-id must be a CheckId (a positive integer).",
                )
            out["check_id"] = int(value)
        else:
            out[_WHO[name]] = value[:20]
    return out


def _self(request: Request, resource: str) -> str:
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k in _WHO])
    return f"{_base(request)}/{resource}" + (f"?{query}" if query else "")


@router.get("/Consent", response_class=FhirJSON)
async def search_consent(request: Request, db: DB, caller: Caller):
    """The patient's consent to 薬剤情報等 given at this facility's card reader (medinfo.consent_of)."""
    try:
        who = _who(request, "Consent")
        given = await asyncio.to_thread(medinfo.consent_of, db, caller, **who)
    except ValidationFailed as e:
        return _outcome(e.status, mapping.outcome_of(e, _expressions("Consent")))
    patient_ref = None
    if who.get("recipient_number") and who.get("payer_number"):  # echoed: what the client itself sent
        patient_ref = Reference(
            type="Patient",
            identifier=Identifier(
                system=mapping.RECIPIENT_SYSTEM,
                value=who["recipient_number"],
                assigner=Reference(identifier=Identifier(system=mapping.PAYER_SYSTEM, value=who["payer_number"])),
            ),
        )
    found = mapping.consents(given, caller.code, patient_ref)
    return FhirJSON(
        Bundle(
            type="searchset",
            total=len(found),
            link=[BundleLink(relation="self", url=_self(request, "Consent"))],
            entry=[BundleEntry(resource=c, search=BundleEntrySearch(mode="match")) for c in found] or None,
        )
    )


@router.get("/MedicationDispense", response_class=FhirJSON)
async def search_medication(request: Request, db: DB, caller: Caller):
    """薬剤情報: the native view (medinfo.view, category medication) — the clinician role, a consent
    given at this facility's card reader within 24 hours, the viewing restriction, the retention —
    recorded in the recipient's access log with channel fhir; refusals 403 with the reason."""
    base, here = _base(request), _self(request, "MedicationDispense")

    def answer(who: dict[str, Any]) -> bytes:  # on a worker thread: the view, and its resources (models)
        view = medinfo.view(db, caller, category="medication", channel="fhir", **who)
        return mapping.medication_bundle(view, caller.code, base, here).model_dump_json().encode()

    try:
        return FhirJSON(await asyncio.to_thread(answer, _who(request, "MedicationDispense")))
    except ValidationFailed as e:
        return _outcome(e.status, mapping.outcome_of(e, _expressions("MedicationDispense")))


_KNOWN = re.compile(
    r"/fhir/(metadata|Coverage(/[^/]+)?|CoverageEligibilityRequest/\$submit|Consent|MedicationDispense)"
)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
)
async def unsupported(request: Request):
    """Anything else under /fhir: 405 for another method on a served path, else 404."""
    if _KNOWN.fullmatch(request.url.path):
        return _simple(405, "http_405", "このメソッドは使えません。", "Method not allowed on this path.")
    return _simple(404, "not_supported", "この FHIR の操作には対応していません。", "Not served (see /fhir/metadata).")
