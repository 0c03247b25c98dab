"""Read models of the onboarding routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

from ..api.models import ReadModel, described
from .service import STEPS, WHO_JA

_STEP_TABLE = {st.key: st.label for st in STEPS}


class VendorReportOut(ReadModel):
    suite: str = described("fujo vendor-test", required=True)
    passed: bool = described("always true: a failing report is refused", required=True)
    tests: int = described("test cases in the report", required=True)
    failures: int = described("always 0", required=True)
    seconds: float = described("time the cases took", required=True)
    cases: list[str] = described("the case keys (docs/TERMINAL.md)", required=True)
    sha256: str = described("SHA-256 of the report file as uploaded", required=True)


class StepOut(ReadModel):
    order: int = described("1 … 7", required=True)
    step: str = described("the step", required=True, table=_STEP_TABLE)
    label: str = described("its name as the guide writes it", required=True)
    who: str = described("who does it", required=True, table=WHO_JA)
    who_ja: str = described("the same in Japanese", required=True)
    description: str = described("what the step is", required=True)
    done: bool = described("done", required=True)
    done_at: str | None = described("when (ISO 8601 with offset); null while not done", required=True)
    done_by: str | None = described("who: web user or token label, with the role", required=True)
    note: str | None = described("the note given when it was done", required=True)
    report: VendorReportOut | None = described("運用テスト: the summary of the vendor-test report", required=True)


class ChecklistOut(ReadModel):
    facility_code: str = described("医療機関コード", required=True)
    name: str = described("医療機関名", required=True)
    medical_assistance_enabled: bool = described("「医療扶助」 利用する", required=True)
    steps: list[StepOut] = described("the seven steps in order", required=True)
    done: int = described("steps done", required=True)
    total: int = described("7", required=True)
    next_step: str | None = described(
        "the step to do next (null when complete)", required=True, table=_STEP_TABLE, nullable=True
    )
    next_label: str | None = described("its name", required=True)
    completed: bool = described("every step done (運用開始)", required=True)
    can_advance: bool = described("the caller may mark the next step done", required=True)


class FacilityProgressOut(ReadModel):
    facility_code: str = described("医療機関コード", required=True)
    name: str = described("医療機関名", required=True)
    medical_assistance_enabled: bool = described("「医療扶助」 利用する", required=True)
    done: int = described("steps done", required=True)
    total: int = described("7", required=True)
    next_step: str | None = described(
        "the step to do next (null when complete)", required=True, table=_STEP_TABLE, nullable=True
    )
    next_label: str | None = described("its name", required=True)
    completed: bool = described("every step done", required=True)
    last_done_at: str | None = described("when the latest step was done", required=True)
