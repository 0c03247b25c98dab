"""``fujo synth``: load a deterministic, national-scale synthetic data set (fujo.synth.generator,
fujo.synth.load) with a progress bar showing rows/s, and a summary line with the counts and rate."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..cli.common import console, handle_errors
from ..core.dates import month_bounds, month_key, parse_month, today_jst
from ..core.errors import FieldProblem, ValidationFailed

DEFAULTS = {"recipients": 2_000_000, "offices": 1_250, "facilities": 100_000}
PHASES = {t: "recipients, cards, insurance" for t in ("persons", "recipients", "cards", "insurance_qualifications")}


class RateColumn(ProgressColumn):
    """Rows per second over the last samples (rich's own speed estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def database_size(db) -> int | None:
    """Bytes on disk: the SQLite file (with its WAL), or pg_database_size."""
    if db.is_sqlite:
        path = db.engine.url.database
        if not path or path == ":memory:":
            return None
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


def _month(value: str | None) -> str:
    if not value:
        t = today_jst()
        return month_key(t.year, t.month)
    ym, p = parse_month(value, "--month")
    if p or ym is None:
        raise ValidationFailed(problems=[p] if p else [])
    return month_key(*ym)


def register(app: typer.Typer) -> None:
    @app.command("synth")
    @handle_errors
    def synth(
        recipients: int = typer.Option(DEFAULTS["recipients"], help="被保護者 (recipients)"),
        offices: int = typer.Option(DEFAULTS["offices"], help="福祉事務所, over the 47 prefectures"),
        facilities: int = typer.Option(DEFAULTS["facilities"], help="医療機関・薬局 in the facility registry"),
        month: str = typer.Option(None, help="診療年月 YYYY-MM of the current tickets (default: this month)"),
        history_months: int = typer.Option(12, help="months of ticket history before --month"),
        insurance_share: float = typer.Option(
            0.04, help="share of the recipients aged 18–74 with health insurance (併用)"
        ),
        card_share: float = typer.Option(0.30, help="share of recipients with a My Number card, linked"),
        seed: int = typer.Option(1, help="the same seed (and options) gives the same rows"),
        facility_orgs: int = typer.Option(20, help="busiest facilities made organisations with a token"),
        real_cards: int = typer.Option(10, help="cards re-issued with a real certificate (PKCS#12, PIN 1234)"),
        cards_dir: Path = typer.Option(None, help="where the real cards go (default: $FUJO_DATA_DIR/synth-cards)"),
        tokens_out: Path = typer.Option(None, help="write the tokens, sample numbers and cards here (JSON)"),
        database_url: str = typer.Option(None, help="SQLAlchemy URL (default: the configured database)"),
        append: bool = typer.Option(
            False,
            "--append",
            help="load beside recipients already there: new offices, payer numbers and facility codes, "
            "ids after the existing ones (without it a database holding recipients is refused)",
        ),
    ):
        """Generate a national-scale synthetic data set straight into the database (COPY on
        PostgreSQL, executemany in one transaction on SQLite): recipients over welfare offices in
        47 prefectures, facilities with a few very large hospitals, a month of tickets and its
        history, 併用 insurance and cards. Deterministic for a seed; one audit entry for the load."""
        from ..cards.ca import CardAuthority
        from ..config import load_settings
        from ..db.database import Database
        from ..db.migrate import upgrade
        from .generator import SynthConfig, estimate_rows
        from .load import load

        settings = load_settings()
        m = _month(month)
        today = today_jst()
        config = SynthConfig(
            recipients=recipients,
            offices=offices,
            facilities=facilities,
            month=m,
            history_months=history_months,
            insurance_share=insurance_share,
            card_share=card_share,
            seed=seed,
            as_of=min(today, month_bounds(m)[1]),
            facility_orgs=facility_orgs,
        )
        problems = config.problems() + (["real_cards must be 0 or more"] if real_cards < 0 else [])
        if problems:
            raise ValidationFailed(
                problems=[FieldProblem("options", "invalid", "オプションが正しくありません: " + p, p) for p in problems]
            )
        url = database_url or settings.database_url
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        db = Database(url)
        upgrade(db)
        ca = CardAuthority.load_or_create(settings.ca_dir)
        shown = db.engine.url.render_as_string(hide_password=True)
        console.print(
            f"fujo synth → {shown}: {recipients:,} recipients, {offices:,} offices, {facilities:,} facilities, "
            f"{m[:4]}-{m[4:]} + {history_months} months, seed {seed}",
            highlight=False,
        )
        columns = (
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("rows", total=estimate_rows(config))

            def progress(table: str, n: int) -> None:
                if table in ("indexes", "analyze"):
                    bar.update(task, description={"indexes": "rebuilding indexes", "analyze": "ANALYZE"}[table])
                else:  # the people's tables come in turns: one phase
                    bar.update(task, advance=n, description=PHASES.get(table, table))

            try:
                result = load(
                    db,
                    config,
                    ca,
                    append=append,
                    real_cards=real_cards,
                    cards_dir=cards_dir or settings.data_dir / "synth-cards",
                    progress=progress,
                )
            except ValueError as e:  # sizes the generator cannot lay out (e.g. too many per office)
                raise ValidationFailed(
                    problems=[FieldProblem("options", "invalid", f"オプションが正しくありません: {e}", str(e))]
                ) from None
            bar.update(task, total=result.rows, completed=result.rows, description="done")
        summary = result.generator.summary
        rows = summary.rows
        size = database_size(db)
        db.dispose()
        console.print(
            f"synth: {rows.get('recipients', 0):,} recipients, {rows.get('office_payers', 0):,} offices, "
            f"{rows.get('facilities', 0):,} facilities, {rows.get('tickets', 0):,} ticket rows "
            f"({summary.month_tickets:,} in force for {m[:4]}-{m[4:]}), {rows.get('persons', 0):,} cards, "
            f"{rows.get('insurance_qualifications', 0):,} insurance — {result.rows:,} rows in "
            f"{result.seconds:,.1f} s = {result.rate:,.0f} rows/s"
            + (f"; database {size / 2**30:,.2f} GiB" if size else ""),
            highlight=False,
        )
        top = summary.top_facilities[:5]
        console.print(
            "busiest facilities this month: " + ", ".join(f"{code} {name} {n:,}" for code, name, n in top),
            highlight=False,
        )
        if result.facilities:
            f = result.facilities[0]
            console.print(f"facility token for {f['code']} ({f['name']}): {f['token']}", highlight=False)
        if tokens_out:
            doc = result.tokens_document(shown)
            doc["generated_on"] = dt.date.today().isoformat()
            tokens_out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.chmod(tokens_out, 0o600)
            console.print(f"tokens, sample numbers and cards: {tokens_out}", highlight=False)
