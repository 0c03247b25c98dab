"""``fujo onboarding show|advance`` — the operator's view of each facility's introduction checklist
(registered by fujo/cli/main.py). The CLI acts as the administrator (it has the database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import typer

from ..cli.common import console, database, handle_errors, print_json

onboarding_app = typer.Typer(
    help="導入手順 — each facility's introduction checklist (見積り … 運用開始)", no_args_is_help=True
)
_FORMAT = typer.Option("text", "--format", help="text | json")


def _admin():
    from ..orgs.service import admin_principal

    return dataclasses.replace(admin_principal(), actor="運用管理者（CLI）")


def _format(output: str) -> None:
    from ..core.errors import FieldProblem, ValidationFailed

    if output not in ("text", "json"):
        raise ValidationFailed(
            problems=[FieldProblem("--format", "code", "--format は text か json です。", "--format is text or json.")]
        )


def _out(line: str) -> None:
    console.print(line, highlight=False, markup=False, soft_wrap=True)


@onboarding_app.command("show")
@handle_errors
def show(
    facility: str = typer.Option(None, "--facility", help="医療機関コード (omit: every facility with its step)"),
    output: str = _FORMAT,
):
    """One facility's checklist (who did each step, when), or every facility with the step it has reached."""
    from . import service

    _format(output)
    db = database()
    if facility is None:
        rows = service.list_facilities(db, _admin())
        if output == "json":
            print_json(rows)
            return
        for r in rows:
            state = "運用開始済み" if r["completed"] else f"次: {r['next_label']}"
            _out(f"{r['facility_code']} {r['name']}  {r['done']}/{r['total']}  {state}")
        if not rows:
            _out("医療機関・薬局の組織がありません。")
        return
    _print(service.get_checklist(db, _admin(), _code(facility)), output)


def _code(value: str) -> str:
    from ..core import numbers
    from ..core.errors import ValidationFailed

    p = numbers.check_facility_code(value or "", field="--facility")
    if p:
        raise ValidationFailed(problems=[p])
    return value


def _print(c: dict[str, Any], output: str) -> None:
    if output == "json":
        print_json(c)
        return
    from ..core.dates import JST
    from ..core.era import wareki_date

    _out(
        f"{c['name']}（{c['facility_code']}） 「医療扶助」: {'利用する' if c['medical_assistance_enabled'] else '利用しない'}"
    )
    for st in c["steps"]:
        if st["done"]:
            at = dt.datetime.fromisoformat(st["done_at"]).astimezone(JST)
            mark = f"完了 {wareki_date(at.date())} {at:%H:%M} {st['done_by']}"
        else:
            mark = "次の手順" if st["step"] == c["next_step"] else "未完了"
        _out(f"{st['order']}. {st['label']}（{st['step']}） {mark}")
        if st["note"]:
            _out(f"     メモ: {st['note']}")
        if st["report"]:
            r = st["report"]
            _out(f"     運用テスト: {r['tests']}ケース合格（sha256 {r['sha256'][:16]}…）")
    _out("導入手順はすべて完了しています。" if c["completed"] else f"次の手順: {c['next_label']}（{c['next_step']}）")


@onboarding_app.command("advance")
@handle_errors
def advance(
    step: str = typer.Argument(
        ..., help="estimate | order | package | acceptance_test | reception | subsidy | go_live (the next one)"
    ),
    facility: str = typer.Option(..., "--facility", help="医療機関コード"),
    note: str = typer.Option(None, "--note", help="a note kept with the step (≤ 200 characters)"),
    report: Path = typer.Option(
        None, "--report", exists=True, dir_okay=False, readable=True, help="acceptance_test: vendor-test.xml"
    ),
    output: str = _FORMAT,
):
    """Mark the facility's next step done (steps go in order). acceptance_test needs the passing JUnit XML
    of `fujo vendor-test`; go_live switches the facility's 「医療扶助」 to 利用する."""
    from . import service

    _format(output)
    from ..core.errors import ValidationFailed

    data = report.read_bytes() if report is not None else None
    try:
        c = service.advance(database(), _admin(), _code(facility), step, note=note, report=data)
    except ValidationFailed as e:  # name what was typed: --report, --note, STEP
        names = {"report": "--report", "note": "--note", "step": "STEP"}
        raise ValidationFailed(
            problems=[dataclasses.replace(p, field=names.get(p.field, p.field)) for p in e.problems]
        ) from None
    _print(c, output)


def register(app: typer.Typer) -> None:
    app.add_typer(onboarding_app, name="onboarding")
