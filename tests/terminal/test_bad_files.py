"""Bad files never stop the agent: each gets a .err or an error answer naming the problem, the
agent goes on, and nothing in the database changes."""

from __future__ import annotations

import time

import pytest

from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.requestfiles import wait_answer
from fujo.terminal.xmlio import atomic_write
from tests.factories import CLINIC, INSURER_NO, OTHER, PAYER
from tests.helpers import snapshot
from tests.terminal.conftest import wait_for

TODAY = today_jst()
MONTH = TODAY.strftime("%Y%m")
BIRTH = "19900115"  # the factories' 生保一郎


# How the agent treats a file does not depend on the server's database (it only checks that
# nothing was written): these cases run once, on SQLite.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@pytest.fixture
def agent(make_agent):
    """Files here are dropped whole (rename), so a malformed one need not be given a long grace to
    finish being written: 0.4 s instead of 1 s keeps this file's many cases quick."""
    return make_agent(grace=0.4)


def _raw(folder, name: str, data: bytes):
    atomic_write(folder / "req" / name, data)


def _err_code(answer) -> str:
    assert answer.is_err, answer.raw[:300]
    return dict(line.split(": ", 1) for line in answer.err_text.splitlines())["ErrorCode"]


def _still_answers(world, agent, rid="after"):
    """The agent goes on: a good request after the bad one is answered normally."""
    r = world.recipient()
    world.ticket(r, on=TODAY)
    rf.drop(agent.folder.root, "OQSsiquc01", rid, rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    assert wait_answer(agent.folder.root, "OQSsiquc01", rid).get("MessageBody/QualificationValidity") == "1"


GOOD = rf.single_check(CLINIC, PAYER, "1010008", BIRTH)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><XmlMsg>&lol2;</XmlMsg>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<XmlMsg><MessageHeader><MedicalInstitutionCode>&e;</MedicalInstitutionCode></MessageHeader>"
    b"<MessageBody/></XmlMsg>"
)


@pytest.mark.parametrize(
    "name,data,code,err_name",
    [
        ("OQSsiquc01req_m1.xml", b"<XmlMsg><MessageHeader></XmlMsg>", "FJ1001", "OQSsiquc01res_m1.err"),
        ("OQSsiquc01req_m2.xml", b"", "FJ1001", "OQSsiquc01res_m2.err"),
        (
            "OQSsiquc01req_e1.xml",
            '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader/><MessageBody>生保'
            "</MessageBody></XmlMsg>".encode("shift_jis"),
            "FJ1002",
            "OQSsiquc01res_e1.err",
        ),
        (
            "OQSsiquc01req_e2.xml",
            b'<?xml version="1.0" encoding="EUC-JP"?><XmlMsg/>',
            "FJ1002",
            "OQSsiquc01res_e2.err",
        ),
        ("OQSsiquc01req_d1.xml", BILLION_LAUGHS, "FJ1003", "OQSsiquc01res_d1.err"),
        ("OQSsiquc01req_d2.xml", XXE, "FJ1003", "OQSsiquc01res_d2.err"),
        ("OQSzzzzz01req_1.xml", GOOD, "FJ1005", "OQSzzzzz01req_1.err"),
        ("OQSmuonq01req_1.xml", GOOD, "FJ1005", "OQSmuonq01req_1.err"),  # オンライン診療等: not served
        ("hello.xml", GOOD, "FJ1005", "hello.err"),
        ("OQSsiquc01req_n1.xml", b"<Other><MessageHeader/><MessageBody/></Other>", "FJ1006", "OQSsiquc01res_n1.err"),
        ("OQSsiquc01req_n2.xml", b"<XmlMsg><MessageBody/></XmlMsg>", "FJ1006", "OQSsiquc01res_n2.err"),
    ],
)
def test_unreadable_files_get_an_err_file_and_the_agent_goes_on(world, agent, db, name, data, code, err_name):
    before = snapshot(db)
    _raw(agent.folder.root, name, data)
    err = rf.read_answer(wait_for(agent.folder.res / err_name))
    assert _err_code(err) == code
    assert f"File: {name}" in err.err_text
    assert "root:" not in err.err_text  # nothing of /etc/passwd
    wait_for(lambda: not (agent.folder.req / name).exists())
    assert snapshot(db) == before
    _still_answers(world, agent)


def test_a_50_mb_file_is_refused_without_reading_it_whole(world, agent, db):
    before = snapshot(db)
    big = agent.folder.root / "big.part"
    with open(big, "wb") as f:
        f.write(b"<XmlMsg>" + b" " * (50 * 1024 * 1024) + b"</XmlMsg>")
    big.rename(agent.folder.req / "OQSsiquc01req_big.xml")
    err = rf.read_answer(wait_for(agent.folder.res / "OQSsiquc01res_big.err"))
    assert _err_code(err) == "FJ1004"
    assert "大きすぎ" in err.err_text
    assert snapshot(db) == before
    _still_answers(world, agent)


def _error_answer(agent, rid, data, kind="OQSsiquc01"):
    rf.drop(agent.folder.root, kind, rid, data)
    a = wait_answer(agent.folder.root, kind, rid)
    assert a.path.suffix == ".xml"
    assert a.get("MessageHeader/SegmentOfResult") == "9"
    assert a.get("MessageBody/ProcessingResultStatus") == "2"
    assert a.get("MessageBody/ProcessingResultCode") == a.get("MessageHeader/ErrorCode")
    return a.get("MessageHeader/ErrorCode"), a.get("MessageHeader/ErrorMessage")


@pytest.mark.parametrize(
    "data,code,words",
    [
        (rf.single_check(CLINIC, PAYER, "", BIRTH), "FJ2001", "InsuredIdentificationNumber"),
        (rf.single_check(CLINIC, "", "1010008", BIRTH), "FJ2001", "InsurerNumber"),
        (rf.single_check(CLINIC, PAYER, "1010008"), "FJ2001", "Birthdate"),  # required, as by the server
        (rf.single_check(CLINIC, INSURER_NO, "5678", card_symbol="12-34"), "FJ2001", "Birthdate"),  # insurance too
        (rf.single_check(CLINIC, "12130018", "1010008", BIRTH), "FJ2002", "検証番号"),  # payer check digit
        (rf.single_check(CLINIC, PAYER, "101000", BIRTH), "FJ2002", "7桁"),  # recipient length
        (rf.single_check(CLINIC, PAYER, "1010009", BIRTH), "FJ2002", "検証番号"),  # recipient check digit
        (rf.single_check(CLINIC, "1213001", "1010008", BIRTH), "FJ2002", "桁"),  # 7 digits: neither kind
        (rf.single_check(CLINIC, "12000001", "1010001", BIRTH), "FJ2002", "都道府県"),  # the seed's placeholder
        (rf.single_check(CLINIC, "06139991", "5678", BIRTH), "FJ2002", "保険者番号"),  # insurer check digit
        (rf.single_check(CLINIC, PAYER, "1010008", birthdate="1990-01-15"), "FJ2002", "Birthdate"),
        (rf.single_check(CLINIC, PAYER, "1010008", birthdate="19901350"), "FJ2002", "生年月日"),  # found by the server
        (rf.single_check(OTHER, PAYER, "1010008", BIRTH), "FJ2003", OTHER),
        (
            rf.single_check(CLINIC, PAYER, "1010008", BIRTH).replace(b">0</CharacterCode", b">7</CharacterCode"),
            "FJ2002",
            "CharacterCodeIdentifier",
        ),
    ],
)
def test_wrong_values_are_answered_with_an_error_naming_them(world, agent, db, data, code, words):
    before = snapshot(db)
    got_code, message = _error_answer(agent, "v", data)
    assert (got_code, words in message) == (code, True), message
    assert snapshot(db) == before


def test_character_code_contradicting_the_declaration_is_an_encoding_error(world, agent):
    data = rf.single_check(CLINIC, PAYER, "1010008", BIRTH).replace(
        b"<CharacterCodeIdentifier>0<", b"<CharacterCodeIdentifier>1<"
    )
    assert _error_answer(agent, "cc", data)[0] == "FJ1002"


def test_missing_month_and_unknown_reception_number(world, agent):
    assert _error_answer(agent, "m", rf.bulk_start(CLINIC, ""), "OQSmutic01")[0] == "FJ2001"
    assert _error_answer(agent, "m2", rf.bulk_start(CLINIC, "202413"), "OQSmutic01")[0] == "FJ2002"
    code, msg = _error_answer(agent, "f", rf.bulk_fetch(CLINIC, "20240101000000123456"), "OQSmutic02")
    assert code == "FJ2004" and "20240101000000123456" in msg


def test_reference_for_unknown_person_and_bad_reference_number(world, agent, db):
    before = snapshot(db)
    assert _error_answer(agent, "r1", rf.reference(CLINIC, "P1", PAYER, "1010008", BIRTH), "OQSsiimm01")[0] == "FJ3002"
    assert _error_answer(agent, "r2", rf.reference(CLINIC, "P-1", PAYER, "1010008", BIRTH), "OQSsiimm01")[0] == "FJ2002"
    assert snapshot(db) == before


def test_reference_without_birth_date_or_with_another_one_is_refused_and_changes_nothing(world, agent, db):
    r = world.recipient()
    world.card(r)  # linked: only the birth date is wrong
    before = snapshot(db)
    code, msg = _error_answer(agent, "b1", rf.reference(CLINIC, "P1", PAYER, r["recipient_number"]), "OQSsiimm01")
    assert (code, msg) == ("FJ2001", "必須の要素 Birthdate がありません。")
    code, msg = _error_answer(
        agent, "b2", rf.reference(CLINIC, "P1", PAYER, r["recipient_number"], "19900116"), "OQSsiimm01"
    )
    assert code == "FJ3002" and "該当する資格がありません" in msg
    assert snapshot(db) == before


def test_reference_for_a_qualification_not_linked_to_a_card_is_refused_and_links_no_one(world, agent, db):
    r = world.recipient()  # no card: the office has not linked this qualification to a person
    before = snapshot(db)
    code, msg = _error_answer(
        agent, "n1", rf.reference(CLINIC, "P1", PAYER, r["recipient_number"], BIRTH), "OQSsiimm01"
    )
    assert code == "FJ3004" and "まだマイナンバーカードにひも付けられていない" in msg
    assert snapshot(db) == before  # no person created, the recipient row untouched


def test_facility_setting_off_is_answered_with_its_own_code(world, agent, client):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    res = client.put(
        "/api/v1/facility/settings", headers=world.auth("clinic"), json={"medical_assistance_enabled": False}
    )
    assert res.status_code == 200
    code, msg = _error_answer(agent, "off", rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    assert code == "FJ3001" and "利用しない" in msg
    assert _error_answer(agent, "off", rf.bulk_start(CLINIC, MONTH), "OQSmutic01")[0] == "FJ3001"
    world.card(r)  # linked, so only the setting stands in the way of a 照会番号 by 公費負担者番号
    code, msg = _error_answer(
        agent, "off", rf.reference(CLINIC, "P1", PAYER, r["recipient_number"], BIRTH), "OQSsiimm01"
    )
    assert code == "FJ3001" and "利用しない" in msg


def test_a_file_still_being_written_is_answered_once_complete(world, make_agent):
    agent = make_agent()  # the default grace (1 s) outlasts the 0.6 s pause below
    r = world.recipient()
    world.ticket(r, on=TODAY)
    data = rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH)
    path = agent.folder.req / "OQSsiquc01req_slow.xml"
    with open(path, "wb") as f:  # written in place, in two parts, with a pause between
        f.write(data[:60])
        f.flush()
        time.sleep(0.6)
        f.write(data[60:])
    a = wait_answer(agent.folder.root, "OQSsiquc01", "slow")
    assert a.path.suffix == ".xml" and a.get("MessageBody/QualificationValidity") == "1"
    assert not (agent.folder.res / "OQSsiquc01res_slow.err").exists()
