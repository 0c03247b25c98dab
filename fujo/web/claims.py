"""レセプト資格点検 screens (issue 15): a facility uploads its UKE or CSV claims file and reads the
report grouped by problem (line, numbers, what to do), with CSV and JSON downloads; a welfare office
uploads the data of the 審査支払機関 and sees the claims without a matching ticket and the tickets
never billed. The check is :mod:`fujo.claims.service`'s (the same as the API and ``fujo claims
check``); this module only shows its report.

The report of an upload is kept in the database for its page and downloads
(:mod:`fujo.claims.reports`: the user who asked only, 30 minutes, a few per user), so any server
process serves them (docs/ARCHITECTURE.md, per-process state)."""

# no "from __future__ import annotations": the routes are made per side (_router), and FastAPI must
# see the real (closure) types of their parameters, not strings

import json
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from ..api import limits
from ..claims import reports
from ..claims import service as claims
from ..core.dates import parse_clock
from ..core.errors import FujoError, ValidationFailed
from .kit import FacilityUser, OfficeUser, Staff, csrf_guard, db_of, render

FACILITY_MODE, OFFICE_MODE = "facility", "office"
INPUTS = {"": "自動判定（IR/YKで始まればUKE）", "uke": "UKE（レセプト電算処理システム）", "csv": "CSV"}
SEVERITY_JA = {claims.ERROR: "要修正", claims.WARNING: "要確認", claims.INFO: "参考", claims.OK: "問題なし"}
BASE = {FACILITY_MODE: "/desk/claims", OFFICE_MODE: "/office/claims"}
TITLE = {FACILITY_MODE: "レセプトの資格点検", OFFICE_MODE: "レセプトの資格点検（審査支払機関のデータ）"}


# --- the report as the page shows it ----------------------------------------------------------------


def report_view(report: dict[str, Any]) -> dict[str, Any]:
    """The service's report grouped by finding code (errors, then warnings, then 参考, each in the
    order of the service's table), each group's claims by line; the claims without a problem apart
    (those with 参考 findings only are among them too)."""
    order = list(claims.CODES)
    groups: dict[str, dict[str, Any]] = {}
    ok = []
    for c in report["claims"]:
        if c["status"] == claims.OK:
            ok.append(c)
        for f in c["findings"]:
            g = groups.setdefault(
                f["code"],
                {
                    "code": f["code"],
                    "severity": f["severity"],
                    "severity_ja": SEVERITY_JA[f["severity"]],
                    "label": claims.CODES.get(f["code"], ("", f["code"]))[1],
                    "rows": [],
                },
            )
            g["rows"].append({"claim": c, "finding": f})
    ordered = sorted(
        groups.values(),
        key=lambda g: (
            claims.SEVERITY_RANK.get(g["severity"], 1),
            order.index(g["code"]) if g["code"] in order else len(order),
        ),
    )
    for g in ordered:
        g["rows"].sort(key=lambda x: x["claim"]["line"])
    problems = sum(1 for g in ordered if g["severity"] != claims.INFO)
    return {"groups": ordered, "ok": ok, "problems": problems}


def _form(request: Request, mode: str, status: int = 200, **kw: Any):
    return render(
        request,
        "claims/upload.html",
        status=status,
        title=TITLE[mode],
        mode=mode,
        action=BASE[mode],
        inputs=INPUTS,
        labels={"file": "ファイル", "input": "形式", "written_on": "レセプトの作成日", "written_time": "作成時刻"},
        **kw,
    )


def _page(request: Request, mode: str, rid: str, report: dict[str, Any]):
    return render(
        request,
        "claims/report.html",
        title=TITLE[mode] + "の結果",
        mode=mode,
        base=BASE[mode],
        rid=rid,
        report=report,
        view=report_view(report),
        severity_ja=SEVERITY_JA,
        wide=True,
    )


def _written_at(on: str, time: str) -> tuple[Any, dict[str, list[str]]]:
    """The form's レセプトの作成日 (a date entry: 和暦 or ISO) and optional 時刻 (HH:MM, as the browser's
    time input sends it) as the service's ``written_at`` (None when not given), or the errors of those fields."""
    on, time = on.strip(), time.strip()
    if time and parse_clock(time) is None:
        return None, {"written_time": ["時刻は 10:30 のように入力してください。"]}
    if time and not on:
        return None, {"written_on": ["時刻を指定するときは、レセプトの作成日も入力してください。"]}
    try:
        return claims.parse_written_at(f"{on} {time}".strip(), field="written_on", label_ja="レセプトの作成日"), {}
    except ValidationFailed as e:
        return None, {"written_on": [p.message_ja for p in e.problems]}


def _check(
    request: Request, staff: Staff, mode: str, file: UploadFile | None, input: str, written_on: str, written_time: str
):
    again = {"input": input, "written_on": written_on, "written_time": written_time}
    if input not in INPUTS:
        return _form(request, mode, 422, errors={"input": ["形式は自動判定・UKE・CSVのいずれかです。"]}, **again)
    when, errors = _written_at(written_on, written_time)
    if errors:
        return _form(request, mode, 422, errors=errors, **again)
    if file is None or not file.filename:
        return _form(request, mode, 422, errors={"file": ["点検するファイルを選択してください。"]}, **again)
    run = claims.check_claims if mode == FACILITY_MODE else claims.check_office_claims
    try:
        report = run(db_of(request), staff.principal, source=file.file, fmt=input or None, written_at=when)
    except ValidationFailed as e:
        problems = [{"field": p.field, "message": p.message_ja} for p in e.problems]
        return _form(
            request,
            mode,
            422,
            message="ファイルを点検できません。何も記録していません。",
            problems=problems,
            **again,
        )
    except FujoError as e:
        return _form(request, mode, e.status, message=e.message_ja, **again)
    rid = reports.store_report(db_of(request), staff.principal, mode, report)
    return _page(request, mode, rid, report)


def _stored(request: Request, staff: Staff, mode: str, rid: str) -> dict[str, Any]:
    return reports.load_report(db_of(request), staff.principal, rid, mode)


def _name(report: dict[str, Any], ext: str) -> str:
    months = "-".join(report.get("months") or []) or "report"
    return f"claims-{report['mode']}-{months[:40]}.{ext}"


def _csv(request: Request, staff: Staff, mode: str, rid: str, problems: int) -> Response:
    report = _stored(request, staff, mode, rid)
    return Response(
        claims.report_csv(report, problems_only=bool(problems)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_name(report, "csv")}"'},
    )


def _json(request: Request, staff: Staff, mode: str, rid: str) -> Response:
    report = _stored(request, staff, mode, rid)
    return Response(
        json.dumps(report, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{_name(report, "json")}"'},
    )


# --- the routes: the facility's (/desk) and the welfare office's (/office) are the same five --------


def _router(prefix: str, mode: str, User) -> APIRouter:
    router = APIRouter(prefix=prefix, dependencies=[Depends(csrf_guard)], include_in_schema=False)

    @router.get("/claims")
    def claims_form(request: Request, staff: User):
        return _form(request, mode, input="", written_on="", written_time="")

    @router.post("/claims", max_body_size=limits.IMPORT + limits.MIB)
    def claims_check(
        request: Request,
        staff: User,
        file: UploadFile | None = File(None),
        input: str = Form("", max_length=10),
        written_on: str = Form("", max_length=40),
        written_time: str = Form("", max_length=10),
    ):
        return _check(request, staff, mode, file, input, written_on, written_time)

    @router.get("/claims/reports/{rid}.csv")
    def claims_csv(request: Request, staff: User, rid: str, problems: int = 0):
        return _csv(request, staff, mode, rid, problems)

    @router.get("/claims/reports/{rid}.json")
    def claims_json(request: Request, staff: User, rid: str):
        return _json(request, staff, mode, rid)

    # declared after .csv/.json: "{rid}" would match "x.csv" too
    @router.get("/claims/reports/{rid}")
    def claims_report(request: Request, staff: User, rid: str):
        return _page(request, mode, rid, _stored(request, staff, mode, rid))

    return router


desk_router = _router("/desk", FACILITY_MODE, FacilityUser)
office_router = _router("/office", OFFICE_MODE, OfficeUser)
