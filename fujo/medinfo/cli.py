"""``fujo medinfo …``: import records (progress bar, per-row report), the viewing restriction, and the
disaster mode (open, close, list) — adapters over fujo.medinfo.service."""

from __future__ import annotations

from pathlib import Path

import typer

from ..auth.principal import WELFARE_OFFICE
from ..cli.common import database, handle_errors, import_file, print_json


def _office(code: str):
    from ..orgs.service import principal_for

    return principal_for(database(), kind=WELFARE_OFFICE, code=code, actor="運用管理者（CLI）")


def register(app: typer.Typer) -> None:
    medinfo_app = typer.Typer(help="薬剤情報等 — medication, diagnosis, checkups, surgery", no_args_is_help=True)
    app.add_typer(medinfo_app, name="medinfo")

    @medinfo_app.command("import")
    @handle_errors
    def import_(
        category: str = typer.Argument(..., help="medication | diagnosis | checkups | surgery"),
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        office: str = typer.Option(None, help="福祉事務所 code (omit: as the administrator)"),
    ):
        """Import a CSV file of one category, all or nothing, with a progress bar."""
        from ..orgs.service import admin_principal
        from .csv_import import import_csv

        principal = _office(office) if office else admin_principal()
        import_file(import_csv, principal, category, file)

    @medinfo_app.command("restrict")
    @handle_errors
    def restrict(
        office: str = typer.Option(..., help="福祉事務所 code"),
        payer: str = typer.Option(..., help="公費負担者番号"),
        recipient: str = typer.Option(..., help="受給者番号"),
        lift: bool = typer.Option(False, "--lift", help="lift the restriction"),
        reason: str = typer.Option(None, help="理由 (kept in the access log)"),
    ):
        """閲覧制限 (DV・虐待の被害者): no address to any facility, name and birth date only to the
        designated one, no 薬剤情報等."""
        from .service import set_restriction

        print_json(
            set_restriction(database(), _office(office), payer=payer, rn=recipient, restricted=not lift, reason=reason)
        )

    @medinfo_app.command("disaster-open")
    @handle_errors
    def disaster_open(
        reason: str = typer.Option(..., help="理由"),
        starts: str = typer.Option(..., "--from", help="start: date or ISO date-time (JST)"),
        ends: str = typer.Option(..., "--to", help="end: date (included) or ISO date-time"),
        prefecture: list[str] = typer.Option(None, help="都道府県番号 (repeatable)"),
        municipality: list[str] = typer.Option(None, help="市区町村 with its prefecture (repeatable)"),
    ):
        """Open the disaster mode (災害時) for an area and a period."""
        from ..orgs.service import admin_principal
        from .service import open_disaster

        print_json(
            open_disaster(
                database(),
                admin_principal(),
                reason=reason,
                starts=starts,
                ends=ends,
                prefectures=prefecture or [],
                municipalities=municipality or [],
            )
        )

    @medinfo_app.command("disaster-close")
    @handle_errors
    def disaster_close(opening_id: int = typer.Argument(..., help="the opening's id")):
        """Close a disaster opening (at once)."""
        from ..orgs.service import admin_principal
        from .service import close_disaster

        print_json(close_disaster(database(), admin_principal(), opening_id))

    @medinfo_app.command("disaster-list")
    @handle_errors
    def disaster_list():
        """Every disaster opening, newest first."""
        from ..orgs.service import admin_principal
        from .service import list_disasters

        print_json(list_disasters(database(), admin_principal()))
