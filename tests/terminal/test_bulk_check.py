"""資格確認一括照会 through the shared folder: OQSmuquc01 (upload → ReceptionNumber) and OQSmuquc02
(fetch → one BulkConfirmUnit per person, .zip when large). Every answer is validated with the strict
schema (tests/terminal/response.xsd) and every person's result is compared with what the single
check by numbers answers for that person."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from fujo import outbound
from fujo.core.dates import now_jst, today_jst
from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.facility.service import set_medical_assistance
from fujo.terminal import bulkcheck
from fujo.terminal import messages as M
from fujo.terminal import requestfiles as rf
from fujo.terminal.requestfiles import wait_answer
from fujo.terminal.xmlio import SJIS
from tests.factories import CLINIC, INSURER_NO, OTHER, PAYER

TODAY = today_jst()
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("response.xsd"))))
STRICT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False)
UP, DOWN = M.BULK_CHECK, M.BULK_CHECK_FETCH
KANJI, KANA = "一二三四五六七八九十百千万上中下左右春夏", "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄ"  # 20 each: distinct names


def _strict(path: Path) -> etree._Element:
    raw = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            assert z.namelist() == [path.stem + ".xml"]
            raw = z.read(path.stem + ".xml")
    root = etree.fromstring(raw, STRICT)
    SCHEMA.assertValid(root)
    return root


def _ask(folder: Path, kind: str, rid: str, data: bytes):
    rf.drop(folder, kind, rid, data)
    a = wait_answer(folder, kind, rid)
    assert not a.is_err, a.err_text
    return a, _strict(a.path)


def _kept(agent) -> list[Path]:
    """The results the agent holds between OQSmuquc01 and OQSmuquc02."""
    d = agent.agent.state_dir / "bulkcheck"
    return sorted(d.iterdir()) if d.exists() else []


def _flat(el) -> list:
    """Every element in document order with its text: the same elements, order and values."""
    return [(x.tag, (x.text or "").strip()) for x in el.iter()]


def _wire(d: str) -> str:
    return d.replace("-", "")


def _flip(number: str) -> str:
    """The same number with a wrong 検証番号."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _single(server, world, item: dict) -> dict:
    body = {
        "insurer_number": item["insurer_number"].strip(),
        "identification_number": item["identification_number"],
        "birthdate": item["birthdate"],
    }
    for k in ("card_symbol", "branch_number"):
        if item.get(k):
            body[k] = item[k]
    res = outbound.post(server.url + "/api/v1/checks/numbers", headers=world.auth("clinic"), json=body, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()


def _sent(item: dict) -> dict:
    """QualificationConfirmSearchInfo as the request file carries it (the echo must equal it)."""
    names = (
        ("insurer_number", "InsurerNumber"),
        ("card_symbol", "InsuredCardSymbol"),
        ("identification_number", "InsuredIdentificationNumber"),
        ("branch_number", "InsuredBranchNumber"),
        ("birthdate", "Birthdate"),
        ("arbitrary_identifier", "ArbitraryIdentifier"),
    )
    out = {el: item[k] for k, el in names if item.get(k)}
    out["LimitApplicationCertificateRelatedConsFlg"] = "0"
    return out


@pytest.fixture(autouse=True)
def _uses_medical_assistance(request):
    """The clinic's 管理者 has switched 「医療扶助」 to 「利用する」 (a facility starts without it)."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        set_medical_assistance(world.db, world.principal("clinic"), True)


def _world(world, designated: int):
    people = []
    for i in range(designated):
        r = world.recipient(
            name="一括" + KANJI[i // 20] + KANJI[i % 20], name_kana="ｲｯｶﾂ " + KANA[i // 20] + KANA[i % 20]
        )
        world.ticket(r, on=TODAY, issue_number=str(100 + i))
        people.append(r)
    elsewhere = world.recipient(name="扶助花子", name_kana="ﾌｼﾞｮ ﾊﾅｺ", sex="2", birthdate="1985-04-02")
    world.ticket(elsewhere, on=TODAY, facility=OTHER, issue_number="99")
    waiting = world.recipient(name="保護次郎", name_kana="ﾎｺﾞ ｼﾞﾛｳ", birthdate="1978-11-03")
    world.insurance()
    return people, elsewhere, waiting


def _item(r: dict, ident: str, **kw) -> dict:
    d = {
        "insurer_number": r["payer_number"],
        "identification_number": r["recipient_number"],
        "birthdate": _wire(r["birthdate"]),
        "arbitrary_identifier": ident,
    }
    d.update(kw)
    return d


def test_upload_then_fetch_many_people_round_trip(world, make_agent, server, db, caplog):
    caplog.set_level(logging.INFO, logger="fujo.terminal")
    agent = make_agent(zip_threshold=4000)
    root = agent.folder.root
    people, elsewhere, waiting = _world(world, 25)
    items = [_item(r, f"PT{i:04d}_1") for i, r in enumerate(people)]
    items += [
        _item(elsewhere, "PT0100_1"),  # 未委託: 6
        _item(waiting, "PT0101_1"),  # no ticket yet: 6
        {
            "insurer_number": INSURER_NO,
            "card_symbol": "12-34",
            "identification_number": "5678",
            "branch_number": "01",
            "birthdate": "19900115",
            "arbitrary_identifier": "PT0102_1",
        },  # insurance: 1
        _item(people[0], "PT0103_1", birthdate="20000101"),  # not found: 4
        _item(people[1], "PT0104_1", identification_number=_flip(people[1]["recipient_number"])),  # FJ2002
        _item(people[2], "PT0105_1", birthdate=None),  # FJ2001
        _item(people[3], "PT0106_1", birthdate="1990-01-15"),  # FJ2002 (format)
    ]
    checked = len(items) - 3

    a, up = _ask(root, UP, "up1", rf.bulk_check(CLINIC, items, arbitrary_id="MONTHSTART-01"))
    assert up.findtext("MessageHeader/SegmentOfResult") == "1"
    assert up.findtext("MessageHeader/ArbitraryFileIdentifier") == "MONTHSTART-01"
    assert up.findtext("MessageBody/ProcessingResultStatus") == "1"
    number = up.findtext("MessageBody/ReceptionNumber")
    assert len(number) == 20 and number.isdigit()
    assert len(up.findtext("MessageBody/ReceptionDateTime")) == 14
    # the checks ran at upload: recorded in the server's check log, results kept in the state dir only
    with db.read() as conn:
        n = select(func.count()).select_from(s.check_log).where(s.check_log.c.method != "registry")
        assert conn.execute(n).scalar() == checked
    kept = _kept(agent)
    assert [p.name for p in kept] == [f"{number}.json"]
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
    assert not any(p.suffix == ".json" for p in root.rglob("*") if agent.agent.state_dir not in p.parents)

    a, down = _ask(root, DOWN, "dl1", rf.bulk_fetch(CLINIC, number))
    assert a.path.suffix == ".zip"  # larger than the zip threshold
    head = down.find("MessageHeader")
    assert (head.findtext("ReceptionNumber"), head.findtext("SegmentOfResult")) == (number, "1")
    assert head.findtext("QualificationConfirmationDate") == TODAY.strftime("%Y%m%d")
    assert (
        head.findtext("NumberOfProcessingResult"),
        head.findtext("NumberOfNormalProcessing"),
        head.findtext("NumberOfError"),
    ) == (str(len(items)), str(checked), "3")
    assert head.findtext("ArbitraryFileIdentifier") == "MONTHSTART-01"  # the upload's, when the fetch has none
    units = down.findall("MessageBody/BulkConfirmUnit")
    assert len(units) == len(items)

    for item, unit in zip(items, units):
        echo = {x.tag: x.text for x in unit.find("QualificationConfirmSearchInfo")}
        assert echo == _sent(item)  # every element back as sent, in request order
    got = [
        (u.findtext("ProcessingResultStatus"), u.findtext("ProcessingResultCode"), u.findtext("QualificationValidity"))
        for u in units[-7:]
    ]
    assert got == [
        ("1", "FJ0601", "6"),
        ("1", "FJ0601", "6"),
        ("1", None, "1"),
        ("1", "FJ0401", "4"),
        ("2", "FJ2002", None),
        ("2", "FJ2001", None),
        ("2", "FJ2002", None),
    ]
    assert all(u.findtext("ProcessingResultMessage") for u in units[-3:])
    assert "Birthdate" in units[-2].findtext("ProcessingResultMessage")

    # each person's result is the single check's answer for that person, written the same way
    for item, unit in zip(items, units):
        if unit.findtext("ProcessingResultStatus") != "1":
            continue
        single = _single(server, world, item)
        assert unit.findtext("QualificationValidity") == single["QualificationValidity"]
        assert unit.findtext("ProcessingResultCode") == single.get("ProcessingResultCode")
        expected = etree.Element("x")
        for res in single.get("ResultList") or []:
            M.result_element(expected, res)
        assert [_flat(x) for x in unit.findall("ResultOfQualificationConfirmation")] == [_flat(x) for x in expected]
    designated = units[0].find("ResultOfQualificationConfirmation")
    assert designated.findtext("InsuredIdentificationNumber") == people[0]["recipient_number"]
    assert designated.find("PublicExpenseResultList/MedicalTicketInfo") is not None
    masked = units[len(people)].find("ResultOfQualificationConfirmation")
    assert masked.find("InsuredIdentificationNumber") is None and masked.find("PublicExpenseResultList") is None

    # fetched: the results are gone; a second fetch, an unknown or a crafted number → FJ2004
    assert _kept(agent) == []
    for rid, n in (("dl2", number), ("dl3", "20000101000000000000"), ("dl4", "../../../etc/passwd"), ("dl5", "x" * 30)):
        _, err = _ask(root, DOWN, rid, rf.bulk_fetch(CLINIC, n))
        assert err.findtext("MessageHeader/SegmentOfResult") == "9"
        assert err.findtext("MessageHeader/ErrorCode") == "FJ2004", rid
    # logs name files, reception numbers and counts — never a person
    for r in [*people[:5], elsewhere]:
        assert r["recipient_number"] not in caplog.text and r["name"] not in caplog.text
    assert "19900115" not in caplog.text


def test_small_answers_are_plain_xml_in_the_request_encoding(world, make_agent, server):
    agent = make_agent()
    root = agent.folder.root
    people, elsewhere, _ = _world(world, 1)
    items = [_item(people[0], "A_1"), _item(elsewhere, "B_1")]
    _, up = _ask(root, UP, "s1", rf.bulk_check(CLINIC, items, encoding=SJIS))
    assert up.findtext("MessageHeader/CharacterCodeIdentifier") == "1"
    a, down = _ask(root, DOWN, "s2", rf.bulk_fetch(CLINIC, up.findtext("MessageBody/ReceptionNumber"), encoding=SJIS))
    assert a.path.suffix == ".xml" and a.raw.startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    assert [u.findtext("ResultOfQualificationConfirmation/Name") for u in down.iter("BulkConfirmUnit")] == [
        "一括一一",
        "扶助花子",
    ]
    assert [u.findtext("QualificationConfirmSearchInfo/ArbitraryIdentifier") for u in down.iter("BulkConfirmUnit")] == [
        "A_1",
        "B_1",
    ]


def test_a_file_that_cannot_be_taken_whole_is_answered_with_an_error(world, make_agent, monkeypatch, db):
    agent = make_agent()
    root = agent.folder.root
    people, _, _ = _world(world, 1)
    monkeypatch.setattr(bulkcheck, "MAX_ITEMS", 3)
    cases = [
        ("e1", rf.bulk_check(CLINIC, []), "FJ2001"),
        ("e2", rf.bulk_check(CLINIC, [_item(people[0], str(i)) for i in range(4)]), "FJ2002"),
        ("e3", rf.bulk_check(OTHER, [_item(people[0], "x")]), "FJ2003"),
        ("e4", rf.bulk_fetch(CLINIC, ""), "FJ2001"),
    ]
    for rid, data, code in cases:
        _, err = _ask(root, DOWN if rid == "e4" else UP, rid, data)
        assert (err.findtext("MessageHeader/SegmentOfResult"), err.findtext("MessageHeader/ErrorCode")) == ("9", code)
        assert err.find("MessageBody/ReceptionNumber") is None
    with db.read() as conn:
        n = select(func.count()).select_from(s.check_log).where(s.check_log.c.method != "registry")
        assert conn.execute(n).scalar() == 0
    assert _kept(agent) == []


def test_server_unreachable_at_upload_is_reported_in_the_upload_answer(world, make_agent):
    agent = make_agent(url="http://127.0.0.1:9")
    agent.agent.client._facility_code = CLINIC  # known from an earlier session
    people = [world.recipient()]
    _, err = _ask(agent.folder.root, UP, "u1", rf.bulk_check(CLINIC, [_item(people[0], "x")]))
    assert err.findtext("MessageHeader/ErrorCode") == "FJ9001"
    assert _kept(agent) == []


def test_setting_off_refuses_the_assistance_items_only(world, make_agent, server):
    agent = make_agent()
    people, _, _ = _world(world, 1)
    set_medical_assistance(world.db, world.principal("clinic"), False)
    items = [
        _item(people[0], "a"),
        {
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "birthdate": "19900115",
            "arbitrary_identifier": "b",
        },
    ]
    _, up = _ask(agent.folder.root, UP, "o1", rf.bulk_check(CLINIC, items))
    _, down = _ask(agent.folder.root, DOWN, "o2", rf.bulk_fetch(CLINIC, up.findtext("MessageBody/ReceptionNumber")))
    units = down.findall("MessageBody/BulkConfirmUnit")
    assert [
        (u.findtext("ProcessingResultStatus"), u.findtext("ProcessingResultCode"), u.findtext("QualificationValidity"))
        for u in units
    ] == [("2", "FJ3001", None), ("1", None, "1")]


def test_results_not_fetched_in_time_are_deleted(tmp_path):
    results = bulkcheck.Results(tmp_path)
    old = results.save(
        {
            "at": (now_jst() - dt.timedelta(hours=bulkcheck.RESULT_HOURS + 1)).isoformat(),
            "date": "20240710",
            "units": [],
        }
    )
    fresh = results.save({"at": now_jst().isoformat(), "date": "20240710", "units": []})
    assert results.load(old) is None and not (results.dir / f"{old}.json").exists()
    assert results.load(fresh)["date"] == "20240710"
    stale = results.dir / f"{fresh}.json"
    past = (now_jst() - dt.timedelta(hours=bulkcheck.RESULT_HOURS + 1)).timestamp()
    os.utime(stale, (past, past))
    bulkcheck.Results(tmp_path)  # every use purges what is too old
    assert not stale.exists()
    assert results.load("../" + fresh) is None and results.load("1" * 21) is None


@pytest.mark.parametrize("wrapped", [False, True])
def test_the_reader_finds_every_search_info_and_keeps_bad_items(wrapped):
    info = (
        "<QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>"
        "<InsuredIdentificationNumber>{}</InsuredIdentificationNumber><Birthdate>19900115</Birthdate>"
        "<ArbitraryIdentifier>{}</ArbitraryIdentifier></QualificationConfirmSearchInfo>"
    )
    number = with_check_digit("100000")
    good, bad = info.format(PAYER, number, "ok"), info.format(PAYER, _flip(number), "bad")
    inner = good + bad
    body = f"<MessageBody>{'<List>' + inner + '</List>' if wrapped else inner}</MessageBody>"
    from fujo.terminal.xmlio import parse

    xml = f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode></MessageHeader>{body}</XmlMsg>"
    req = M.read_request(UP, "r", parse(xml.encode()))
    assert req.problem is None
    units = req.fields["units"]
    assert [u["echo"]["ArbitraryIdentifier"] for u in units] == ["ok", "bad"]
    assert units[0]["fields"]["identification_number"] == number
    assert units[1]["error"]["code"] == "FJ2002"
    json.dumps(units)  # kept as JSON in the state dir
