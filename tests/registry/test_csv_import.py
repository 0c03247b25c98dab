"""CSV import of recipients, tickets and insurance qualifications: all or nothing per file, with a report
that names the row and the field of every problem. Runs on SQLite and PostgreSQL (``db``/``world``)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from fujo.core.errors import ValidationFailed
from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.registry.csv_import import ImportFailed, import_csv
from tests.factories import CLINIC, INSURER_NO, PAYER, PAYER2, PHARMACY
from tests.helpers import snapshot

RECIPIENT_HEADER = (
    "payer_number,recipient_number,name,name_kana,sex,birthdate,address,post_number,"
    "qualification_date,disqualification_date,disqualification_kind"
)
TICKET_HEADER = (
    "payer_number,recipient_number,ticket_type,treatment_month,valid_from,valid_to,"
    "designated_facility_code,designated_facility_name,treatment_type,single_or_combined,"
    "injury_name1,issue_number"
)
INSURANCE_HEADER = (
    "insurer_number,insurer_name,insured_card_classification,card_symbol,card_number,branch_number,"
    "name,name_kana,sex,birthdate,qualification_date"
)

RN = [with_check_digit(str(200000 + i)) for i in range(10)]


def recipient_line(
    rn,
    payer=PAYER,
    name="生保一郎",
    kana="ｾｲﾎ ｲﾁﾛｳ",
    sex="1",
    birth="1990-01-15",
    address="東京都○○市1-2-3",
    post="100-0001",
    start="2020-04-01",
    end="",
    reason="",
):
    return ",".join([payer, rn, name, kana, sex, birth, address, post, start, end, reason])


_issue = itertools.count(1)


def ticket_line(
    rn,
    payer=PAYER,
    ttype="01",
    month="2024-07",
    vf="2024-07-01",
    vt="2024-07-31",
    fac=CLINIC,
    fac_name="●●医療機関",
    treat="02",
    single="01",
    injury="高血圧症",
    issue=None,
):
    issue = str(next(_issue)) if issue is None else issue
    return ",".join([payer, rn, ttype, month, vf, vt, fac, fac_name, treat, single, injury, issue])


def csv_bytes(header, lines, encoding="utf-8"):
    return ("\r\n".join([header, *lines]) + "\r\n").encode(encoding)


def recipients_in_db(db):
    with db.read() as c:
        return {(r.payer_number, r.recipient_number): r for r in c.execute(select(s.recipients))}


def tickets_in_db(db):
    with db.read() as c:
        return c.execute(select(s.tickets).order_by(s.tickets.c.seq)).all()


def errors_of(exc_info):
    return [(e.row, e.field) for e in exc_info.value.report.errors]


# --- success -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_recipients_import_in_every_supported_encoding(world, encoding):
    data = csv_bytes(
        RECIPIENT_HEADER,
        [recipient_line(RN[0]), recipient_line(RN[1], name="扶助花子", kana="ﾌｼﾞｮ ﾊﾅｺ", sex="2")],
        encoding,
    )
    report = import_csv(world.db, world.principal("office"), "recipients", data)
    assert (report.rows, report.written, report.errors) == (2, 2, [])
    got = recipients_in_db(world.db)
    assert set(got) == {(PAYER, RN[0]), (PAYER, RN[1])}
    hanako = got[(PAYER, RN[1])]
    assert (hanako.name, hanako.name_kana, hanako.sex, hanako.address) == (
        "扶助花子",
        "ﾌｼﾞｮ ﾊﾅｺ",
        "2",
        "東京都○○市1-2-3",
    )
    assert hanako.birthdate.isoformat() == "1990-01-15"


def test_recipients_import_normalises_like_the_api(world):
    # full-width katakana becomes half-width, postal code without hyphen gets one, wire-form dates are read
    data = csv_bytes(
        RECIPIENT_HEADER, [recipient_line(RN[0], kana="セイホ　イチロウ", post="1000001", birth="19900115")]
    )
    import_csv(world.db, world.principal("office"), "recipients", data)
    r = recipients_in_db(world.db)[(PAYER, RN[0])]
    assert (r.name_kana, r.post_number, r.birthdate.isoformat()) == ("ｾｲﾎ ｲﾁﾛｳ", "100-0001", "1990-01-15")


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out(world):
    data = csv_bytes(
        "qualification_date,birthdate,sex,name_kana,name,recipient_number,payer_number",
        [f"2020-04-01,1990-01-15,1,ｾｲﾎ ｲﾁﾛｳ,生保一郎,{RN[0]},{PAYER}"],
    )
    assert import_csv(world.db, world.principal("office"), "recipients", data).written == 1


def test_blank_lines_are_skipped(world):
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(RN[0]), "", ",,,,,,,,,,", recipient_line(RN[1])])
    assert import_csv(world.db, world.principal("office"), "recipients", data).written == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_tickets_import(world, encoding):
    r1, r2 = world.recipient(), world.recipient()
    data = csv_bytes(
        TICKET_HEADER,
        [
            ticket_line(r1["recipient_number"]),
            ticket_line(r2["recipient_number"], ttype="02", fac=PHARMACY, fac_name="■■薬局", treat="04", injury=""),
        ],
        encoding,
    )
    report = import_csv(world.db, world.principal("office"), "tickets", data)
    assert (report.rows, report.written) == (2, 2)
    rows = tickets_in_db(world.db)
    assert [
        (t.ticket_type, t.treatment_month, t.designated_facility_code, t.designated_facility_name) for t in rows
    ] == [("01", "202407", CLINIC, "●●医療機関"), ("02", "202407", PHARMACY, "■■薬局")]
    assert all(t.status == "active" for t in rows)
    assert len({t.seq for t in rows}) == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_insurance_import(world, encoding):
    data = csv_bytes(
        INSURANCE_HEADER,
        [
            f"{INSURER_NO},○○健康保険組合,01,12-34,5678,01,生保一郎,ｾｲﾎ ｲﾁﾛｳ,1,1990-01-15,2019-04-01",
            f"{INSURER_NO},○○健康保険組合,01,12-34,5679,,扶助花子,ﾌｼﾞｮ ﾊﾅｺ,2,1985-04-02,2019-04-01",
        ],
        encoding,
    )
    report = import_csv(world.db, world.principal("insurer"), "insurance", data)
    assert report.written == 2
    with world.db.read() as c:
        got = c.execute(
            select(s.insurance_qualifications.c.card_number, s.insurance_qualifications.c.name).order_by(
                s.insurance_qualifications.c.card_number
            )
        ).all()
    assert [tuple(x) for x in got] == [("5678", "生保一郎"), ("5679", "扶助花子")]


def test_progress_is_reported_as_done_and_total_ending_with_all_done(world):
    calls = []
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(rn) for rn in RN[:5]])
    import_csv(world.db, world.principal("office"), "recipients", data, progress=lambda d, t: calls.append((d, t)))
    assert calls, "progress was never reported"
    assert calls[-1] == (5, 5)
    assert all(t == 5 and 1 <= d <= 5 for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# --- all or nothing ----------------------------------------------------------------------------


def test_one_bad_row_among_good_ones_writes_nothing_and_names_row_and_field(world):
    before = snapshot(world.db)
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(RN[0]), recipient_line(RN[1], sex="9"), recipient_line(RN[2])])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert errors_of(e) == [(3, "sex")]  # header is line 1, so the second data row is line 3
    assert snapshot(world.db) == before
    assert e.value.report.written == 0


def test_every_problem_of_every_row_is_reported(world):
    before = snapshot(world.db)
    data = csv_bytes(
        RECIPIENT_HEADER,
        [
            recipient_line(RN[0]),
            recipient_line("1010001", payer="12000001"),  # both seed placeholders: invalid numbers
            recipient_line(RN[2], kana="生保一郎", birth="1990-02-30"),
            recipient_line(RN[3], name=""),
            recipient_line(RN[4], end="2019-01-01", reason="2"),  # 廃止 before 開始
        ],
    )
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert sorted(errors_of(e)) == [
        (3, "payer_number"),
        (3, "recipient_number"),
        (4, "birthdate"),
        (4, "name_kana"),
        (5, "name"),
        (6, "disqualification_date"),
    ]
    for err in e.value.report.errors:
        assert err.message_ja and err.message_en
    assert e.value.message_ja.startswith("6件の誤り")  # one count for the whole file
    assert snapshot(world.db) == before


def test_bad_ticket_rows_write_no_ticket_and_name_the_field(world):
    r = world.recipient()
    before = snapshot(world.db)
    rn = r["recipient_number"]
    data = csv_bytes(
        TICKET_HEADER,
        [
            ticket_line(rn),
            ticket_line(rn, ttype="02", treat="04"),  # 調剤券 designating a clinic
            ticket_line(rn, vf="2024-06-30"),  # outside 診療年月
            ticket_line(rn, month="2024-13"),
            ticket_line(rn, fac="1311234560"),  # wrong check digit
        ],
    )
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "tickets", data)
    assert sorted(errors_of(e)) == [
        (3, "designated_facility_code"),
        (4, "valid_from"),
        (5, "treatment_month"),
        (6, "designated_facility_code"),
    ]
    assert snapshot(world.db) == before


# --- header problems ---------------------------------------------------------------------------


def test_unknown_column_is_refused_by_name(world):
    before = snapshot(world.db)
    with pytest.raises(ValidationFailed) as e:
        import_csv(
            world.db,
            world.principal("office"),
            "recipients",
            csv_bytes(RECIPIENT_HEADER + ",nickname", [recipient_line(RN[0]) + ",いっちゃん"]),
        )
    assert [(p.field, p.code) for p in e.value.problems] == [("nickname", "unknown_column")]
    assert "nickname" in e.value.message_ja
    assert snapshot(world.db) == before


def test_missing_required_column_is_refused_by_name(world):
    header = RECIPIENT_HEADER.replace("birthdate,", "")
    line = recipient_line(RN[0]).replace(",1990-01-15", "", 1)
    with pytest.raises(ValidationFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", csv_bytes(header, [line]))
    assert [(p.field, p.code) for p in e.value.problems] == [("birthdate", "missing_column")]
    assert "birthdate" in e.value.message_ja


def test_duplicate_column_is_refused(world):
    with pytest.raises(ValidationFailed) as e:
        import_csv(
            world.db,
            world.principal("office"),
            "recipients",
            csv_bytes(RECIPIENT_HEADER + ",name", [recipient_line(RN[0]) + ",生保一郎"]),
        )
    assert [p.code for p in e.value.problems] == ["duplicate_column"]
    assert recipients_in_db(world.db) == {}


def test_a_ticket_file_must_name_its_recipient_columns(world):
    header = TICKET_HEADER.replace("payer_number,", "")
    with pytest.raises(ValidationFailed) as e:
        import_csv(world.db, world.principal("office"), "tickets", csv_bytes(header, []))
    assert ("payer_number", "missing_column") in [(p.field, p.code) for p in e.value.problems]


def test_wrong_column_count_names_the_row(world):
    before = snapshot(world.db)
    data = csv_bytes(
        RECIPIENT_HEADER,
        [recipient_line(RN[0]), recipient_line(RN[1]) + ",extra", ",".join(recipient_line(RN[2]).split(",")[:5])],
    )
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert [e_.row for e_ in e.value.report.errors] == [3, 4]
    assert "12" in e.value.report.errors[0].message_ja and "11" in e.value.report.errors[0].message_ja
    assert snapshot(world.db) == before


def test_empty_file_is_refused(world):
    with pytest.raises(ValidationFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", b"")
    assert e.value.problems[0].code == "empty"


def test_a_file_in_neither_utf8_nor_shift_jis_is_refused(world):
    data = ("\ufeff" + RECIPIENT_HEADER + "\n" + recipient_line(RN[0])).encode("utf-16")
    with pytest.raises(ValidationFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert e.value.problems[0].code == "encoding"
    assert "UTF-8" in e.value.message_ja and "Shift_JIS" in e.value.message_ja


def test_unknown_kind_is_refused(world):
    with pytest.raises(ValidationFailed) as e:
        import_csv(world.db, world.principal("office"), "people", csv_bytes(RECIPIENT_HEADER, []))
    assert e.value.problems[0].field == "kind"


# --- rows that conflict with each other or with the database -----------------------------------


def test_duplicate_recipient_within_the_file(world):
    before = snapshot(world.db)
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(RN[0]), recipient_line(RN[1]), recipient_line(RN[0])])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert errors_of(e) == [(4, "recipient_number")]
    assert "重複" in e.value.report.errors[0].message_ja
    assert snapshot(world.db) == before


def test_recipient_that_already_exists_in_the_database(world):
    existing = world.recipient()
    before = snapshot(world.db)
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(RN[0]), recipient_line(existing["recipient_number"])])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert [x.row for x in e.value.report.errors] == [3]
    assert existing["recipient_number"] in e.value.report.errors[0].message_ja
    assert snapshot(world.db) == before  # RN[0] from line 2 was rolled back too
    # the report must name the field, as it does for every other problem (not "-")
    assert errors_of(e) == [(3, "recipient_number")]


def test_ticket_for_a_recipient_not_registered(world):
    r = world.recipient()
    before = snapshot(world.db)
    data = csv_bytes(TICKET_HEADER, [ticket_line(r["recipient_number"]), ticket_line(RN[9])])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "tickets", data)
    assert [x.row for x in e.value.report.errors] == [3]
    assert RN[9] in e.value.report.errors[0].message_ja
    assert snapshot(world.db) == before  # the good first ticket and its sequence number are rolled back
    # the report must name the field, as it does for every other problem (not "-")
    assert errors_of(e) == [(3, "recipient_number")]


def test_welfare_office_cannot_import_recipients_under_another_offices_payer_number(world):
    before = snapshot(world.db)
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(RN[0]), recipient_line(RN[1], payer=PAYER2)])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "recipients", data)
    assert [x.row for x in e.value.report.errors] == [3]
    assert PAYER2 in e.value.report.errors[0].message_ja
    assert snapshot(world.db) == before
    # the report must name the field, as it does for every other problem (not "-")
    assert errors_of(e) == [(3, "payer_number")]


def test_welfare_office_cannot_import_tickets_for_another_offices_recipient(world):
    theirs = world.recipient(office="office2", payer_number=PAYER2)
    before = snapshot(world.db)
    data = csv_bytes(TICKET_HEADER, [ticket_line(theirs["recipient_number"], payer=PAYER2)])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("office"), "tickets", data)
    assert [x.row for x in e.value.report.errors] == [2]
    assert snapshot(world.db) == before
    # the report must name the field, as it does for every other problem (not "-")
    assert errors_of(e) == [(2, "payer_number")]


def test_insurer_cannot_import_qualifications_of_another_insurer(world):
    other = with_check_digit("0627999")
    before = snapshot(world.db)
    data = csv_bytes(INSURANCE_HEADER, [f"{other},□□健康保険組合,01,1,2,,生保一郎,ｾｲﾎ ｲﾁﾛｳ,1,1990-01-15,2019-04-01"])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("insurer"), "insurance", data)
    assert [x.row for x in e.value.report.errors] == [2]
    assert snapshot(world.db) == before
    # the report must name the field, as it does for every other problem (not "-")
    assert errors_of(e) == [(2, "insurer_number")]


def test_insurance_row_linked_to_an_unknown_card_is_refused(world):
    before = snapshot(world.db)
    data = csv_bytes(
        INSURANCE_HEADER + ",card_serial",
        [f"{INSURER_NO},○○健康保険組合,01,1,2,,生保一郎,ｾｲﾎ ｲﾁﾛｳ,1,1990-01-15,2019-04-01,deadbeef"],
    )
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, world.principal("insurer"), "insurance", data)
    assert errors_of(e) == [(2, "card_serial")]
    assert snapshot(world.db) == before
