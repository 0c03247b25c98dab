"""``fujo claims check FILE`` (registered by fujo/cli/main.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..cli.common import console, database, err_console, handle_errors, print_json
from ..core.errors import FieldProblem, ValidationFailed

claims_app = typer.Typer(
    help="レセプトの資格点検 — check claims against the tickets before submission", no_args_is_help=True
)

MARK = {"error": "要修正", "warning": "要確認", "ok": "問題なし"}


@claims_app.command("check")
@handle_errors
def check(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="UKE file or the claims CSV"),
    facility: str = typer.Option(None, help="医療機関コード of the facility whose claims these are"),
    office: str = typer.Option(
        None, "--office", help="福祉事務所 code: check claims received from the 審査支払機関 instead"
    ),
    output: str = typer.Option("text", "--format", help="text | csv | json"),
    input_format: str = typer.Option(None, "--input", help="uke | csv (default: uke when the file starts with IR/YK)"),
    show_all: bool = typer.Option(False, "--all", help="text: list claims without findings too"),
    written_at: str = typer.Option(
        None,
        "--written-at",
        help="when the claims were written (2024-08-05, R6.8.5, 令和6年8月5日, '2024-08-05 10:30', "
        "2024-08-05T10:30+09:00): tickets amended after it are flagged (ticket_amended); "
        "without it amendments are for reference only (ticket_revised)",
    ),
):
    """Check a month's claims (UKE or CSV) against the tickets: 未委託, unknown numbers, validity,
    保護停止・廃止, tickets cancelled or amended since the claims were written, check digits. Exit code 1
    when a claim has an error."""
    from ..auth.principal import FACILITY, WELFARE_OFFICE
    from ..cli.main import _principal
    from . import service

    # read before the file: a wrong value is named as the option, and nothing is checked
    when = service.parse_written_at(written_at, field="--written-at", label_ja="--written-at（レセプトの作成日時）")

    if output not in ("text", "csv", "json") or (facility is None) == (office is None):
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "--facility/--office" if output in ("text", "csv", "json") else "--format",
                    "required",
                    "--facility か --office のどちらか一方と、--format text|csv|json を指定してください。",
                    "Give either --facility or --office, and --format text|csv|json.",
                )
            ]
        )
    principal = _principal(FACILITY, facility) if facility else _principal(WELFARE_OFFICE, office)
    run = service.check_claims if facility else service.check_office_claims
    with (
        file.open("rb") as f,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            # the bar is drawn on stderr: stdout carries the report only (csv and json are piped into files)
            console=err_console,
            transient=output != "text",
        ) as bar,
    ):
        task = bar.add_task(f"checking {file.name}", total=file.stat().st_size)
        lines = service.progress_lines(f, lambda done: bar.update(task, completed=done))
        report = run(database(), principal, source=lines, fmt=input_format, written_at=when)
    if output == "json":
        print_json(report)
    elif output == "csv":
        sys.stdout.write(service.report_csv(report).lstrip("\ufeff"))
    else:
        _text(report, show_all)
    if report["counts"]["error"]:
        raise typer.Exit(1)


def _text(report: dict[str, Any], show_all: bool) -> None:
    import datetime as dt

    from ..core.era import wareki_date, wareki_month

    def month(m: str | None) -> str:
        return wareki_month(int(m[:4]), int(m[4:])) if m else "診療年月不明"

    for c in report["claims"]:
        if c["status"] == "ok" and not show_all:
            continue
        nums = f"{c['payer_number'] or '-'}/{c['recipient_number'] or '-'}"
        console.print(
            f"{c['line']}行目 {month(c['treatment_month'])} {c['name'] or '-'} {nums}  【{MARK[c['status']]}】",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for f in c["findings"]:
            ref = "（参考）" if f["severity"] == "info" else ""
            console.print(f"  ・{ref}{f['message_ja']}", highlight=False, markup=False, soft_wrap=True)
    for u in report.get("unbilled", []):
        console.print(
            f"未請求 {month(u['treatment_month'])} {u['name']} {u['payer_number']}/{u['recipient_number']} "
            f"{u['designated_facility_name']}  ・{u['message_ja']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    n = report["counts"]
    if report.get("written_at"):
        at = dt.datetime.fromisoformat(report["written_at"])
        console.print(
            f"レセプトの作成日時: {wareki_date(at.date())} {at:%H:%M}（この後の医療券の取消・変更を表示）",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    tail = f" / 未請求の医療券 {n['unbilled']}件" if "unbilled" in n else ""
    console.print(
        f"レセプト {n['claims']}件（医療扶助 {n['assistance']}件）: 要修正 {n['error']}件 / 要確認 {n['warning']}件 / "
        f"問題なし {n['ok']}件{tail}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(claims_app, name="claims")
