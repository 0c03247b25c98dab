"""``fujo db``: the database's upkeep — ``maintain``, run daily from cron (fujo.db.partitions)."""

from __future__ import annotations

import sys

import typer

from ..cli.common import database, handle_errors

cli = typer.Typer(help="データベースの保守 — database upkeep", no_args_is_help=True)


@cli.command("maintain")
@handle_errors
def maintain_cmd(
    detach_before: str = typer.Option(
        None,
        "--detach-before",
        help="YYYY-MM: detach check_log's partitions of every month before it (export them first with "
        "`fujo audit export`; each stays a table of its own, to dump and drop); refused if the chain would "
        "not verify after it",
    ),
    detach_tickets_before: str = typer.Option(
        None,
        "--detach-tickets-before",
        help="YYYY-MM: detach the tickets' partitions of every month before it (each stays a table of its own, "
        "to dump and drop; those tickets leave every check, download and screen); refused for the last 12 months",
    ),
    ahead: int = typer.Option(3, min=1, max=24, help="months of partitions to make ahead of this one"),
):
    """Make the monthly partitions of check_log and of the tickets ahead (PostgreSQL), moving stray
    rows out of the default partitions, and detach old months if asked. Safe to run at any time, as
    often as wanted."""
    from ..core.dates import parse_month
    from ..core.errors import ValidationFailed
    from .partitions import maintain

    months: dict[str, tuple[int, int]] = {}
    for name, given in (("--detach-before", detach_before), ("--detach-tickets-before", detach_tickets_before)):
        if given is not None:
            ym, problem = parse_month(given, field=name, label_ja="切り離す月")
            if problem is not None or ym is None:
                raise ValidationFailed(problems=[problem] if problem else [])
            months[name] = ym
    db = database()
    done = maintain(
        db, db.now(), months.get("--detach-before"), ahead, tickets_before=months.get("--detach-tickets-before")
    )
    if not done.partitioned:
        sys.stdout.write("check_log and tickets are not partitioned here (SQLite: one table each); nothing to do\n")
        return
    sys.stdout.write(f"partitions made: {', '.join(done.created) or 'none'}\n")
    if done.moved:
        sys.stdout.write(f"rows moved out of the default partitions: {done.moved}\n")
    if months:
        sys.stdout.write(f"detached: {', '.join(done.detached) or 'none'}\n")
