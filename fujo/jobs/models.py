"""Read models of the job routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

from ..api.models import ErrorDetail, ReadModel, described
from ..registry.models import ImportReportOut
from .service import STATES


class JobErrorDetail(ErrorDetail):
    report: ImportReportOut = described("import_failed: the per-row report (nothing was written)")


class JobOut(ReadModel):
    """A job and, once it has ended, its answer: the import's report, or the refusal the import
    would have answered (with the per-row report when it is import_failed)."""

    id: str = described("the job's id (opaque); GET /api/v1/jobs/{id}", required=True)
    kind: str = described("import.recipients, import.tickets, import.insurance or import.facilities", required=True)
    state: str = described("the job's state", required=True, table=STATES)
    rows_done: int = described("rows written so far (all of them once done; 0 when failed)", required=True)
    rows_total: int | None = described("rows in the file, once it has been read (null before)", required=True)
    attempts: int = described("runs started (more than 1: a runner died and another redid the job)", required=True)
    created_at: str = described("when it was asked (ISO 8601 with offset)", required=True)
    started_at: str | None = described("when its (last) run started", required=True)
    finished_at: str | None = described("when it ended (done or failed)", required=True)
    report: ImportReportOut | None = described(
        "done: the import's report (what POST /imports/{kind} answered before jobs)", required=True
    )
    error: JobErrorDetail | None = described(
        "failed: the refusal (import_failed with the per-row report, validation_error, forbidden, "
        "spool_missing, internal_error) — nothing was written",
        required=True,
    )
