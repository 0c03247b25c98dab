"""The ``fujo`` command line."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import typer

from ..audit.cli import cli as audit_cli
from ..auth.principal import ADMIN, FACILITY, INSURER, KINDS, WELFARE_OFFICE
from ..cards.ca import CardAuthority
from ..cards.reader_app import cli as reader_cli
from ..config import load_settings
from ..core import screen
from ..core.errors import FieldProblem, ValidationFailed
from ..core.fields import TICKET_FIELDS
from ..db.cli import cli as db_cli
from .common import console, database, handle_errors, import_file, print_json

app = typer.Typer(
    help="fujo — 医療扶助のオンライン資格確認 (online eligibility verification for medical assistance)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
check_app = typer.Typer(help="資格確認 — check eligibility", no_args_is_help=True)
card_app = typer.Typer(help="仮想マイナンバーカード — virtual cards", no_args_is_help=True)
org_app = typer.Typer(help="組織と認証情報 — organisations and API credentials", no_args_is_help=True)
app.add_typer(check_app, name="check")
app.add_typer(card_app, name="card")
app.add_typer(org_app, name="org")
app.add_typer(reader_cli, name="reader")  # the card reader on the desk (fujo/cards/reader_app.py)
app.add_typer(audit_cli, name="audit")  # the tamper-evident audit trail (fujo/audit/cli.py)
app.add_typer(db_cli, name="db")  # the database's upkeep: check_log's monthly partitions (fujo/db/cli.py)


def _ca() -> CardAuthority:
    return CardAuthority.load_or_create(load_settings().ca_dir)


@app.command()
@handle_errors
def init():
    """Create or migrate the schema (Alembic) and the card authority."""
    from ..db.migrate import upgrade

    db = database()
    upgrade(db)
    _ca()
    console.print(f"schema ready: {db.engine.url.render_as_string(hide_password=True)}", highlight=False)


@app.command()
@handle_errors
def demo():
    """Load the demo data (the seed's 生保一郎 and a 未委託, 併用 and invalid case) and print how to use it."""
    from ..db.migrate import upgrade
    from ..demo.data import describe, load_demo

    db = database()
    upgrade(db)
    settings = load_settings()
    info = load_demo(db, _ca(), settings.data_dir / "demo-cards")
    sys.stdout.write(describe(info) + "\n")
    from ..demo.users import load_demo_users

    sys.stdout.write("\nweb sign-in at http://127.0.0.1:8000/login (組織コード / ログインID / パスワード):\n")
    for login, password, org in load_demo_users(db):
        sys.stdout.write(f"  {org}  {login} / {password}\n")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1):
    """Run the HTTP API (and screens) with uvicorn (httptools, uvloop; see fujo.api.server)."""
    from ..api.server import serve as run_server

    run_server(host, port, workers)


def _principal(kind: str, code: str):
    """The organisation to act as; its code is validated first so a typo is named as such."""
    from ..core import numbers
    from ..orgs.service import principal_for

    check = {
        FACILITY: (numbers.check_facility_code, "--facility"),
        INSURER: (numbers.check_insurer_number, "--insurer"),
    }.get(kind)
    if check:
        p = check[0](code or "", field=check[1])
        if p:
            raise ValidationFailed(problems=[p])
    return principal_for(database(), kind=kind, code=code)


@app.command("import")
@handle_errors
def import_(
    kind: str = typer.Argument(..., help="recipients | tickets | insurance | facilities"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    office: str = typer.Option(None, help="福祉事務所 code (recipients, tickets)"),
    insurer: str = typer.Option(None, help="保険者番号 (insurance)"),
):
    """Import a CSV file, all or nothing, with a progress bar and a per-row error report."""
    from ..registry.csv_import import import_csv

    if kind == "facilities":  # the facility registry: the operator's (no --office)
        from ..orgs.service import admin_principal

        principal = admin_principal()
    elif kind == "insurance":
        if not insurer:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "--insurer",
                        "required",
                        "--insurer を指定してください。",
                        "--insurer is required for insurance.",
                    )
                ]
            )
        principal = _principal(INSURER, insurer)
    else:
        if not office:
            raise ValidationFailed(
                problems=[
                    FieldProblem("--office", "required", "--office を指定してください。", "--office is required.")
                ]
            )
        principal = _principal(WELFARE_OFFICE, office)
    import_file(import_csv, principal, kind, file)


@check_app.command("card")
@handle_errors
def check_card(
    card_file: Path = typer.Option(..., exists=True, dir_okay=False),
    pin: str = typer.Option(..., prompt=True, hide_input=True),
    facility: str = typer.Option(..., help="医療機関コード of the checking facility"),
    consent: str = typer.Option("", help="comma list: medication,diagnosis,checkups,surgery,limit,diseases"),
    date: str = typer.Option(None, help="資格確認日 YYYY-MM-DD (default today)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Check by My Number card (simulated reader: the card file signs the server's challenge)."""
    from ..cards.reader import CONSENT_NAMES, prove
    from ..cards.service import create_challenge
    from ..eligibility.service import check_by_card

    chosen = {c.strip() for c in consent.split(",") if c.strip()}
    bad = chosen - set(CONSENT_NAMES)
    if bad:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "--consent",
                    "code",
                    f"同意の種類は{','.join(CONSENT_NAMES)}です。",
                    f"consent must be from {','.join(CONSENT_NAMES)}",
                )
            ]
        )
    from ..cards.reader import open_card
    from ..core.dates import parse_date

    _, problem = parse_date(date, "--date", "資格確認日", required=False)
    if problem:
        raise ValidationFailed(problems=[problem])
    db, p = database(), _principal(FACILITY, facility)
    card = card_file.read_bytes()
    open_card(card, pin)  # a wrong PIN is refused before anything is written
    ch = create_challenge(db, p)["challenge"]
    proof = prove(card, pin, ch, p.code, {CONSENT_NAMES[c]: True for c in chosen})
    out = check_by_card(
        db,
        _ca(),
        p,
        challenge=proof.challenge,
        certificate=proof.certificate,
        signature=proof.signature,
        consent=proof.consent,
        confirmation_date=date,
    )
    print_json(out) if as_json else sys.stdout.write(screen.render_text(out))


@check_app.command("ticket")
@handle_errors
def check_ticket(
    facility: str = typer.Option(..., help="医療機関コード of the checking facility"),
    payer: str = typer.Option(..., help="公費負担者番号 (or 保険者番号)"),
    recipient: str = typer.Option(..., help="受給者番号 (or 被保険者番号)"),
    birthdate: str = typer.Option(None, help="生年月日 YYYY-MM-DD (必須 required)"),
    date: str = typer.Option(None, help="資格確認日 YYYY-MM-DD (default today)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Check by the numbers of a paper 医療券/調剤券 or a prescription."""
    from ..eligibility.service import check_by_numbers

    out = check_by_numbers(
        database(),
        _principal(FACILITY, facility),
        insurer_number=payer,
        identification_number=recipient,
        birthdate=birthdate,
        confirmation_date=date,
    )
    print_json(out) if as_json else sys.stdout.write(screen.render_text(out))


@app.command()
@handle_errors
def tickets(
    facility: str = typer.Option(..., help="医療機関コード"),
    month: str = typer.Option(None, help="診療年月 YYYY-MM"),
    since: int = typer.Option(None, help="only changes after this cursor"),
    as_json: bool = typer.Option(False, "--json"),
    as_csv: bool = typer.Option(False, "--csv"),
):
    """委託先一括取得: the tickets designated to a facility for a month (or the changes since a cursor)."""
    from ..bulk.service import changes_since, tickets_for_month

    db, p = database(), _principal(FACILITY, facility)
    if since is not None:
        out = changes_since(db, p, since, month=month)
        entries = [(c["Change"], c["TicketKey"], c.get("Result")) for c in out["Changes"]]
    else:
        if not month:
            raise ValidationFailed(
                problems=[FieldProblem("--month", "required", "--month を指定してください。", "--month is required.")]
            )
        out = tickets_for_month(db, p, month)
        entries = [("", "", r) for r in out["ResultList"]]
    if as_json:
        return print_json(out)
    cols = [
        "InsurerNumber",
        "InsuredIdentificationNumber",
        "Name",
        "NameKana",
        "Sex1",
        "Birthdate",
        "QualificationStatus",
        "QualificationStatusDate",
    ]
    tcols = [f.wire for f in TICKET_FIELDS] + ["RegisteredAt"]
    lead = ["Change", "TicketKey"] if since is not None else []
    w = csv.writer(sys.stdout)
    if as_csv:
        w.writerow(lead + cols + tcols)
    people = removed = 0
    for change, key, r in entries:
        first = [change, key] if since is not None else []
        if r is None:  # removed: cancelled, amended away from this facility or month, or moved elsewhere
            removed += 1
            if as_csv:
                w.writerow(first + ["" for _ in cols + tcols])
            else:
                console.print(f"削除 removed {key}", highlight=False)
            continue
        people += 1
        status = r.get("QualificationStatusText", "-") + (
            f"（{r['QualificationStatusDate']}）" if r.get("QualificationStatusDate") else ""
        )
        tickets_of = r.get("PublicExpenseResultList", {}).get("MedicalTicketInfo", [])
        if not tickets_of:  # not billable this month: numbers and ticket data withheld
            if as_csv:
                w.writerow(first + [r.get(c, "") for c in cols] + ["" for _ in tcols])
            else:
                console.print(
                    f"- - {r['Name']} {status} 請求不可（番号・券情報は非表示） not billable, withheld", highlight=False
                )
        for t in tickets_of:
            if as_csv:
                w.writerow(first + [r.get(c, "") for c in cols] + [t.get(c, "") for c in tcols])
            else:
                console.print(
                    f"{r['InsurerNumber']} {r['InsuredIdentificationNumber']} {r['Name']} "
                    f"{t['TicketType']} {t['MedicalTreatmentMonth']} {t.get('InjuryName1', '')} {status}",
                    highlight=False,
                )
    if not as_csv:
        extra = f" / 削除 {removed}件 removed" if since is not None else ""
        console.print(f"{people}名{extra} / cursor {out['Cursor']}", highlight=False)


@card_app.command("issue")
@handle_errors
def card_issue(
    out: Path = typer.Option(..., help="where to write the PKCS#12 card file"),
    pin: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    individual_number: str = typer.Option(
        None,
        "--individual-number",
        help="the holder's 個人番号 (12 digits; only a keyed hash is kept); '-' reads it from stdin (out of `ps`)",
    ),
    name: str = typer.Option(None, help="基本4情報: 氏名"),
    birthdate: str = typer.Option(None, help="基本4情報: 生年月日 YYYY-MM-DD"),
    sex: str = typer.Option(None, help="基本4情報: 性別 1 男 2 女 3 未設定"),
    address: str = typer.Option(None, help="基本4情報: 住所"),
    person: int = typer.Option(None, help="re-issue for a known holder (person id) instead"),
    valid_days: int = typer.Option(None, help="validity in days (default 5 years)"),
):
    """Issue a virtual My Number card to the holder of a 個人番号 with the 基本4情報, and write its
    PIN-protected PKCS#12 file. The welfare office links it to a recipient (初回ひも付け) separately."""
    from ..cards.service import issue_card

    if individual_number == "-":
        individual_number = sys.stdin.readline().strip()
    holder = {
        k: v for k, v in (("name", name), ("birthdate", birthdate), ("sex", sex), ("address", address)) if v is not None
    }
    na = dt.datetime.now(dt.UTC) + dt.timedelta(days=valid_days) if valid_days else None
    res = issue_card(
        database(), _ca(), pin=pin, individual_number=individual_number, holder=holder, person_id=person, not_after=na
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(res["p12"])
    out.chmod(0o600)
    console.print(f"card {res['serial']} (person {res['person_id']}) written to {out}", highlight=False)


@card_app.command("revoke")
@handle_errors
def card_revoke(serial: str, reason: str = "revoked by operator"):
    """Revoke a card's certificate: later proofs with it are refused."""
    from ..cards.service import revoke_card

    revoke_card(database(), serial=serial, reason=reason)
    console.print(f"card {serial} revoked", highlight=False)


@org_app.command("create")
@handle_errors
def org_create(
    kind: str = typer.Option(..., help="|".join(KINDS)),
    code: str = typer.Option(...),
    name: str = typer.Option(...),
    phone: str = typer.Option(None),
    payer: list[str] = typer.Option(None, help="公費負担者番号 (welfare office; repeatable)"),
):
    """Create an organisation."""
    from ..orgs.service import create_organisation

    org = create_organisation(
        database(), kind=kind, code=code, name=name, phone=phone, address=None, payer_numbers=payer or []
    )
    console.print(f"organisation {org['id']} {org['kind']} {org['code']} {org['name']}", highlight=False)


@org_app.command("token")
@handle_errors
def org_token(
    kind: str = typer.Option(...),
    code: str = typer.Option(...),
    label: str = typer.Option(None),
    role: str = typer.Option(
        None,
        help="facility: reception|clinician|manager; welfare_office: "
        "caseworker|manager (default: reception / caseworker); admin: manager|auditor (監査担当: audit export only)",
    ),
):
    """Issue an API token for an organisation, with a role inside it (printed once)."""
    from ..orgs.service import issue_credential

    p = _principal(kind, code) if kind != ADMIN else _principal(ADMIN, code)
    sys.stdout.write(issue_credential(database(), p.organisation_id, label=label, role=role)["token"] + "\n")


@org_app.command("list")
@handle_errors
def org_list():
    from ..orgs.service import list_organisations

    for o in list_organisations(database()):
        console.print(
            f"{o['id']:>4} {o['kind']:<15} {o['code']:<10} {o['name']} {' '.join(o['payer_numbers'])}", highlight=False
        )


def _plugins() -> None:
    """Commands of other packages (terminal agent, vendor test kit, …) register themselves here."""
    import importlib

    for mod in (
        "fujo.terminal.cli",
        "fujo.accounts.cli",
        "fujo.medinfo.cli",
        "fujo.claims.cli",
        "fujo.webhooks.cli",
        "fujo.subsidy.cli",
        "fujo.onboarding.cli",
        "fujo.synth.cli",
    ):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if not mod.startswith(e.name or "-"):
                raise
            continue
        m.register(app)


_plugins()
