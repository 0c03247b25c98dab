"""``fujo audit``: verify the hash chain, print its head (the anchor), export a period as CSV."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer

from ..cli.common import console, database, handle_errors
from ..core.errors import FieldProblem, ValidationFailed

cli = typer.Typer(help="監査記録 — the tamper-evident audit trail (check_log)", no_args_is_help=True)


@cli.command("verify")
@handle_errors
def verify_cmd(
    anchor: str = typer.Option(
        None, help="SEQ:HASH printed earlier by `fujo audit anchor`: must still be in the chain"
    ),
):
    """Walk the whole chain; name the first changed, removed or inserted entry (exit code 1)."""
    from .verify import parse_anchor, verify

    anchored = None
    if anchor:
        try:
            anchored = parse_anchor(anchor)
        except ValueError as e:
            raise ValidationFailed(
                problems=[FieldProblem("--anchor", "format", "SEQ:HASH の形式で指定してください。", str(e))]
            ) from None
    from .chain import pending_count

    db = database()
    report = verify(db, anchor=anchored)
    with db.read() as conn:
        staged = pending_count(conn)
    # plain writes, not rich: a hash must stay on one line whatever the terminal's width
    if report.ok:
        found = f", anchor seq {anchored[0]} found" if anchored else ""
        sys.stdout.write(f"ok: {report.entries} entries, head seq {report.head.seq} {report.head.hash}{found}\n")
        if staged:  # an import's entries, committed with it and not chained yet (fujo.audit.chain)
            sys.stdout.write(
                f"{staged} entries of an import wait to be chained (at the next server start or fujo worker pass)\n"
            )
        return
    sys.stderr.write(f"改ざんを検出しました (tampering detected) — {report.problem}\n")
    sys.stderr.write(f"checked {report.entries} entries before it\n")
    raise typer.Exit(1)


@cli.command("anchor")
@handle_errors
def anchor_cmd():
    """Print the chain's head: SEQ:HASH and its time. Keep it somewhere else (see docs/ARCHITECTURE.md)."""
    from .verify import head

    h = head(database())
    sys.stdout.write(f"{h.anchor()} {h.at.isoformat() if h.at else '-'}\n")


@cli.command("export")
@handle_errors
def export_cmd(
    start: str = typer.Option(..., "--from", help="first day YYYY-MM-DD (JST)"),
    end: str = typer.Option(..., "--to", help="last day YYYY-MM-DD (JST), included"),
    out: Path = typer.Option(None, help="write the CSV here (default: standard output)"),
):
    """Export the entries of a period as CSV (UTF-8 with BOM), as the operator; the export is itself recorded."""
    from ..orgs.service import admin_principal
    from .export import check_period, chunks, record_export

    try:
        d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise ValidationFailed(
            problems=[
                FieldProblem("--from/--to", "date", "日付は YYYY-MM-DD で指定してください。", "dates are YYYY-MM-DD")
            ]
        ) from None
    why = check_period(d0, d1)
    if why:
        raise ValidationFailed(problems=[FieldProblem("--from/--to", "period", "期間が正しくありません。", why)])
    db, p = database(), admin_principal()
    record_export(db, p, d0, d1, "cli")
    if out is None:
        for piece in chunks(db, p, d0, d1):
            sys.stdout.write(piece)
        return
    with out.open("w", encoding="utf-8", newline="") as f:
        for piece in chunks(db, p, d0, d1):
            f.write(piece)
    console.print(f"written: {out}", highlight=False)
