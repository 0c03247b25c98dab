"""``fujo subsidy estimate|rules`` (registered by fujo/cli/main.py)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli.common import console, handle_errors, print_json

subsidy_app = typer.Typer(help="補助金 — the introduction subsidy: amount and deadlines", no_args_is_help=True)

# the names of the options, so a refusal names what was typed
OPTIONS = {
    "kind": "--kind",
    "cost": "--cost",
    "other_costs": "--other-costs",
    "completed": "--completed",
    "applied": "--applied",
    "fiscal_year": "--fiscal-year",
}
ELIGIBLE_JA = {
    True: "要件を満たします",
    False: "要件を満たしません（補助の対象外）",
    None: "未確定（日付を入力すると確認します）",
}


@subsidy_app.command("estimate")
@handle_errors
def estimate(
    kind: str = typer.Option(..., "--kind", help="hospital | clinic | pharmacy | chain-pharmacy"),
    cost: str = typer.Option(..., "--cost", help="導入経費（事業額） in yen: 73000, 73,000円, 7.3万円"),
    other_costs: str = typer.Option(
        None, "--other-costs", help="other costs on the same receipts (not subsidised; a breakdown is needed)"
    ),
    completed: str = typer.Option(None, "--completed", help="完了日: 2023-12-20, 20231220, R5.12.20, 令和5年12月20日"),
    applied: str = typer.Option(None, "--applied", help="申請日 (same forms)"),
    fiscal_year: str = typer.Option(
        None, "--fiscal-year", help="the rules of this fiscal year (default: by the dates)"
    ),
    output: str = typer.Option("text", "--format", help="text | json"),
):
    """The subsidy for an introduction: rate and cost ceiling of the kind, the completion deadline and
    the application window; says where the published maxima are rounded. Exit code 1 when a deadline
    is missed, 2 when an option is wrong."""
    from ..core.errors import FieldProblem, ValidationFailed
    from .service import estimate_subsidy

    if output not in ("text", "json"):
        raise ValidationFailed(
            problems=[FieldProblem("--format", "code", "--format は text か json です。", "--format is text or json.")]
        )
    values = {
        "kind": kind,
        "cost": cost,
        "other_costs": other_costs,
        "completed": completed,
        "applied": applied,
        "fiscal_year": fiscal_year,
    }
    est = estimate_subsidy(values, names=OPTIONS)
    if output == "json":
        print_json(est)
    else:
        _text(est)
    if est["eligible"] is False:
        raise typer.Exit(1)


def _out(line: str) -> None:
    console.print(line, highlight=False, markup=False, soft_wrap=True)


def _text(e: dict[str, Any]) -> None:
    _out(f"{e['title']}（{e['fiscal_year_ja']}）")
    _out(
        f"区分: {e['kind_label']}（{e['kind']}）  補助率 {e['rate']}、事業額の上限 {e['cost_ceiling']:,}円、"
        f"公表の上限「{e['published_max']}」"
    )
    _out(f"導入経費: {e['cost']:,}円（補助の対象 {e['counted_cost']:,}円）")
    if e["other_costs"]:
        _out(f"その他の経費: {e['other_costs']:,}円（対象外）")
    _out(f"補助額（見積り）: {e['amount']:,}円")
    for c in e["checks"]:
        _out(f"  [{c['status']}] {c['message_ja']}")
    for n in e["notes"]:
        _out(f"  注: {n['message_ja']}")
    _out("必要書類: " + "、".join(e["documents"]))
    _out(f"判定: {ELIGIBLE_JA[e['eligible']]}")


@subsidy_app.command("rules")
@handle_errors
def rules(output: str = typer.Option("text", "--format", help="text | json")):
    """Every fiscal year's rules: kinds, rates, ceilings, deadlines."""
    from .service import rules_summary

    summary = rules_summary()
    if output == "json":
        print_json(summary)
        return
    for r in summary:
        _out(
            f"{r['fiscal_year']}（{r['fiscal_year_ja']}）{r['title']}: 完了期限 {r['completion_deadline']}、"
            f"申請 {r['application_from']}～{r['application_to']}"
        )
        for k in r["kinds"]:
            rounded = "（概数）" if k["published_max_rounded"] else ""
            _out(
                f"  {k['kind']:<15} {k['label']}: {k['rate']} × 上限 {k['cost_ceiling']:,}円 = "
                f"{k['max_amount']:,}円、公表「{k['published_max']}」{rounded}"
            )


def register(app: typer.Typer) -> None:
    app.add_typer(subsidy_app, name="subsidy")
