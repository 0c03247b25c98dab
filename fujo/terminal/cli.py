"""``fujo terminal run|card`` and ``fujo vendor-test`` (registered by fujo/cli/main.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..cli.common import console, handle_errors, log_to_stderr
from ..core.errors import FieldProblem, ValidationFailed
from .xmlio import SJIS, UTF8

terminal_app = typer.Typer(
    help="資格確認端末 — the shared-folder interface for レセコン (req/ res/ face/)", no_args_is_help=True
)

_DIR = typer.Option(..., "--dir", help="shared folder (req/ res/ face/ are created inside)")
_SERVER = typer.Option("http://127.0.0.1:8000", "--server", envvar="FUJO_SERVER", help="fujo server URL")
_TOKEN = typer.Option(
    ..., "--token", envvar="FUJO_TERMINAL_TOKEN", help="the facility's API token (better: set FUJO_TERMINAL_TOKEN)"
)


@terminal_app.command("run")
def run(
    folder: Path = _DIR,
    server: str = _SERVER,
    token: str = _TOKEN,
    state_dir: Path = typer.Option(None, help="agent state (ledger, 受付番号); default DIR/.fujo-terminal"),
    once: bool = typer.Option(False, "--once", help="answer the files present now, then exit"),
    zip_threshold: int = typer.Option(1024 * 1024, help="OQSmutic02 answers above this many bytes go as .zip"),
    workers: int = typer.Option(4, "--workers", min=1, max=64, help="request files answered at once"),
):
    """Watch DIR/req and answer every request file in DIR/res until stopped (Ctrl-C)."""
    from .agent import Agent, FolderProblem
    from .client import ServerClient

    log_to_stderr("%(asctime)s %(levelname)s %(message)s")
    client = ServerClient(server, token)
    try:
        Agent(folder, client, state_dir, zip_threshold=zip_threshold, workers=workers).run(once=once)
    except KeyboardInterrupt:
        pass
    except FolderProblem as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    finally:
        client.close()


CONSENT_HELP = (
    "comma list of what the patient agreed to: medication,diagnosis,checkups,surgery,"
    "limit (限度額適用認定証),diseases (特定疾病療養受療証)"
)


@terminal_app.command("card")
@handle_errors
def card(
    folder: Path = _DIR,
    server: str = _SERVER,
    token: str = _TOKEN,
    card_file: Path = typer.Option(..., exists=True, dir_okay=False, help="virtual card (PKCS#12)"),
    pin: str = typer.Option(..., prompt=True, hide_input=True),
    consent: str = typer.Option("", help=CONSENT_HELP),
    encoding: str = typer.Option("utf-8", help="utf-8 | shift_jis"),
    date: str = typer.Option(None, help="資格確認日 YYYY-MM-DD (default today)"),
):
    """Simulated card reader: check a card and write face/OQSsiquc01res_face_*.xml."""
    from ..cards.reader import CONSENT_NAMES
    from .client import ServerClient
    from .errors import TerminalError
    from .face import card_check_to_face

    chosen = {c.strip() for c in consent.split(",") if c.strip()}
    if chosen - set(CONSENT_NAMES) or encoding.lower() not in ("utf-8", "shift_jis"):
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "--consent/--encoding",
                    "code",
                    f"同意は {','.join(CONSENT_NAMES)}、文字コードは utf-8 か shift_jis です。",
                    f"consent from {','.join(CONSENT_NAMES)}; encoding utf-8 or shift_jis",
                )
            ]
        )
    client = ServerClient(server, token)
    try:
        path = card_check_to_face(
            client,
            folder,
            card_file,
            pin,
            {CONSENT_NAMES[c]: True for c in chosen},
            SJIS if encoding.lower() == "shift_jis" else UTF8,
            date,
        )
    except TerminalError as e:
        console.print(f"[red]エラー[/red] {e.code}: {e.message_ja} / {e.message_en}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        client.close()
    console.print(f"written {path}", highlight=False)


def vendor_test(
    folder: Path = typer.Option(None, "--dir", help="shared folder watched by the integration under test"),
    self_test: bool = typer.Option(False, "--self", help="test this project's own agent (throw-away server)"),
    server: str = _SERVER,
    admin_token: str = typer.Option(None, envvar="FUJO_ADMIN_TOKEN", help="operator token (scenario set-up)"),
    facility_token: str = typer.Option(
        None, envvar="FUJO_TERMINAL_TOKEN", help="token of the facility the integration answers for"
    ),
    junit: Path = typer.Option(Path("vendor-test.xml"), help="where to write the JUnit XML report"),
    case: list[str] = typer.Option(None, help="run only these cases (repeatable)"),
    timeout: float = typer.Option(15.0, help="seconds to wait for each answer"),
):
    """運用テスト: load the scenario set, drive every case through the folder, report pass/fail."""
    from .vendortest import junit_xml, run_cases, self_test_environment

    def show(r):
        mark = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {r.key:<17} {r.title}  ({r.seconds:.1f} s)", highlight=False)
        for f in r.failures:
            console.print(f"       - {f}", highlight=False)

    if self_test:
        with self_test_environment(folder) as (fdir, url, admin, fac):
            results = run_cases(fdir, url, admin, fac, timeout, case, show)
    else:
        if not (folder and admin_token and facility_token):
            console.print("--dir, --admin-token and --facility-token are required (or use --self).", highlight=False)
            raise typer.Exit(2)
        results = run_cases(folder, server, admin_token, facility_token, timeout, case, show)
    junit.write_bytes(junit_xml(results))
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed}/{len(results)} passed; JUnit XML: {junit}", highlight=False)
    raise typer.Exit(1 if failed or not results else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(terminal_app, name="terminal")
    app.command("vendor-test")(vendor_test)
