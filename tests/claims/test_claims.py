"""レセプト資格過誤の事前点検 (issue 15): hand-written UKE files (tests/claims/data, cp932 + CRLF, see
README.md there) checked against the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fujo.claims.service import check_claims, check_office_claims
from fujo.claims.uke import UkeError, gyymm, gyymmdd, read_uke
from fujo.db import schema as s
from fujo.registry.service import amend_ticket, cancel_ticket, update_recipient
from tests.factories import CLINIC, OTHER, PAYER, PAYER2, World

DATA = Path(__file__).parent / "data"
JUNE = dt.date(2024, 6, 10)


def log_count(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(s.check_log)).scalar_one()


def july_world(world: World) -> dict[str, dict]:
    """The recipients of facility_july.uke / office.uke (numbers as written in the files)."""
    r = {}

    def person(key, rn, name, birthdate, sex="1", **kw):
        r[key] = world.recipient(recipient_number=rn, name=name, birthdate=birthdate, sex=sex, **kw)
        return r[key]

    world.ticket(person("A", "1000017", "生保一郎", "1990-01-15"))
    person("B", "1000025", "生保二郎", "1985-03-03")
    world.ticket(person("C", "1000033", "生保三子", "1970-05-05", "2"), on=JUNE)
    world.ticket(person("D", "1000041", "生保四郎", "1960-02-02"))
    office = world.principal("office")
    update_recipient(
        world.db,
        office,
        payer=PAYER,
        rn="1000041",
        changes={
            "disqualification_date": "2024-07-20",
            "disqualification_kind": "2",
            "disqualification_reason": "転出",
        },
    )
    person("E", "1000058", "生保五郎", "1955-06-06", disqualification_date="2024-07-01", disqualification_kind="2")
    f = world.ticket(person("F", "1000066", "生保六子", "1980-08-08", "2"))
    cancel_ticket(world.db, office, key=f["ticket_key"], reason="受診せず")
    g = world.ticket(person("G", "1000074", "生保七郎", "1975-09-09"))
    data = World.ticket_data(r["G"], injury_name1="変形性膝関節症")
    amend_ticket(world.db, office, key=g["ticket_key"], data=data, reason="傷病名の訂正")
    world.ticket(person("K", "1000108", "生保八郎", "1965-10-10"))  # 単独 ticket, 併用 claim
    person("L", "1000116", "生保十子", "1990-12-12", "2")  # the claim says 12月13日
    world.ticket(person("M", "1000124", "セイホ　テス", "1950-11-11", "2"))
    world.ticket(person("N", "1000132", "生保十四子", "2000-01-01", "2"), valid_from="2024-07-10")
    world.ticket(person("P", "1000140", "生保九郎", "2001-02-03"), facility=OTHER)
    return r


def by_line(report: dict) -> dict[int, dict]:
    return {c["line"]: c for c in report["claims"]}


def codes(claim: dict) -> list[str]:
    return [f["code"] for f in claim["findings"]]


def test_the_wareki_fields_of_the_record_specification():
    assert gyymm("50607") == (2024, 7) and gyymm("43101") == (2019, 1) and gyymm("50113") is None
    assert gyymmdd("4020115") == dt.date(1990, 1, 15) and gyymmdd("3640107") == dt.date(1989, 1, 7)
    assert gyymmdd("5060231") is None and gyymm("60607") is None


def test_facility_check_names_every_problem_and_what_to_do(world, db):
    july_world(world)
    before = log_count(db)
    with (DATA / "facility_july.uke").open("rb") as f:
        report = check_claims(db, world.principal("clinic"), source=f)
    assert report["format"] == "uke" and report["months"] == ["202407"]
    assert report["counts"] == {"claims": 16, "assistance": 15, "other": 1, "error": 8, "warning": 5, "ok": 2}
    c = by_line(report)
    assert codes(c[2]) == [] and c[2]["status"] == "ok"  # A: ticket of the month, here
    assert codes(c[7]) == ["not_designated"]  # B: no ticket at all
    assert "に医療券の発行を依頼してください" in c[7]["findings"][0]["message_ja"]
    assert "○○市福祉事務所（03-0000-0000）" in c[7]["findings"][0]["message_ja"]
    assert c[7]["office_name"] == "○○市福祉事務所"
    assert codes(c[11]) == ["outside_validity"] and c[11]["findings"][0]["months"] == ["202406"]  # C: June only
    assert "令和6年6月" in c[11]["findings"][0]["message_ja"]
    assert codes(c[14]) == ["qualification_ends"]  # D: 廃止 on 20 July, 5 days billed
    assert "令和6年7月20日に廃止" in c[14]["findings"][0]["message_ja"]
    assert codes(c[17]) == ["qualification_lost", "not_designated"]  # E: 廃止 before the month
    f = c[20]["findings"][0]  # F: cancelled, with its revision and time
    assert f["code"] == "ticket_cancelled" and f["revision"] == 2 and f["changed_at"]
    assert "取り消されています（第2版）" in f["message_ja"]
    assert codes(c[23]) == ["ticket_amended"] and c[23]["findings"][0]["revision"] == 2  # G
    assert codes(c[26]) == ["check_digit"]  # H: 1000080 (the 検証番号 is 2)
    assert "26行目" not in c[26]["findings"][0]["field"] and c[26]["findings"][0]["field"] == "27行目 KO.受給者番号"
    assert codes(c[28]) == ["payer_unknown"]  # I: 12140018 is nobody's
    assert 30 not in c  # J: 医保単独, not medical assistance
    assert codes(c[33]) == ["single_combined"]  # K: 単独 ticket, claim with HO
    assert codes(c[36]) == ["recipient_unknown"]  # L: birth date differs
    assert codes(c[38]) == [] and c[38]["name"] == "ｾｲﾎ ﾃｽ"  # M: 半角カナ in Shift_JIS, same name
    assert codes(c[41]) == ["partial_validity"]  # N: valid from 10 July, 3 days
    assert codes(c[43]) == ["duplicate"]  # O: A again
    assert codes(c[45]) == ["not_designated"]  # P: another facility's ticket — never said so
    assert "他の医療機関" not in str(c[45]) and OTHER not in str(c[45])
    assert report["by_code"]["not_designated"] == 3
    # the recipients the report revealed something about (11) and the check itself, as 'claims'
    assert log_count(db) - before == 12
    with db.read() as conn:
        methods = set(conn.execute(select(s.check_log.c.method).where(s.check_log.c.method == "claims")).scalars())
    assert methods == {"claims"}


def test_days_beyond_the_validity_are_an_error(world, db):
    r = world.recipient(recipient_number="1000132", name="生保十四子", birthdate="2000-01-01", sex="2")
    world.ticket(r, valid_from="2024-07-29")  # 3 days
    uke = (
        "IR,1,13,1,1234569,,●●医療機関,50608,00,03-0000-0000\r\n"
        "RE,14,1212,50607,生保十四子,2,4120101\r\nKO,12130019,1000132,,5,500\r\nGO,1,500,99\r\n"
    ).encode("cp932")
    report = check_claims(db, world.principal("clinic"), source=[uke])
    (claim,) = report["claims"]
    assert codes(claim) == ["outside_validity"] and "請求できる日は3日" in claim["findings"][0]["message_ja"]


@pytest.mark.parametrize(
    ("name", "field", "code"),
    [
        ("ko_before_re.uke", "2行目 KO", "record_order"),
        ("re_before_ir.uke", "1行目 RE", "record_order"),
        ("truncated.uke", "5行目 GO", "truncated"),
        ("utf8.uke", "1行目 IR.医療機関名称", "encoding"),
        ("not_cp932.uke", "2行目 RE.氏名", "encoding"),
        ("empty.uke", "1行目 ファイル", "empty_file"),
    ],
)
def test_a_broken_file_is_refused_with_its_line_and_field_and_nothing_is_written(world, db, name, field, code):
    before = log_count(db)
    with (DATA / name).open("rb") as f, pytest.raises(UkeError) as e:
        check_claims(db, world.principal("clinic"), source=f)
    (p,) = e.value.problems
    assert (p.field, p.code) == (field, code), p
    assert p.message_ja and "行目" in e.value.message_ja
    assert log_count(db) == before


def test_missing_fields_are_findings_of_their_claim(world, db):
    july_world(world)
    with (DATA / "missing_fields.uke").open("rb") as f:
        report = check_claims(db, world.principal("clinic"), source=f)
    c = by_line(report)
    assert [x["field"] for x in c[2]["findings"]] == ["2行目 RE.男女区分", "2行目 RE.診療年月"]
    assert codes(c[4]) == ["malformed"] and "50613" in c[4]["findings"][0]["message_ja"]
    assert codes(c[6]) == ["number_format"] and c[6]["findings"][0]["field"] == "7行目 KO.受給者番号"
    assert report["counts"]["error"] == 3


def test_a_wrong_facility_and_a_wrong_caller_are_refused(world, db, client):
    from fujo.core.errors import Forbidden, ValidationFailed

    with (DATA / "facility_july.uke").open("rb") as f, pytest.raises(ValidationFailed) as e:
        check_claims(db, world.principal("other"), source=f)
    assert e.value.problems[0].field == "IR.医療機関コード"
    with (DATA / "facility_july.uke").open("rb") as f, pytest.raises(Forbidden):
        check_claims(db, world.principal("office"), source=f)


def test_the_api_answers_json_and_csv_and_422_for_a_broken_file(client, world, db):
    july_world(world)
    data = (DATA / "facility_july.uke").read_bytes()
    res = client.post(
        "/api/v1/claims/check", headers=world.auth("clinic"), files={"file": ("RECEIPTC.UKE", data, "text/plain")}
    )
    assert res.status_code == 200, res.text
    assert res.json()["counts"]["error"] == 8
    res = client.post(
        "/api/v1/claims/check",
        headers=world.auth("clinic"),
        params={"format": "csv"},
        files={"file": ("RECEIPTC.UKE", data, "text/plain")},
    )
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    lines = res.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("行,レセプト番号,医療機関コード,診療年月")
    assert any("未委託" in x and "要修正" in x for x in lines)
    res = client.post(
        "/api/v1/claims/check",
        headers=world.auth("clinic"),
        files={"file": ("x.uke", (DATA / "ko_before_re.uke").read_bytes(), "text/plain")},
    )
    assert res.status_code == 422
    assert res.json()["error"]["fields"][0]["field"] == "2行目 KO"


def test_the_simple_csv(world, db, client):
    july_world(world)
    text = (
        "診療年月,公費負担者番号,受給者番号,氏名,生年月日,実日数\r\n"
        "2024-07,12130019,1000017,生保一郎,1990-01-15,3\r\n"
        "令和6年7月,12130019,1000025,生保二郎,昭和60年3月3日,1\r\n"
        "50607,12130019,1000026,生保二郎,1985-03-03,1\r\n"
        "2024-13,12130019,1000017,生保一郎,1990-01-15,1\r\n"
    )
    for enc in ("utf-8-sig", "cp932"):
        res = client.post(
            "/api/v1/claims/check",
            headers=world.auth("clinic"),
            files={"file": ("claims.csv", text.encode(enc), "text/csv")},
        )
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["format"] == "csv"
        assert [codes(c) for c in body["claims"]] == [[], ["not_designated"], ["check_digit"], ["malformed"]]
    res = client.post(
        "/api/v1/claims/check",
        headers=world.auth("clinic"),
        files={"file": ("c.csv", "診療年月,公費負担者番号,氏名\r\n".encode(), "text/csv")},
    )
    assert res.status_code == 422 and "受給者番号・生年月日" in res.json()["error"]["message_ja"]
    # a lone CR inside an unquoted value (found by the fuzz test: it was a 500)
    broken = "診療年月,公費負担者番号,受給者番号,氏名,生年月日\r\n2024-07,12130019,1000017,生保\r一郎,1990-01-15\r\n"
    res = client.post(
        "/api/v1/claims/check", headers=world.auth("clinic"), files={"file": ("c.csv", broken.encode(), "text/csv")}
    )
    assert res.status_code == 422, res.text
    err = res.json()["error"]
    assert err["fields"][0]["field"] == "2行目 CSV" and err["fields"][0]["code"] == "csv"
    assert "CSVとして読めない行です" in err["fields"][0]["message_ja"]


def test_office_check_finds_claims_without_ticket_and_tickets_never_billed(world, db, client):
    r = july_world(world)
    world.ticket(r["B"], facility=OTHER)  # B's ticket designates ▲▲, but ●● billed
    res = client.post(
        "/api/v1/claims/office-check",
        headers=world.auth("office"),
        files={"file": ("office.uke", (DATA / "office.uke").read_bytes(), "text/plain")},
    )
    assert res.status_code == 200, res.text
    body = res.json()
    c = {(x["facility_code"], x["line"]): x for x in body["claims"]}
    assert codes(c[(CLINIC, 2)]) == []  # A at ●●: its ticket
    assert codes(c[(CLINIC, 4)]) == ["other_facility"]  # B: the ticket names ▲▲
    assert codes(c[(CLINIC, 6)]) == ["other_office"]  # 12270013 is □□市's
    assert codes(c[(OTHER, 10)]) == []  # P at ▲▲: its ticket
    assert codes(c[(OTHER, 12)]) == ["ticket_cancelled"]  # F: cancelled (its ticket was ●●'s)
    unbilled = {(u["recipient_number"], u["designated_facility_code"]) for u in body["unbilled"]}
    # July tickets in force never billed: D, G, K, M, N at ●●, and B's at ▲▲
    assert unbilled == {
        ("1000041", CLINIC),
        ("1000074", CLINIC),
        ("1000108", CLINIC),
        ("1000124", CLINIC),
        ("1000132", CLINIC),
        ("1000025", OTHER),
    }
    assert body["counts"]["unbilled"] == 6
    assert (
        client.post(
            "/api/v1/claims/office-check",
            headers=world.auth("clinic"),
            files={"file": ("office.uke", (DATA / "office.uke").read_bytes(), "text/plain")},
        ).status_code
        == 403
    )
    assert PAYER2 not in {u["payer_number"] for u in body["unbilled"]}


def test_office_check_is_offered_to_offices_only(world, db):
    from fujo.core.errors import Forbidden

    with (DATA / "office.uke").open("rb") as f, pytest.raises(Forbidden):
        check_office_claims(db, world.principal("clinic"), source=f)


def test_the_reader_is_streaming():
    """Claims are yielded as their block ends: the first comes before the rest of the file is read."""
    read = []

    def lines():
        for line in (DATA / "facility_july.uke").read_bytes().splitlines(keepends=True):
            read.append(line)
            yield line

    first = next(read_uke(lines()))
    assert first.line == 2 and len(read) == 7  # IR, RE and its 4 records, and the next RE


def test_a_generated_month_of_claims(world, db):
    """A generated month of 2,000 claims (tests/claims/generate.py; four lookup batches): the report's
    counts. The 10,000-claim figure is a benchmark (docs/PERFORMANCE.md), not a test's business."""
    from fujo.registry.csv_import import import_csv
    from tests.claims.generate import EXPECTED, registry_csv, uke_lines

    n = 2_000
    recipients, tickets = registry_csv(n)
    office = world.principal("office")
    import_csv(db, office, "recipients", recipients)
    import_csv(db, office, "tickets", tickets)
    before = log_count(db)
    report = check_claims(db, world.principal("clinic"), source=uke_lines(n))
    assert report["counts"] == {
        "claims": n,
        "assistance": n,
        "other": 0,
        "error": n // 10 * 3,
        "warning": 0,
        "ok": n // 10 * EXPECTED["ok"],
    }
    assert report["by_code"] == {k: n // 10 * v for k, v in EXPECTED.items() if k != "ok"}
    assert log_count(db) - before == 1 + n // 10 * 9  # the check, and each recipient found (not the wrong numbers)


def test_answers_validate_against_the_published_schema(client, world, db):
    from tests.api.test_openapi_contracts import Contract

    contract = Contract(client)
    r = july_world(world)
    world.ticket(r["B"], facility=OTHER)
    for path, who, name in (
        ("/claims/check", "clinic", "facility_july.uke"),
        ("/claims/office-check", "office", "office.uke"),
    ):
        files = {"file": (name, (DATA / name).read_bytes(), "text/plain")}
        contract.call("POST", path, expect=200, headers=world.auth(who), files=files)
    files = {"file": ("x.uke", (DATA / "truncated.uke").read_bytes(), "text/plain")}
    contract.call("POST", "/claims/check", expect=422, headers=world.auth("clinic"), files=files)
