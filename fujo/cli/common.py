"""Shared plumbing of the CLI: settings, database, errors printed for people (never tracebacks)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..config import load_settings
from ..core.errors import FujoError, ValidationFailed
from ..db.database import Database

console = Console()
err_console = Console(stderr=True)  # messages are printed with soft_wrap: a narrow or absent terminal never splits one


def database() -> Database:
    return Database(load_settings().database_url)


def log_to_stderr(fmt: str = "%(asctime)s %(levelname)s %(name)s %(message)s") -> None:
    """INFO lines of a long-running command (terminal agent, webhook worker) on stderr; the libraries
    that would log the URLs they call stay at WARNING, as in ``fujo serve``."""
    from ..api.observe import QUIET_LOGGERS

    logging.basicConfig(level=logging.INFO, format=fmt, stream=sys.stderr)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def import_file(import_csv: Callable[..., Any], principal: Any, kind: str, file: Path) -> None:
    """Run a CSV import of ``file`` (the registry's or the 薬剤情報等 one: all or nothing) with a
    progress bar, then say how many rows it wrote."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        report = import_csv(
            database(),
            principal,
            kind,
            file.read_bytes(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(f"{report.written}件を取り込みました。 imported {report.written} rows.", highlight=False)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def report_error(e: FujoError) -> None:
    err_console.print(f"[red]エラー[/red]: {e.message_ja}", highlight=False, soft_wrap=True)
    err_console.print(f"error: {e.message_en}", highlight=False, soft_wrap=True)
    if isinstance(e, ValidationFailed):
        for p in e.problems:
            err_console.print(f"  - {p.field}: {p.message_ja} / {p.message_en}", highlight=False, soft_wrap=True)


def handle_errors(fn):
    """Run a command; a FujoError becomes a message on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*a, **k):
        try:
            return fn(*a, **k)
        except FujoError as e:
            report = getattr(e, "report", None)
            report_error(e)
            if report is not None:
                for r in report.errors:
                    err_console.print(
                        f"  行{r.row} {r.field}: {r.message_ja} / {r.message_en}", highlight=False, soft_wrap=True
                    )
            raise typer.Exit(2) from None

    return wrapper
