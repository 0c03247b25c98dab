"""レセプト資格過誤の事前点検 (issue 15): hand-written UKE files (tests/claims/data, cp932 + CRLF, see
README.md there) checked against the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fujo.claims.service import check_claims, check_office_claims
from fujo.claims.uke import UkeError, gyymm, gyymmdd, read_uke
from fujo.core.dates import JST
from fujo.core.errors import ValidationFailed
from fujo.db import schema as s
from fujo.registry.service import amend_ticket, cancel_ticket, update_recipient
from tests.factories import CLINIC, OTHER, PAYER, PAYER2, PHARMACY, World

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


CSV_COLUMNS = [  # docs/API.md: the report as CSV, one row per finding
    "行",
    "レセプト番号",
    "医療機関コード",
    "診療年月",
    "公費負担者番号",
    "受給者番号",
    "氏名",
    "判定",
    "コード",
    "内容",
    "医療券の版",
    "変更日時",
]
JUDGED = {"error": "要修正", "warning": "要確認", "info": "参考", "ok": "問題なし"}


def assert_csv_is_the_report(text: str, report: dict, *, bom: bool = True) -> list[dict[str, str]]:
    """Read the CSV as a spreadsheet would (csv.DictReader) and compare it with the JSON report it was
    made from: the columns, and one row per finding (one for a claim without any) in the report's
    order, then the office's tickets never billed. The rows, for further assertions."""
    assert text.startswith("\ufeff") is bom
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows, text[:200]
    assert list(rows[0]) == CSV_COLUMNS
    expected = []
    for c in report["claims"]:
        lead = {
            "行": str(c["line"]),
            "レセプト番号": c["receipt_number"] or "",
            "医療機関コード": c["facility_code"] or "",
            "診療年月": c["treatment_month"] or "",
            "公費負担者番号": c["payer_number"] or "",
            "受給者番号": c["recipient_number"] or "",
            "氏名": c["name"],
        }
        for f in c["findings"] or [None]:
            expected.append(
                lead
                | {
                    "判定": JUDGED[f["severity"] if f else "ok"],
                    "コード": f["code"] if f else "",
                    "内容": f["message_ja"] if f else "",
                    "医療券の版": str(f.get("revision", "")) if f else "",
                    "変更日時": f.get("changed_at", "") if f else "",
                }
            )
    for u in report.get("unbilled", []):
        expected.append(
            {
                "行": "",
                "レセプト番号": "",
                "医療機関コード": u["designated_facility_code"],
                "診療年月": u["treatment_month"],
                "公費負担者番号": u["payer_number"],
                "受給者番号": u["recipient_number"],
                "氏名": u["name"],
                "判定": "未請求",
                "コード": "unbilled",
                "内容": u["message_ja"],
                "医療券の版": str(u["revision"]),
                "変更日時": "",
            }
        )
    assert rows == expected
    return rows


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
    assert report["written_at"] is None
    assert report["counts"] == {"claims": 16, "assistance": 15, "other": 1, "error": 8, "warning": 4, "ok": 3}
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
    # G: amended, but when the claims were written is not said: for reference only, the claim is ok
    assert codes(c[23]) == ["ticket_revised"] and c[23]["status"] == "ok"
    g = c[23]["findings"][0]
    assert g["severity"] == "info" and g["revision"] == 2 and "since_written" not in g
    assert g["message_ja"].startswith("医療券は令和") and "に変更されています（第2版）。" in g["message_ja"]
    assert "作成日時を指定すると、作成後の変更を「要確認」として表示します" in g["message_ja"]
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
    report = res.json()
    assert report["counts"]["error"] == 8
    res = client.post(
        "/api/v1/claims/check",
        headers=world.auth("clinic"),
        params={"format": "csv"},
        files={"file": ("RECEIPTC.UKE", data, "text/plain")},
    )
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    assert "\r\n" in res.text  # CRLF, for Excel
    rows = assert_csv_is_the_report(res.text, report)
    # one row per finding (E has two), one for each claim without any: 15 claims, 16 rows
    assert len(rows) == 16 and [r["コード"] for r in rows if r["行"] == "17"] == [
        "qualification_lost",
        "not_designated",
    ]
    b = next(r for r in rows if r["行"] == "7")
    assert (b["判定"], b["コード"], b["受給者番号"]) == ("要修正", "not_designated", "1000025")
    assert b["内容"].endswith("（未委託）。○○市福祉事務所（03-0000-0000）に医療券の発行を依頼してください。")
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
    # since_written, written_revision, changed_fields and the info severity are published too
    more_world(world)
    files = {"file": ("more.uke", (DATA / "facility_more.uke").read_bytes(), "text/plain")}
    res = contract.call(
        "POST", "/claims/check", expect=200, headers=world.auth("clinic"), files=files, params={"written_at": "R6.8.5"}
    )
    assert {"ticket_amended", "ticket_revised", "ticket_moved"} <= set(res.json()["by_code"])
    files = {"file": ("x.uke", (DATA / "truncated.uke").read_bytes(), "text/plain")}
    contract.call("POST", "/claims/check", expect=422, headers=world.auth("clinic"), files=files)


# --- more findings, and tickets cancelled or amended since the claims were written ------------------

REGISTERED = dt.datetime(2024, 7, 1, 9, 0, tzinfo=JST)  # when the July tickets were issued
BEFORE = dt.datetime(2024, 8, 1, 10, 0, tzinfo=JST)  # a change before the claims were written (5 August)
AFTER = dt.datetime(2024, 8, 6, 15, 0, tzinfo=JST)  # … and one after
CALL = "○○市福祉事務所（03-0000-0000）"


@contextlib.contextmanager
def clock(db, when: dt.datetime):
    """The registry writes as if it were ``when`` (its changes' ``changed_at``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(db, "now", lambda: when)
        yield


def more_world(world: World) -> dict[str, dict]:
    """The recipients of facility_more.uke / office_more.uke (see data/README.md): tickets issued on
    1 July, then amended, cancelled or moved to ▲▲ on 1 August (BEFORE) or 6 August (AFTER)."""
    db, office = world.db, world.principal("office")
    r: dict[str, dict] = {}
    t: dict[str, dict] = {}

    def person(key, rn, name, birthdate, sex="1", ticket=True, **kw):
        r[key] = world.recipient(recipient_number=rn, name=name, birthdate=birthdate, sex=sex, **kw)
        if ticket:
            t[key] = world.ticket(r[key])

    def amend(key, when, **changes):
        data = World.ticket_data(r[key], issue_number=t[key]["issue_number"], **changes)
        with clock(db, when):
            amend_ticket(db, office, key=t[key]["ticket_key"], data=data, reason="訂正")

    def cancel(key, when):
        with clock(db, when):
            cancel_ticket(db, office, key=t[key]["ticket_key"], reason="受診せず")

    with clock(db, REGISTERED):
        person("Q", "1000157", "生保十五郎", "1993-01-15")
        person("R", "1000165", "生保十六子", "1994-02-16", "2")
        person("T", "1000181", "生保十八郎", "1996-04-18", ticket=False, qualification_date="2024-08-01")
        person("V", "1000207", "生保二十郎", "1998-06-20")
        person("W", "1000215", "生保二十一子", "1999-07-21", "2")
        person("X", "1000223", "生保二十二郎", "2000-08-22")
        person("Y", "1000231", "生保二十三子", "2001-09-23", "2")
        person("Z", "1000249", "生保二十四郎", "2002-10-24")
        person("AA", "1000256", "生保二十五子", "2003-11-25", "2", ticket=False)
    amend("Q", AFTER, designated_facility_code=OTHER)
    amend("Z", BEFORE, designated_facility_code=OTHER)
    amend("V", AFTER, injury_name1="気管支炎")
    amend("W", BEFORE, injury_name1="気管支炎")
    cancel("X", AFTER)
    cancel("Y", BEFORE)
    return r


def _check_more(world, db, written_at=None) -> dict[int, dict]:
    more_world(world)
    with (DATA / "facility_more.uke").open("rb") as f:
        return by_line(check_claims(db, world.principal("clinic"), source=f, written_at=written_at))


def test_each_finding_of_the_more_file_as_the_user_reads_it(world, db):
    """ticket_moved, name_mismatch, ko_missing, 保護 not yet started and a wrong 検証番号 of the
    公費負担者番号, each with its message; when the claims were written is not said."""
    c = _check_more(world, db)
    (moved,) = c[2]["findings"]  # Q: the ticket now designates ▲▲ — where to is never said
    assert moved["code"] == "ticket_moved" and moved["severity"] == "error" and c[2]["status"] == "error"
    assert moved["message_ja"] == (
        f"令和6年7月の医療券は令和6年8月6日 15:00に変更され、この医療機関への委託ではなくなりました（第2版）。{CALL}に確認してください。"
    )
    assert moved["revision"] == 2 and moved["changed_at"] == AFTER.isoformat() and "since_written" not in moved
    assert OTHER not in str(c[2]) and "▲▲" not in str(c[2])
    assert c[4]["findings"] == [  # R: 生保十六江 billed, 生保十六子 registered
        {
            "code": "name_mismatch",
            "severity": "warning",
            "message_ja": "氏名が福祉事務所の登録と一致しません。医療券の氏名と照合してください。",
            "message_en": "The name differs from the registered one.",
        }
    ]
    assert c[4]["status"] == "warning"
    (ko,) = c[6]["findings"]  # S: 公費単独 (1212) without any KO record
    assert (ko["code"], ko["field"]) == ("ko_missing", "6行目 KO")
    assert ko["message_ja"] == (
        "6行目: 公費単独のレセプトに公費レコード（KO）がありません。公費負担者番号と受給者番号を記録してください。"
    )
    assert c[6]["payer_number"] is None and c[6]["status"] == "error"
    assert codes(c[8]) == ["qualification_lost", "not_designated"]  # T: 保護 starts on 1 August
    lost = c[8]["findings"][0]
    assert lost["message_ja"] == (
        f"保護の開始は令和6年8月1日です。令和6年7月の診療は医療扶助で請求できません。{CALL}に確認してください。"
    )
    assert lost["date"] == "2024-08-01"
    (digit,) = c[10]["findings"]  # U: 12130012 (the 検証番号 of 1213001 is 9)
    assert (digit["code"], digit["field"]) == ("check_digit", "11行目 KO.公費負担者番号")
    assert digit["message_ja"] == (
        "11行目 KO.公費負担者番号: 公費負担者番号の検証番号が正しくありません。医療券に記載の番号と照合して修正してください。"
    )
    # without the time the claims were written: amendments for reference, cancellations and moves plainly
    assert [(f["code"], f["severity"]) for f in c[12]["findings"]] == [("ticket_revised", "info")]
    assert c[12]["status"] == "ok" and c[14]["status"] == "ok"
    assert codes(c[16]) == ["ticket_cancelled"] and "since_written" not in c[16]["findings"][0]
    assert c[16]["findings"][0]["message_ja"].startswith(
        "令和6年7月の医療券は令和6年8月6日 15:00に取り消されています（第2版）。"
    )


@pytest.mark.parametrize(
    ("written_at", "shown", "after"),
    [
        ("2024-08-05", "令和6年8月5日 00:00", {"Q", "V", "X"}),  # a date: its 0:00 JST
        ("R6.8.5 12:30", "令和6年8月5日 12:30", {"Q", "V", "X"}),
        ("2024-08-06T15:00:00+09:00", "令和6年8月6日 15:00", set()),  # a change at that very time is not after it
        ("2024-08-01T00:59:59Z", "令和6年8月1日 09:59", {"Q", "V", "X", "W", "Y", "Z"}),
    ],
)
def test_cancelled_moved_or_amended_since_the_claims_were_written(world, db, written_at, shown, after):
    c = _check_more(world, db, written_at)
    line = {"Q": 2, "V": 12, "W": 14, "X": 16, "Y": 18, "Z": 20}
    # the amended tickets (V on 6 August, W on 1 August): a warning only when amended after
    for key in ("V", "W"):
        (f,) = c[line[key]]["findings"]
        assert f["since_written"] is (key in after)
        assert (f["code"], f["severity"]) == (
            ("ticket_amended", "warning") if key in after else ("ticket_revised", "info")
        )
        assert c[line[key]]["status"] == ("warning" if key in after else "ok")
    # cancelled (X, Y) and moved (Q, Z): errors either way, said against the time
    for key, code in (
        ("X", "ticket_cancelled"),
        ("Y", "ticket_cancelled"),
        ("Q", "ticket_moved"),
        ("Z", "ticket_moved"),
    ):
        (f,) = c[line[key]]["findings"]
        assert (f["code"], f["severity"], f["since_written"]) == (code, "error", key in after)
        word = "の後、" if key in after else "より前の"
        assert f"レセプトの作成（{shown}）{word}" in f["message_ja"]
    if written_at == "2024-08-05":  # the whole messages, once
        v = c[12]["findings"][0]
        assert v["message_ja"] == (
            "医療券はレセプトの作成（令和6年8月5日 00:00）の後、令和6年8月6日 15:00に変更されています"
            "（第1版→第2版、変更された項目: 傷病名1）。委託先一括取得で最新の内容を取り込み、レセプトを確認・修正してください。"
        )
        assert (v["written_revision"], v["changed_fields"], v["revision"]) == (1, ["傷病名1"], 2)
        assert c[14]["findings"][0]["message_ja"] == (
            "医療券の変更（第2版、令和6年8月1日 10:00）はレセプトの作成（令和6年8月5日 00:00）より前です。"
            "レセプトがこの版の内容で作成されていれば対応は不要です。"
        )
        assert c[16]["findings"][0]["message_ja"] == (
            "令和6年7月の医療券はレセプトの作成（令和6年8月5日 00:00）の後、令和6年8月6日 15:00に取り消されています"
            f"（第2版）。この医療券では請求できません。{CALL}に確認してください。"
        )
        assert c[18]["findings"][0]["message_ja"] == (
            "令和6年7月の医療券はレセプトの作成（令和6年8月5日 00:00）より前の令和6年8月1日 10:00に取り消されています"
            f"（第2版）。この医療券では請求できません。{CALL}に確認してください。"
        )


def test_a_ticket_registered_and_amended_after_the_claims_were_written(world, db):
    """No revision existed when the claim was written: the amendment is still after it (written_revision null)."""
    office = world.principal("office")
    r = world.recipient(recipient_number="1000272", name="後日登録", birthdate="1990-01-15")
    with clock(db, AFTER - dt.timedelta(hours=1)):
        t = world.ticket(r)
    with clock(db, AFTER):
        data = World.ticket_data(r, issue_number=t["issue_number"], valid_to="2024-07-20")
        amend_ticket(db, office, key=t["ticket_key"], data=data, reason="訂正")
    uke = (
        "IR,1,13,1,1234569,,●●医療機関,50608,00,03-0000-0000\r\n"
        "RE,1,1212,50607,後日登録,1,4020115\r\nKO,12130019,1000272,,1,291\r\nGO,1,291,99\r\n"
    ).encode("cp932")
    (c,) = check_claims(db, world.principal("clinic"), source=[uke], written_at="2024-08-05")["claims"]
    assert codes(c) == ["partial_validity", "ticket_amended"]
    f = c["findings"][1]
    assert (f["written_revision"], f["changed_fields"], f["since_written"]) == (None, ["有効終了年月日"], True)
    assert f["message_ja"].startswith(
        "医療券はレセプトの作成（令和6年8月5日 00:00）の後に登録され、令和6年8月6日 15:00に変更されています"
        "（第2版、変更された項目: 有効終了年月日）。"
    )


def test_office_check_no_ticket_unknown_recipients_and_cancelled_since(world, db):
    more_world(world)
    with (DATA / "office_more.uke").open("rb") as f:
        report = check_office_claims(db, world.principal("office"), source=f, written_at="令和6年8月5日")
    assert report["written_at"] == "2024-08-05T00:00:00+09:00"
    c = by_line(report)
    (f,) = c[2]["findings"]  # AA: registered, no ticket this month
    assert (f["code"], f["severity"]) == ("no_ticket", "error")
    assert f["message_ja"] == (
        f"医療機関{CLINIC}の令和6年7月の医療券がありません。委託の有無を確認し、必要なら医療券を発行してください。"
    )
    (f,) = c[4]["findings"]  # 1000264: nobody's number
    assert (f["code"], f["message_ja"]) == (
        "recipient_unknown",
        "受給者番号1000264は登録されていません。医療機関に番号を確認してください。",
    )
    (f,) = c[6]["findings"]  # R: 1994-02-17 billed, 1994-02-16 registered (the ticket is there)
    assert (f["code"], f["message_ja"]) == (
        "recipient_unknown",
        "生年月日が受給者の登録と一致しません。医療機関に確認してください。",
    )
    x, y = c[8]["findings"][0], c[10]["findings"][0]
    assert (x["code"], x["since_written"], y["code"], y["since_written"]) == (
        "ticket_cancelled",
        True,
        "ticket_cancelled",
        False,
    )
    assert x["message_ja"] == (
        "令和6年7月の医療券（●●医療機関）はレセプトの作成（令和6年8月5日 00:00）の後、令和6年8月6日 15:00に"
        "取り消されています（第2版）。請求を返戻するか、必要なら医療券を発行してください。"
    )


def test_written_at_is_read_like_every_date_entry():
    from fujo.claims.service import parse_written_at

    day = dt.datetime(2024, 8, 5, tzinfo=JST)
    for text in ("2024-08-05", "20240805", "R6.8.5", "令和6年8月5日", "令和６年８月５日", " R06.08.05 "):
        assert parse_written_at(text) == day, text
    assert parse_written_at("令和6年8月5日 10:30") == day.replace(hour=10, minute=30)
    assert parse_written_at("2024-08-05 10:30:15") == day.replace(hour=10, minute=30, second=15)
    assert parse_written_at("2024-08-05T10:30") == day.replace(hour=10, minute=30)  # JST when no offset
    assert parse_written_at("2024-08-05T01:30Z") == day.replace(hour=10, minute=30)
    assert parse_written_at(dt.date(2024, 8, 5)) == day and parse_written_at(None) is None
    assert parse_written_at("") is None
    for text, code in (
        ("2024-13-01", "invalid_date"),
        ("2024-02-30", "invalid_date"),
        ("平成31年5月1日", "outside_era"),
        ("2024-08-05 25:00", "invalid_time"),
        ("2024-08-05T10:30+25:00", "datetime_format"),
        ("先週", "datetime_format"),
        ("2999-01-01", "future"),
    ):
        with pytest.raises(ValidationFailed) as e:
            parse_written_at(text, field="--written-at", label_ja="--written-at（レセプトの作成日時）")
        (p,) = e.value.problems
        assert (p.field, p.code) == ("--written-at", code), (text, p)
        assert "--written-at（レセプトの作成日時）" in p.message_ja


@given(st.text(max_size=40) | st.from_regex(r"[0-9RrHh令和平成年月日.:T /+Z-]{1,30}", fullmatch=True))
@settings(max_examples=300)
def test_whatever_is_typed_as_written_at_is_read_or_named(text):
    """Never another exception (a 500 of the API, a traceback of the CLI): a time, nothing, or a refusal."""
    from fujo.claims.service import parse_written_at

    try:
        when = parse_written_at(text)
    except ValidationFailed as e:
        assert [p.field for p in e.problems] == ["written_at"] and e.problems[0].message_ja
    else:
        assert when is None or when.tzinfo is not None


def test_the_api_takes_written_at_and_names_it_when_wrong(client, world, db):
    more_world(world)
    files = {"file": ("RECEIPTC.UKE", (DATA / "facility_more.uke").read_bytes(), "text/plain")}
    res = client.post(
        "/api/v1/claims/check", headers=world.auth("clinic"), params={"written_at": "R6.8.5"}, files=files
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["written_at"] == "2024-08-05T00:00:00+09:00"
    assert body["by_code"]["ticket_amended"] == 1 and body["by_code"]["ticket_revised"] == 1
    before = log_count(db)
    res = client.post(
        "/api/v1/claims/check", headers=world.auth("clinic"), params={"written_at": "令和6年8月32日"}, files=files
    )
    assert res.status_code == 422
    (p,) = res.json()["error"]["fields"]
    assert p["field"] == "written_at" and p["code"] == "invalid_date" and "レセプトの作成日時" in p["message_ja"]
    assert log_count(db) == before  # nothing checked, nothing recorded


def test_a_pharmacy_file_opens_with_yk(world, db):
    """調剤: the file opens with YK 薬局情報; the 薬局コード is read from the fifth field whether or not a
    予備 field follows it (public writers differ), and a wrong one is named as the 薬局コード."""
    r = world.recipient(name="調剤一郎")
    world.ticket(r, facility=PHARMACY)  # a 調剤券 designating ■■薬局
    claim = (
        f"RE,1,4212,50607,調剤一郎,1,4020115,,,,,,,0001,,,,,,,,,,\r\nKO,{PAYER},{r['recipient_number']},,1,120,,,,,,\r\n"
        "GO,1,120,99\r\n"
    )
    for spare in (",", ""):
        yk = f"YK,1,13,4,{PHARMACY[3:]},{spare}■■薬局,50608,00,03-2222-2222\r\n"
        report = check_claims(db, world.principal("pharmacy"), source=[(yk + claim).encode("cp932")])
        (c,) = report["claims"]
        assert (c["facility_code"], c["status"], c["findings"]) == (PHARMACY, "ok", []), spare
    with pytest.raises(UkeError) as e:
        check_claims(db, world.principal("pharmacy"), source=[f"YK,1,13,4,12345,,■■薬局\r\n{claim}".encode("cp932")])
    (p,) = e.value.problems
    assert (p.field, p.message_ja) == ("1行目 YK.薬局コード", "薬局コードは7桁の数字です（12345）。")
