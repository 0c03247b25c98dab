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
    ahead: int = typer.Option(3, min=1, max=24, help="months of check_log partitions to make ahead of this one"),
):
    """Make check_log's monthly partitions ahead (PostgreSQL), moving stray rows out of the default
    partition, and detach old months if asked. Safe to run at any time, as often as wanted."""
    from ..core.dates import parse_month
    from ..core.errors import ValidationFailed
    from .partitions import maintain

    before = None
    if detach_before is not None:
        before, problem = parse_month(detach_before, field="--detach-before", label_ja="切り離す月")
        if problem is not None:
            raise ValidationFailed(problems=[problem])
    db = database()
    done = maintain(db, db.now(), before, ahead)
    if not done.partitioned:
        sys.stdout.write("check_log is not partitioned here (SQLite: one table); nothing to do\n")
        return
    sys.stdout.write(f"partitions made: {', '.join(done.created) or 'none'}\n")
    if done.moved:
        sys.stdout.write(f"rows moved out of the default partition: {done.moved}\n")
    if before is not None:
        sys.stdout.write(f"detached: {', '.join(done.detached) or 'none'}\n")
