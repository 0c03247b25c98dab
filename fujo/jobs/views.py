"""Job API: the state, progress and (once ended) answer of an import asked with POST /imports/{kind}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..api.deps import DB, JSON, Caller
from ..api.models import errors
from ..core.errors import FieldProblem, ValidationFailed
from ..registry.csv_import import IMPORTERS
from . import service
from .models import JobOut

IMPORTING_KINDS = tuple(sorted({k for kinds in IMPORTERS.values() for k in kinds}))

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.get("/jobs/{job_id}", responses={200: {"model": JobOut}, **errors(403, 404, 422)})
def get_job(job_id: str, db: DB, caller: Caller):
    """The caller's own job (the credential that asked); any other id is 404. Poll until ``state``
    is ``done`` (``report``) or ``failed`` (``error``). Only those who may import have jobs (403)."""
    caller.require(*IMPORTING_KINDS)
    return JSON(service.get(db, caller, job_id))


# --- the upload, streamed to the spool ---------------------------------------------------------


def _no_file() -> ValidationFailed:
    return ValidationFailed(
        problems=[
            FieldProblem(
                "file",
                "required",
                "CSVファイル（multipart/form-data の file）を送ってください。",
                "Send the CSV file as the multipart/form-data field 'file'.",
            )
        ]
    )


async def spool_upload(request: Request, data_dir: Path, limit: int, field: str = "file") -> Path:
    """Stream the multipart body's ``field`` into a new spool file, chunk by chunk as it arrives
    (never the whole file in memory), counting its bytes: over ``limit`` the file is removed and 413
    answered at once, the rest of the body unread. Other fields are skipped."""
    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise _no_file()
    path, out = service.open_spool(data_dir)
    name, value = bytearray(), bytearray()
    headers: dict[bytes, bytes] = {}
    st = {"in_file": False, "found": False, "size": 0}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(name).strip().lower()] = bytes(value).strip()
        name.clear()
        value.clear()

    def on_headers_finished() -> None:
        _, opts = parse_options_header(headers.get(b"content-disposition", b""))
        st["in_file"] = opts.get(b"name") == field.encode() and not st["found"]
        st["found"] = st["found"] or st["in_file"]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st["in_file"]:
            st["size"] += end - start
            if st["size"] > limit:
                raise service.too_large(limit)
            out.write(data[start:end])

    def on_part_end() -> None:
        st["in_file"] = False

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        with out:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
    except FormParserError:
        service.remove_spool(path)
        raise _no_file() from None
    except BaseException:  # 413 (ours or the route's body limit), the client gone, …: nothing kept
        service.remove_spool(path)
        raise
    if not st["found"]:
        service.remove_spool(path)
        raise _no_file()
    return path
