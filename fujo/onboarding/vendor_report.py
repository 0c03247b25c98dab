"""The 運用テスト report as ``fujo vendor-test`` writes it (JUnit XML: ``testsuites/testsuite
name="fujo vendor-test"`` with one ``testcase name="<case>: <title>"`` per case and a ``failure`` in a
failed one; see fujo/terminal/vendortest.py and docs/TERMINAL.md), read into the summary the onboarding
checklist keeps. Read with the terminal's safe XML reader (no DTD, no entities, no network).

A report is accepted only when it passed: every case of the kit present (a run limited with
``--case`` is not the acceptance test), no failure, no error."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Collection
from typing import Any

from ..core.errors import FieldProblem, ValidationFailed
from ..terminal.errors import FileRejected
from ..terminal.xmlio import parse

SUITE = "fujo vendor-test"
MAX_BYTES = 512 * 1024  # a report of every case is a few KB; the route's body limit is 1 MiB
FIELD = "report"
LABEL = "運用テストのレポート"


def _refuse(code: str, ja: str, en: str, field: str = FIELD) -> ValidationFailed:
    return ValidationFailed(problems=[FieldProblem(field, code, ja, en)])


def kit_cases() -> list[str]:
    """The keys of every case of the vendor test kit, in its order."""
    from ..terminal.cases import CASES

    return [key for key, _title, _fn in CASES]


def read_report(data: bytes, required: Collection[str] | None = None, field: str = FIELD) -> dict[str, Any]:
    """The summary of a passing report; ValidationFailed (on ``field``) naming why another is refused."""
    if not data:
        raise _refuse(
            "required", f"{LABEL}（JUnit XML）を指定してください。", "The vendor-test report is required.", field
        )
    try:
        root = parse(data, max_bytes=MAX_BYTES).root
    except FileRejected as e:
        raise _refuse(
            "report_format",
            f"{LABEL}を読めません: {e.message_ja}",
            f"The vendor-test report cannot be read: {e.message_en}",
            field,
        ) from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite") if root.tag == "testsuites" else []
    suite = next((x for x in suites if x.get("name") == SUITE), None)
    if suite is None:
        raise _refuse(
            "not_vendor_test",
            f"{LABEL}ではありません。`fujo vendor-test` が書いたJUnit XML（--junit、既定は vendor-test.xml）を指定してください。",
            "Not a report of `fujo vendor-test` (its JUnit XML, --junit).",
            field,
        )
    cases: list[str] = []
    failed: list[str] = []
    seconds = 0.0
    for tc in suite.findall("testcase"):
        key = (tc.get("name") or "").split(":", 1)[0].strip()
        cases.append(key)
        if tc.find("failure") is not None or tc.find("error") is not None:
            failed.append(key)
        with contextlib.suppress(ValueError):
            seconds += float(tc.get("time") or 0)
    try:
        declared = int(suite.get("tests") or -1), int(suite.get("failures") or 0), int(suite.get("errors") or 0)
    except ValueError:
        declared = (-1, 0, 0)
    if declared[0] != len(cases) or not cases:
        raise _refuse(
            "report_format",
            f"{LABEL}の件数（tests）がテストケースの数と一致しません。レポートを編集せずに指定してください。",
            "The report's test count does not match its test cases.",
            field,
        )
    if failed or declared[1] or declared[2]:
        names = "、".join(failed) or "-"
        raise _refuse(
            "test_failed",
            f"運用テストに合格していないケースがあります（{max(len(failed), declared[1] + declared[2])}件: {names}）。"
            "システム事業者と原因を確認し、再実行してすべて合格したレポートを登録してください。",
            f"The acceptance test did not pass ({names}); re-run it until every case passes.",
            field,
        )
    wanted = list(kit_cases() if required is None else required)
    missing = [k for k in wanted if k not in cases]
    if missing:
        raise _refuse(
            "test_incomplete",
            f"運用テストのレポートに含まれていないケースがあります（{'、'.join(missing)}）。"
            "--case で絞らずに全ケースを実行したレポートを指定してください。",
            f"The report lacks cases of the kit ({', '.join(missing)}): run every case.",
            field,
        )
    return {
        "suite": SUITE,
        "passed": True,
        "tests": len(cases),
        "failures": 0,
        "seconds": round(seconds, 3),
        "cases": cases,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
