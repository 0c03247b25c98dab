"""The ``fujo`` CLI as a user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from fujo.auth.principal import FACILITY
from fujo.cards.ca import CardAuthority
from fujo.cards.reader import open_card
from fujo.db import schema as s
from fujo.facility.service import register_reference
from fujo.orgs.service import authenticate, principal_for
from tests.core import seed_screens
from tests.factories import PAYER, PAYER2, World
from tests.helpers import snapshot

# Valid numbers worked out from DOMAIN.md's rule (see tests/core/test_numbers.py)
OFFICE_PAYER = "12130019"
ICHIRO = "1010008"
ICHIRO_BIRTH = "1990-01-15"
CLINIC = "1311234569"  # ●●医療機関, designated on 生保一郎's 令和6年7月 医療券
OTHER_CLINIC = "1311299992"  # ▲▲クリニック: 未委託
JULY_10 = "2024-07-10"
PHONE = re.compile(r"\d{2,4}-\d{2,4}-\d{4}")


def screen_of(stdout: str) -> tuple[str, list[tuple[str, str]]]:
    """The 医療扶助 block of a printed check: headline and (label, value) lines."""
    lines = stdout.splitlines()
    start = lines.index("【医療扶助】")
    block = []
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith("【"):
            break
        block.append(tuple(line.split("：", 1)))
    return lines[start + 1], block


def register_patient_number(db, facility, number="0000001"):
    # the demo's 生保一郎 holds a card, so the qualification is linked and can get a 照会番号
    register_reference(
        db,
        principal_for(db, kind=FACILITY, code=facility),
        reference_number=number,
        insurer_number=OFFICE_PAYER,
        identification_number=ICHIRO,
        birthdate=ICHIRO_BIRTH,
    )


def check_ticket(
    fujo, facility=CLINIC, payer=OFFICE_PAYER, recipient=ICHIRO, date=JULY_10, *extra, birthdate=ICHIRO_BIRTH
):
    bd = ("--birthdate", birthdate) if birthdate else ()
    return fujo(
        "check",
        "ticket",
        "--facility",
        facility,
        "--payer",
        payer,
        "--recipient",
        recipient,
        *bd,
        "--date",
        date,
        *extra,
    )


# --- init --------------------------------------------------------------------------------------


def test_init_on_a_fresh_machine_creates_the_sqlite_file_and_schema(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fujo.cli.main import app

    monkeypatch.delenv("FUJO_DATABASE_URL", raising=False)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    res = CliRunner().invoke(app, ["init"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "schema ready" in res.stdout
    dbfile = tmp_path / "fujo.db"
    assert dbfile.exists()
    from sqlalchemy import create_engine

    eng = create_engine(f"sqlite:///{dbfile}")
    assert {"recipients", "tickets", "organisations", "cards"} <= set(inspect(eng).get_table_names())
    eng.dispose()
    again = CliRunner().invoke(app, ["init"], catch_exceptions=False)
    assert again.exit_code == 0, again.output


def test_init_on_an_existing_database_changes_no_data(fujo, db, tmp_path):
    before = snapshot(db)
    res = fujo("init")
    assert res.exit_code == 0, res.output
    assert "schema ready" in res.stdout
    assert snapshot(db) == before
    assert any((tmp_path / "ca").iterdir()), "the card authority was not created"


# --- demo --------------------------------------------------------------------------------------


def test_demo_prints_working_tokens(demo, db):
    assert {"admin", "office", "clinic", "pharmacy", "other_clinic", "insurer"} <= set(demo["tokens"])
    for key, token in demo["tokens"].items():
        p = authenticate(db, token)
        assert p.kind in ("admin", "welfare_office", "facility", "insurer"), key
    assert authenticate(db, demo["tokens"]["clinic"]).code == CLINIC
    assert authenticate(db, demo["tokens"]["other_clinic"]).code == OTHER_CLINIC


def test_demo_writes_card_files_that_open_with_the_printed_pins(demo):
    assert len(demo["cards"]) >= 4  # 生保一郎 plus the 未委託, 併用 and invalid cases
    for key, card in demo["cards"].items():
        path = Path(card["file"])
        assert path.exists(), key
        key_, cert = open_card(path.read_bytes(), card["pin"])
        assert cert is not None
    assert demo["cards"]["ichiro"]["recipient_number"] == ICHIRO


def test_demo_uses_the_seeds_person_with_valid_numbers(demo):
    out = demo["output"]
    assert "○○市福祉事務所" in out
    assert OFFICE_PAYER in out and "12000001" not in out


def test_demo_twice_does_not_duplicate_anything(fujo, demo, db):
    before = snapshot(db)
    files = {k: Path(c["file"]).read_bytes() for k, c in demo["cards"].items()}
    res = fujo("demo")
    assert res.exit_code == 0, res.output
    assert "already loaded" in res.stdout
    assert snapshot(db) == before
    assert {k: Path(c["file"]).read_bytes() for k, c in demo["cards"].items()} == files
    for token in demo["tokens"].values():
        assert token in res.stdout


# --- check ticket ------------------------------------------------------------------------------


def test_check_ticket_prints_the_seeds_normal_screen(fujo, demo, db):
    register_patient_number(db, CLINIC)
    res = check_ticket(fujo)
    assert res.exit_code == 0, res.output
    head, items = screen_of(res.stdout)
    seed_head, seed_items = seed_screens.parse(seed_screens.NORMAL)
    assert head == seed_head
    assert items == seed_screens.with_valid_numbers(seed_items)
    assert "電話" not in res.stdout


def test_check_ticket_at_a_facility_not_designated_prints_the_seeds_withheld_screen(fujo, demo, db):
    register_patient_number(db, OTHER_CLINIC)
    res = check_ticket(fujo, OTHER_CLINIC)
    assert res.exit_code == 0, res.output
    head, items = screen_of(res.stdout)
    seed_head, seed_items = seed_screens.parse(seed_screens.NOT_DESIGNATED)
    assert head == "○：この資格は有効です。（医療券/調剤券情報が未登録です。）" == seed_head
    assert items == seed_items
    assert OFFICE_PAYER not in res.stdout and ICHIRO not in res.stdout
    advice = [line for line in res.stdout.splitlines() if "○○市福祉事務所" in line and PHONE.search(line)]
    assert advice and "確認" in advice[0], res.stdout


def test_check_ticket_not_found_names_the_office_of_the_payer_number_to_call(fujo, demo):
    unknown = "9999996"  # a valid 受給者番号 that nobody holds
    res = check_ticket(fujo, CLINIC, OFFICE_PAYER, unknown)
    assert res.exit_code == 0, res.output
    assert "×：該当する資格がありません。" in res.stdout
    advice = [line for line in res.stdout.splitlines() if "○○市福祉事務所" in line and PHONE.search(line)]
    assert advice and "確認" in advice[0], res.stdout
    out = json.loads(check_ticket(fujo, CLINIC, OFFICE_PAYER, unknown, JULY_10, "--json").stdout)
    assert out["QualificationValidity"] == "4" and out["ProcessingResultCode"] == "FJ0401"
    assert out["Contact"]["OfficeName"] == "○○市福祉事務所" and PHONE.search(out["Contact"]["Phone"])


def test_check_ticket_json_for_the_designated_facility(fujo, demo):
    res = check_ticket(fujo, CLINIC, OFFICE_PAYER, ICHIRO, JULY_10, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["QualificationValidity"] == "1"
    [r] = out["ResultList"]
    assert (r["InsuredCardClassification"], r["InsurerNumber"], r["InsuredIdentificationNumber"]) == (
        "A1",
        OFFICE_PAYER,
        ICHIRO,
    )
    [t] = r["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert (t["MedicalTreatmentMonth"], t["DesignatedMedicalInstitutionCode"]) == ("202407", CLINIC)


def test_check_ticket_json_for_a_facility_not_designated_withholds_the_numbers(fujo, demo):
    res = check_ticket(fujo, OTHER_CLINIC, OFFICE_PAYER, ICHIRO, JULY_10, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["QualificationValidity"] == "6"
    [r] = out["ResultList"]
    assert "InsurerNumber" not in r and "InsuredIdentificationNumber" not in r
    assert "PublicExpenseResultList" not in r
    # masked: no address, no qualification dates (the demo's 生保一郎 has an address)
    for hidden in ("Address", "PostNumber", "QualificationDate", "DisqualificationDate", "ReasonOfLoss"):
        assert hidden not in r, hidden
    assert r["InsurerName"] == "○○市福祉事務所" and r["Name"] == "生保一郎" and r["Birthdate"] == "19900115"
    assert out["Contact"]["OfficeName"] == "○○市福祉事務所" and PHONE.fullmatch(out["Contact"]["Phone"])
    # the same reason whether another facility holds the ticket or none is registered yet
    assert out["Reason"] == "unregistered"
    unregistered = json.loads(check_ticket(fujo, CLINIC, OFFICE_PAYER, ICHIRO, "2024-08-10", "--json").stdout)
    assert (unregistered["QualificationValidity"], unregistered["Reason"]) == ("6", "unregistered")


def test_check_ticket_with_a_wrong_birthdate_reveals_nothing(fujo, demo):
    res = check_ticket(fujo, CLINIC, OFFICE_PAYER, ICHIRO, JULY_10, "--json", birthdate="1990-01-16")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["QualificationValidity"] == "4" and out["ResultList"] == []
    assert "生保一郎" not in res.stdout


def test_check_ticket_without_a_birthdate_exits_2_naming_it_and_checks_nothing(fujo, demo, db):
    before = snapshot(db)
    res = check_ticket(fujo, birthdate=None)
    assert res.exit_code == 2, res.output
    assert "birthdate: 生年月日を入力してください。 / birthdate is required." in res.stderr
    assert res.stdout == "" and "Traceback" not in res.output
    assert snapshot(db) == before  # not even the check log


def test_check_ticket_of_a_month_without_a_ticket_is_unregistered(fujo, demo):
    res = check_ticket(fujo, CLINIC, OFFICE_PAYER, ICHIRO, "2024-08-10")
    assert res.exit_code == 0, res.output
    assert "○：この資格は有効です。（医療券/調剤券情報が未登録です。）" in res.stdout


# --- check card --------------------------------------------------------------------------------


def check_card(fujo, card, pin, facility=CLINIC, *extra):
    return fujo("check", "card", "--card-file", card, "--pin", pin, "--facility", facility, "--date", JULY_10, *extra)


def test_check_card_with_the_demo_card_and_pin(fujo, demo):
    card = demo["cards"]["ichiro"]
    res = check_card(fujo, card["file"], card["pin"])
    assert res.exit_code == 0, res.output
    head, items = screen_of(res.stdout)
    assert head == "○：この資格は有効です。"
    d = dict(items)
    assert (d["公費負担者番号"], d["受給者番号"], d["氏名"], d["生年月日"], d["診療年月"]) == (
        OFFICE_PAYER,
        ICHIRO,
        "生保一郎",
        "平成2年1月15日",
        "令和6年7月",
    )


def test_check_card_records_the_consent_given_at_the_reader(fujo, demo):
    card = demo["cards"]["ichiro"]
    res = check_card(fujo, card["file"], card["pin"], CLINIC, "--consent", "medication", "--json")
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.stdout)["ResultList"]
    assert r["PharmacistsInfoConsFlg"] == "1" and r["DiagnosisInfoConsFlg"] == "0"
    assert len(r["PharmacistsInfoConsTime"]) == 14


def test_check_card_with_a_wrong_pin_is_refused_and_writes_nothing(fujo, demo, db):
    card = demo["cards"]["ichiro"]
    before = snapshot(db)
    res = check_card(fujo, card["file"], "0000" if card["pin"] != "0000" else "1111")
    assert res.exit_code == 2
    assert "暗証番号が違う" in res.stderr
    assert "Traceback" not in res.output
    assert snapshot(db) == before


def test_check_card_with_a_malformed_pin_is_refused(fujo, demo):
    res = check_card(fujo, demo["cards"]["ichiro"]["file"], "12")
    assert res.exit_code == 2
    assert "暗証番号は数字4桁" in res.stderr


def test_check_card_with_an_unknown_consent_kind_names_the_option(fujo, demo, db):
    card = demo["cards"]["ichiro"]
    before = snapshot(db)
    res = check_card(fujo, card["file"], card["pin"], CLINIC, "--consent", "everything")
    assert res.exit_code == 2
    assert "--consent" in res.stderr
    assert snapshot(db) == before


def test_check_card_with_a_bad_date_names_the_field_and_writes_nothing(fujo, demo, db):
    card = demo["cards"]["ichiro"]
    before = snapshot(db)
    res = fujo(
        "check", "card", "--card-file", card["file"], "--pin", card["pin"], "--facility", CLINIC, "--date", "2024-02-30"
    )
    assert res.exit_code == 2
    assert "資格確認日" in res.stderr
    assert snapshot(db) == before


# --- bulk retrieval ----------------------------------------------------------------------------


def test_tickets_lists_the_facilitys_tickets_of_the_month(fujo, demo):
    res = fujo("tickets", "--facility", CLINIC, "--month", "2024-07")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert f"{OFFICE_PAYER} {ICHIRO} 生保一郎 01 202407 高血圧症 有効" in lines
    assert any(line.startswith("1名") for line in lines)


def test_tickets_of_a_facility_with_none_designated(fujo, demo):
    res = fujo("tickets", "--facility", OTHER_CLINIC, "--month", "2024-07")
    assert res.exit_code == 0, res.output
    assert any(line.startswith("0名") for line in res.stdout.splitlines())
    assert ICHIRO not in res.stdout


def test_tickets_csv_is_machine_readable(fujo, demo):
    res = fujo("tickets", "--facility", CLINIC, "--month", "202407", "--csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 1
    row = rows[0]
    assert (row["InsurerNumber"], row["InsuredIdentificationNumber"], row["Name"], row["Birthdate"]) == (
        OFFICE_PAYER,
        ICHIRO,
        "生保一郎",
        "19900115",
    )
    assert (
        row["TicketType"],
        row["MedicalTreatmentMonth"],
        row["MedicalTicketValidDate"],
        row["MedicalTicketExpirationDate"],
        row["DesignatedMedicalInstitutionCode"],
        row["DesignatedMedicalInstitutionName"],
    ) == ("01", "202407", "20240701", "20240731", CLINIC, "●●医療機関")


def test_tickets_json(fujo, demo):
    res = fujo("tickets", "--facility", CLINIC, "--month", "2024-07", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["MedicalTreatmentMonth"] == "202407" and out["Count"] == 1
    assert out["ResultList"][0]["InsuredIdentificationNumber"] == ICHIRO


# --- import ------------------------------------------------------------------------------------

RECIPIENTS_CSV = (
    "payer_number,recipient_number,name,name_kana,sex,birthdate,qualification_date\n"
    "12130019,2000008,扶助花子,ﾌｼﾞｮ ﾊﾅｺ,2,1985-04-02,2020-04-01\n"
    "12130019,2000016,保護次郎,ホゴ ジロウ,1,1978-11-03,2020-04-01\n"
)


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_import_recipients(fujo, world, db, tmp_path):
    f = write(tmp_path, "recipients.csv", RECIPIENTS_CSV, "cp932")
    res = fujo("import", "recipients", f, "--office", "13001")
    assert res.exit_code == 0, res.output
    assert "2件を取り込みました" in res.stdout
    with db.read() as c:
        got = {(r.recipient_number, r.name, r.name_kana) for r in c.execute(select(s.recipients))}
    assert got == {("2000008", "扶助花子", "ﾌｼﾞｮ ﾊﾅｺ"), ("2000016", "保護次郎", "ﾎｺﾞ ｼﾞﾛｳ")}


def test_import_with_a_bad_row_reports_each_row_on_stderr_and_changes_nothing(fujo, world, db, tmp_path):
    bad = RECIPIENTS_CSV + "12130019,2000024,生保三郎,ｾｲﾎ ｻﾌﾞﾛｳ,9,1990-02-30,2020-04-01\n"
    f = write(tmp_path, "recipients.csv", bad)
    before = snapshot(db)
    res = fujo("import", "recipients", f, "--office", "13001")
    assert res.exit_code == 2
    err = res.stderr
    assert "取り込みませんでした" in err
    assert re.search(r"行4 sex: .*性別", err), err
    assert re.search(r"行4 birthdate: .*生年月日", err), err
    assert "Traceback" not in res.output
    assert snapshot(db) == before


def test_import_under_another_offices_payer_number_is_refused(fujo, world, db, tmp_path):
    text = RECIPIENTS_CSV.replace("12130019,2000016", f"{PAYER2},2000016")
    f = write(tmp_path, "recipients.csv", text)
    before = snapshot(db)
    res = fujo("import", "recipients", f, "--office", "13001")
    assert res.exit_code == 2
    assert "行3" in res.stderr and PAYER2 in res.stderr
    assert snapshot(db) == before


def test_import_needs_the_office(fujo, world, db, tmp_path):
    f = write(tmp_path, "recipients.csv", RECIPIENTS_CSV)
    before = snapshot(db)
    res = fujo("import", "recipients", f)
    assert res.exit_code == 2
    assert "--office" in res.stderr
    assert snapshot(db) == before


def test_import_of_an_unknown_office_is_refused(fujo, world, db, tmp_path):
    f = write(tmp_path, "recipients.csv", RECIPIENTS_CSV)
    before = snapshot(db)
    res = fujo("import", "recipients", f, "--office", "99999")
    assert res.exit_code == 2
    assert "99999" in res.stderr
    assert snapshot(db) == before


def test_import_with_a_bad_header_names_the_column(fujo, world, db, tmp_path):
    f = write(tmp_path, "recipients.csv", RECIPIENTS_CSV.replace("name_kana", "kana", 1))
    before = snapshot(db)
    res = fujo("import", "recipients", f, "--office", "13001")
    assert res.exit_code == 2
    assert "kana" in res.stderr and "name_kana" in res.stderr
    assert snapshot(db) == before


def test_import_tickets(fujo, world, db, tmp_path):
    r = world.recipient()
    text = (
        "payer_number,recipient_number,ticket_type,treatment_month,valid_from,valid_to,designated_facility_code,"
        "designated_facility_name,treatment_type,single_or_combined\n"
        f"{PAYER},{r['recipient_number']},01,2024-07,2024-07-01,2024-07-31,{CLINIC},●●医療機関,02,01\n"
    )
    res = fujo("import", "tickets", write(tmp_path, "t.csv", text, "utf-8-sig"), "--office", "13001")
    assert res.exit_code == 0, res.output
    assert "1件を取り込みました" in res.stdout
    listed = fujo("tickets", "--facility", CLINIC, "--month", "2024-07")
    assert r["recipient_number"] in listed.stdout


# --- cards -------------------------------------------------------------------------------------


def issue(fujo, tmp_path, recipient, pin="1111", number=None, link_with=None):
    """``fujo card issue`` with the holder's 個人番号 and 4 情報 (as on the recipient); with
    ``link_with`` (the World) the office then links the recipient to it (初回ひも付け)."""
    out = tmp_path / "cards" / "card.p12"
    number = number or World.individual_number()
    res = fujo(
        "card",
        "issue",
        "--out",
        out,
        "--pin",
        pin,
        "--individual-number",
        number,
        "--name",
        recipient.get("name", "生保一郎"),
        "--birthdate",
        recipient.get("birthdate", "1990-01-15"),
        "--sex",
        recipient.get("sex", "1"),
        "--address",
        recipient.get("address") or "東京都○○市1-2-3",
    )
    if link_with is not None and res.exit_code == 0:
        from fujo.registry.service import link_card

        w = link_with
        link_card(
            w.db,
            CardAuthority.load_or_create(tmp_path / "ca"),
            w.principal("office"),
            payer=PAYER,
            rn=recipient["recipient_number"],
            individual_number=number,
        )
    return res, out


def test_card_issue_writes_a_card_that_checks_valid(fujo, world, tmp_path):
    r = world.recipient()
    world.ticket(r)
    res, out = issue(fujo, tmp_path, r, link_with=world)
    assert res.exit_code == 0, res.output
    assert out.exists() and re.search(r"card [0-9a-f]+ ", res.stdout)
    chk = check_card(fujo, out, "1111")
    assert chk.exit_code == 0, chk.output
    assert "○：この資格は有効です。" in chk.stdout.splitlines()
    assert f"受給者番号：{r['recipient_number']}" in chk.stdout


def test_revoked_card_is_refused_with_the_reason(fujo, world, db, tmp_path):
    r = world.recipient()
    world.ticket(r)
    res, out = issue(fujo, tmp_path, r, link_with=world)
    serial = re.search(r"card ([0-9a-f]+) ", res.stdout).group(1)
    rv = fujo("card", "revoke", serial, "--reason", "紛失届")
    assert rv.exit_code == 0, rv.output
    assert "revoked" in rv.stdout
    chk = check_card(fujo, out, "1111")
    assert chk.exit_code == 2
    assert "失効" in chk.stderr and "revoked" in chk.stderr
    assert "生保一郎" not in chk.stdout


def test_revoking_twice_or_an_unknown_card_is_refused(fujo, world, tmp_path):
    r = world.recipient()
    res, _ = issue(fujo, tmp_path, r)
    serial = re.search(r"card ([0-9a-f]+) ", res.stdout).group(1)
    assert fujo("card", "revoke", serial).exit_code == 0
    again = fujo("card", "revoke", serial)
    assert again.exit_code == 2 and "既に失効" in again.stderr
    unknown = fujo("card", "revoke", "abcdef123")
    assert unknown.exit_code == 2 and "abcdef123" in unknown.stderr


def test_card_issue_with_a_bad_pin_writes_nothing(fujo, world, db, tmp_path):
    r = world.recipient()
    before = snapshot(db)
    res, out = issue(fujo, tmp_path, r, pin="12ab")
    assert res.exit_code == 2
    assert "暗証番号" in res.stderr
    assert not out.exists()
    assert snapshot(db) == before


def test_card_issue_with_a_bad_individual_number_or_missing_4_information_is_refused(fujo, world, db, tmp_path):
    before = snapshot(db)
    bad = World.individual_number()[:-1] + "x"
    res, out = issue(fujo, tmp_path, {"recipient_number": "9999995"}, number=bad)
    assert res.exit_code == 2
    assert "個人番号" in res.stderr and bad not in res.stderr + res.stdout  # the number is never echoed
    wrong = World.individual_number()
    wrong = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
    res, out = issue(fujo, tmp_path, {"recipient_number": "9999995"}, number=wrong)
    assert res.exit_code == 2 and "検証番号" in res.stderr
    res = fujo("card", "issue", "--out", out, "--pin", "1111", "--individual-number", World.individual_number())
    assert res.exit_code == 2 and "氏名" in res.stderr and "住所" in res.stderr
    assert not out.exists()
    assert snapshot(db) == before


# --- organisations -----------------------------------------------------------------------------

NEW_HOSPITAL = "1311111114"  # 1×2+1+1×2+1+1×2+1+1×2+3+1×2 = 16 → 4


def test_org_create_and_token(fujo, db):
    res = fujo(
        "org", "create", "--kind", "facility", "--code", NEW_HOSPITAL, "--name", "◇◇病院", "--phone", "03-1234-5678"
    )
    assert res.exit_code == 0, res.output
    assert NEW_HOSPITAL in res.stdout and "◇◇病院" in res.stdout
    tok = fujo("org", "token", "--kind", "facility", "--code", NEW_HOSPITAL, "--label", "レセコン")
    assert tok.exit_code == 0, tok.output
    token = tok.stdout.strip()
    p = authenticate(db, token)
    assert (p.kind, p.code, p.name) == ("facility", NEW_HOSPITAL, "◇◇病院")


def test_org_create_welfare_office_with_its_payer_numbers(fujo, db):
    payer = "12130027"  # 1213002 → 1×2+2+0×2+3+1×2+2+1×2... = 13 → 7
    res = fujo(
        "org", "create", "--kind", "welfare_office", "--code", "13002", "--name", "△△区福祉事務所", "--payer", payer
    )
    assert res.exit_code == 0, res.output
    assert principal_for(db, kind="welfare_office", code="13002").payer_numbers == frozenset({payer})


@pytest.mark.parametrize(
    "args, field",
    [
        (["--kind", "facility", "--code", "1311111110", "--name", "◇◇病院"], "医療機関コード"),  # check digit
        (["--kind", "facility", "--code", "1321111113", "--name", "◇◇病院"], "医療機関コード"),  # 点数表 2
        (["--kind", "welfare_office", "--code", "13002", "--name", "△△区", "--payer", "12000001"], "公費負担者番号"),
        (["--kind", "welfare_office", "--code", "13002", "--name", "△△区"], "公費負担者番号"),
        (["--kind", "hospital", "--code", "1", "--name", "x"], "種別"),
        (["--kind", "facility", "--code", NEW_HOSPITAL, "--name", " "], "名称"),
    ],
)
def test_org_create_with_bad_input_names_the_field_and_writes_nothing(fujo, db, args, field):
    before = snapshot(db)
    res = fujo("org", "create", *args)
    assert res.exit_code == 2
    assert field in res.stderr
    assert "Traceback" not in res.output
    assert snapshot(db) == before


def test_org_create_twice_is_refused(fujo, db):
    assert fujo("org", "create", "--kind", "facility", "--code", NEW_HOSPITAL, "--name", "◇◇病院").exit_code == 0
    before = snapshot(db)
    res = fujo("org", "create", "--kind", "facility", "--code", NEW_HOSPITAL, "--name", "◇◇病院")
    assert res.exit_code == 2 and "既に登録" in res.stderr
    assert snapshot(db) == before


def test_org_token_for_an_unknown_organisation_is_refused(fujo, db):
    before = snapshot(db)
    res = fujo("org", "token", "--kind", "facility", "--code", NEW_HOSPITAL)
    assert res.exit_code == 2 and NEW_HOSPITAL in res.stderr
    assert snapshot(db) == before


# --- bad input of every kind: exit 2, the field named, nothing written -------------------------


@pytest.mark.parametrize(
    "args, named",
    [
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                OFFICE_PAYER,
                "--recipient",
                ICHIRO,
                "--date",
                "2024-02-30",
                "--birthdate",
                ICHIRO_BIRTH,
            ],
            "資格確認日",
        ),
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                OFFICE_PAYER,
                "--recipient",
                ICHIRO,
                "--date",
                "10/07/2024",
                "--birthdate",
                ICHIRO_BIRTH,
            ],
            "資格確認日",
        ),
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                "12000001",
                "--recipient",
                ICHIRO,
                "--date",
                JULY_10,
                "--birthdate",
                ICHIRO_BIRTH,
            ],
            "公費負担者番号",
        ),
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                OFFICE_PAYER,
                "--recipient",
                "1010001",
                "--date",
                JULY_10,
                "--birthdate",
                ICHIRO_BIRTH,
            ],
            "受給者番号",
        ),
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                OFFICE_PAYER,
                "--recipient",
                ICHIRO,
                "--date",
                JULY_10,
            ],
            "生年月日",
        ),
        (
            [
                "check",
                "ticket",
                "--facility",
                CLINIC,
                "--payer",
                OFFICE_PAYER,
                "--recipient",
                ICHIRO,
                "--date",
                JULY_10,
                "--birthdate",
                "1990-13-01",
            ],
            "生年月日",
        ),
        (["tickets", "--facility", CLINIC, "--month", "2024-13"], "診療年月"),
        (["tickets", "--facility", CLINIC, "--month", "202400"], "診療年月"),
        (["tickets", "--facility", CLINIC, "--month", "2024/07"], "診療年月"),
        (["tickets", "--facility", CLINIC], "--month"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_changes_nothing(fujo, demo, db, args, named):
    before = snapshot(db)
    res = fujo(*args)
    assert res.exit_code == 2, res.output
    assert named in res.stderr
    assert "Traceback" not in res.output
    assert res.stdout == ""
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "args",
    [
        [
            "check",
            "ticket",
            "--payer",
            OFFICE_PAYER,
            "--recipient",
            ICHIRO,
            "--date",
            JULY_10,
            "--facility",
            "1311234560",
        ],
        [
            "check",
            "ticket",
            "--payer",
            OFFICE_PAYER,
            "--recipient",
            ICHIRO,
            "--date",
            JULY_10,
            "--facility",
            "131123456",
        ],
        [
            "check",
            "ticket",
            "--payer",
            OFFICE_PAYER,
            "--recipient",
            ICHIRO,
            "--date",
            JULY_10,
            "--facility",
            "1321234568",
        ],
        ["tickets", "--month", "2024-07", "--facility", "131123456X"],
    ],
    ids=["check-digit", "nine-digits", "score-table-2", "tickets-non-digit"],
)
def test_bad_facility_code_exits_2_naming_the_facility_code(fujo, demo, db, args):
    # 1311234560: wrong 検証番号 (the valid code ends in 9); 1321234568: 点数表 2 does not exist
    before = snapshot(db)
    res = fujo(*args)
    assert res.exit_code == 2, res.output
    assert snapshot(db) == before
    assert "医療機関コード" in res.stderr, res.stderr


def test_a_valid_but_unknown_facility_code_is_refused_by_code(fujo, demo, db):
    unknown = "1311111114"
    before = snapshot(db)
    res = check_ticket(fujo, unknown)
    assert res.exit_code == 2
    assert unknown in res.stderr
    assert snapshot(db) == before
