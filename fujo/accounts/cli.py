"""``fujo user create``: a web user for an organisation (password read from stdin, never an argument)."""

from __future__ import annotations

import sys

import typer

from ..cli.common import console, database, handle_errors
from ..core.errors import FieldProblem, ValidationFailed


def register(app: typer.Typer) -> None:
    user_app = typer.Typer(help="画面の利用者 — web users", no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @user_app.command("create")
    @handle_errors
    def create(
        org_kind: str = typer.Option(..., help="admin | welfare_office | facility | insurer"),
        org_code: str = typer.Option(..., help="the organisation's code"),
        login: str = typer.Option(..., help="login id"),
        display_name: str = typer.Option(None, help="name shown on screens"),
        role: str = typer.Option(
            None,
            help="facility: reception|clinician|manager; welfare_office: "
            "caseworker|manager (default: reception / caseworker)",
        ),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    ):
        """Create a user who signs in to the screens for an organisation."""
        from ..orgs.service import organisation_by_kind_code
        from .service import create_user

        if not password_stdin:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "--password-stdin",
                        "required",
                        "パスワードは --password-stdin で標準入力から渡してください。",
                        "Pass the password on stdin with --password-stdin.",
                    )
                ]
            )
        password = sys.stdin.readline().rstrip("\r\n")
        db = database()
        org = organisation_by_kind_code(db, kind=org_kind, code=org_code)
        u = create_user(db, org["id"], login=login, password=password, display_name=display_name, role=role)
        console.print(
            f"user {u['login']} ({u['role']}) created for {org['name']} ({org_kind}/{org_code})", highlight=False
        )
