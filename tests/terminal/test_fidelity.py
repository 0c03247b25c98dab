"""Fidelity: what the agent writes, read by an independent reader, says exactly what the JSON API
says for the same check — field by field, for every kind of answer a front desk meets.

The independent reader is lxml with the strict schema tests/terminal/response.xsd (fujo's own,
written from the published element list; elements that clients require are required there) and a
plain cp932 / UTF-8 decode of the bytes — never fujo's own request parser.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from lxml import etree

from fujo import outbound
from fujo.core.dates import today_jst
from fujo.core.numbers import with_check_digit
from fujo.insurance.service import register_qualification
from fujo.terminal import requestfiles as rf
from fujo.terminal.client import ServerClient
from fujo.terminal.face import card_check_to_face
from fujo.terminal.requestfiles import wait_answer
from fujo.terminal.xmlio import SJIS, UTF8, sjis_safe
from tests.factories import CLINIC, INSURER_NO, OTHER, PAYER

TODAY = today_jst()
BIRTH = "19900115"  # the factories' 生保一郎
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("response.xsd"))))
# Results in the JSON that are fujo extras and, by design, not written into the files.
JSON_ONLY = {
    "QualificationValidity",
    "RegisteredAt",
    "DisqualificationKind",
    "QualificationStatus",
    "QualificationStatusText",
    "QualificationStatusDate",
}  # fujo extras (issue 8): not in the XML
LISTS = {"MedicalTicketInfo", "SpecificDiseasesCertificateInfo", "ResultOfQualificationConfirmation"}


def independent_read(raw: bytes) -> etree._Element:
    """Decode the bytes as a Windows client would (the declaration says UTF-8 or Shift_JIS, which
    is Windows-31J), then parse and validate with lxml and the schema."""
    shift_jis = raw.startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    text = raw.decode("cp932" if shift_jis else "utf-8")  # a plain decode: no reference is left to expand
    assert "&#" not in text
    parser = etree.XMLParser(
        encoding="cp932" if shift_jis else "utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        recover=False,
    )
    root = etree.fromstring(raw, parser)
    SCHEMA.assertValid(root)
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == ("1" if shift_jis else "0")
    return root


def read_file(path: Path) -> etree._Element:
    raw = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            raw = z.read(path.stem + ".xml")
    return independent_read(raw)


def as_dict(el: etree._Element):
    """An element as plain data: text for leaves, dicts for blocks, lists for repeated items."""
    if len(el) == 0:
        return el.text or ""
    out: dict = {}
    for child in el:
        v = as_dict(child)
        if child.tag in LISTS:
            out.setdefault(child.tag, []).append(v)
        else:
            assert child.tag not in out, f"{child.tag} written twice"
            out[child.tag] = v
    return out


def wire_only(v, conv):
    """The JSON value as the file must carry it (fujo extras dropped, empty values not written)."""
    if isinstance(v, dict):
        return {k: wire_only(x, conv) for k, x in v.items() if k not in JSON_ONLY and x not in (None, "", [], {})}
    if isinstance(v, list):
        return [wire_only(x, conv) for x in v]
    return conv(str(v))


def assert_same(data: dict, root: etree._Element, encoding: str = UTF8) -> list[dict]:
    """Every field of the JSON answer equals the file's, and the file has nothing more."""
    conv = sjis_safe if encoding == SJIS else str
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    for el in ("QualificationConfirmationDate", "ReferenceClassification", "MedicalInstitutionCode"):
        assert root.findtext(f"MessageHeader/{el}") == data[el], el
    body = root.find("MessageBody")
    assert body.findtext("QualificationValidity") == data["QualificationValidity"]
    for el in ("ProcessingResultCode", "ProcessingResultMessage"):
        assert body.findtext(el) == (conv(data[el]) if el in data else None), el
    results = [as_dict(r) for r in body.iterfind("ResultList/ResultOfQualificationConfirmation")]
    assert results == [wire_only(r, conv) for r in data["ResultList"]]
    return results


class RecordingClient(ServerClient):
    """The agent's own HTTP client, keeping the JSON of the last card check it made."""

    last: dict | None = None

    def check_card(self, proof, confirmation_date=None):
        self.last = super().check_card(proof, confirmation_date)
        return self.last


def _json_check(server, world, body: dict, key: str = "clinic") -> httpx.Response:
    return outbound.post(f"{server.url}/api/v1/checks/numbers", json=body, headers=world.auth(key), timeout=10)


def _numbers(server, world, agent, rid: str, insurer: str, ident: str, birth: str = BIRTH, encoding: str = UTF8, **kw):
    """The same check by numbers through the JSON API and through a request file."""
    body = {"insurer_number": insurer, "identification_number": ident, "birthdate": birth}
    body.update({k: v for k, v in kw.items() if k in ("card_symbol", "branch_number")})
    data = _json_check(server, world, body).json()
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        rid,
        rf.single_check(CLINIC, insurer, ident, birth, encoding=encoding, arbitrary_identifier=f"client-{rid}", **kw),
    )
    root = read_file(wait_answer(agent.folder.root, "OQSsiquc01", rid).path)
    assert root.findtext("MessageBody/QualificationConfirmSearchInfo/ArbitraryIdentifier") == f"client-{rid}"
    return data, root, assert_same(data, root, encoding)


def _notice(root) -> tuple[str | None, str]:
    return root.findtext("MessageBody/ProcessingResultCode"), root.findtext("MessageBody/ProcessingResultMessage") or ""


# --- by numbers ---------------------------------------------------------------------------------


def test_designated(world, server, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    data, root, results = _numbers(server, world, agent, "des", PAYER, r["recipient_number"])
    assert data["QualificationValidity"] == "1" and _notice(root) == (None, "")
    assert results[0]["InsurerNumber"] == PAYER and results[0]["PublicExpenseResultList"]["MedicalTicketInfo"]


@pytest.mark.parametrize("case", ["not_designated", "not_registered"])
def test_undesignated_and_not_yet_registered_say_so_and_name_the_office(world, server, agent, case):
    r = world.recipient()
    if case == "not_designated":
        world.ticket(r, on=TODAY, facility=OTHER)
    data, root, results = _numbers(server, world, agent, case, PAYER, r["recipient_number"])
    assert data["QualificationValidity"] == "6"
    code, message = _notice(root)
    assert code == "FJ0601" and "○○市福祉事務所（電話 03-0000-0000）" in message
    assert results[0]["ProcessingResultCode"] == "FJ0601"
    assert "InsurerNumber" not in results[0] and "PublicExpenseResultList" not in results[0]


def test_lost(world, server, agent):
    end = TODAY - dt.timedelta(days=3)
    r = world.recipient(disqualification_date=end.isoformat(), disqualification_kind="2")
    data, root, results = _numbers(server, world, agent, "lost", PAYER, r["recipient_number"])
    assert data["QualificationValidity"] == "2"
    code, message = _notice(root)
    assert code == "FJ0201" and "○○市福祉事務所（電話 03-0000-0000）" in message
    assert f"{end.year}年{end.month}月{end.day}日" in message
    assert results[0]["DisqualificationDate"] == end.strftime("%Y%m%d")


def test_no_match_names_the_office_of_the_payer_number(world, server, agent):
    data, root, results = _numbers(server, world, agent, "none", PAYER, with_check_digit("999999"))
    assert data["QualificationValidity"] == "4" and results == []
    assert data["Contact"] == {"OfficeName": "○○市福祉事務所", "Phone": "03-0000-0000"}
    code, message = _notice(root)
    assert code == "FJ0401" and "○○市福祉事務所（電話 03-0000-0000）" in message


def test_insurance_only(world, server, agent):
    r = world.recipient()
    world.insurance(world.card(r))
    data, _, results = _numbers(
        server, world, agent, "ins", INSURER_NO, "5678", card_symbol="12-34", branch_number="01"
    )
    assert data["QualificationValidity"] == "1"
    assert [x["InsuredCardClassification"] for x in results] == ["01"]
    assert results[0]["InsuredCardValidDate"]  # clinic software refuses a result without it


def _insured(world, db, insurer_number: str, insurer_name: str, card_number: str, **kw) -> dict:
    d = {
        "insurer_number": insurer_number,
        "insurer_name": insurer_name,
        "insured_card_classification": "01",
        "card_number": card_number,
        "name": "保険次郎",
        "name_kana": "ﾎｹﾝ ｼﾞﾛｳ",
        "sex": "1",
        "birthdate": "1948-03-03",
        "qualification_date": "2013-03-02",
    }
    d.update(kw)
    return register_qualification(db, world.principal("admin"), d)


def test_late_elderly_insurance_carries_the_contribution_ratio(world, server, agent, db):
    kouki = with_check_digit("3913001")  # 法別39: 後期高齢者医療広域連合
    _insured(world, db, kouki, "東京都後期高齢者医療広域連合", "00012345", contribution_ratio="010")
    data, _, results = _numbers(server, world, agent, "kouki", kouki, "00012345", birth="19480303")
    assert data["QualificationValidity"] == "1"
    assert results[0]["InsurerNumber"] == kouki and results[0]["InsuredPartialContributionRatio"] == "010"


def test_kokuho_six_digit_number_is_echoed_as_sent_and_written_padded(world, server, agent, db):
    kokuho = with_check_digit("13800")
    assert len(kokuho) == 6
    _insured(world, db, kokuho, "○○市国民健康保険", "4260", card_symbol="あ-1", birthdate="1990-01-15")
    for rid, sent in (("kk1", kokuho), ("kk2", "  " + kokuho)):
        data, root, results = _numbers(server, world, agent, rid, sent, "4260", card_symbol="あ-1")
        assert root.findtext("MessageBody/QualificationConfirmSearchInfo/InsurerNumber") == sent
        assert results[0]["InsurerNumber"] == "  " + kokuho


def test_shift_jis_answer_matches_json_with_windows_31j_characters(world, server, agent):
    r = world.recipient(name="髙橋①㈱", name_kana="ﾀｶﾊｼ")
    world.ticket(r, on=TODAY)
    data, root, results = _numbers(server, world, agent, "sj", PAYER, r["recipient_number"], encoding=SJIS)
    assert results[0]["Name"] == "髙橋①㈱" == data["ResultList"][0]["Name"]


def test_the_search_info_is_echoed_whole_as_sent(world, server, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "echo",
        rf.single_check(
            CLINIC,
            PAYER,
            r["recipient_number"],
            BIRTH,
            card_symbol="券",
            branch_number="00",
            limit_consent="1",
            arbitrary_identifier="カルテ-0042",
        ),
    )
    rf.drop(agent.folder.root, "OQSsiquc01", "echo0", rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    info = read_file(wait_answer(agent.folder.root, "OQSsiquc01", "echo").path).find(
        "MessageBody/QualificationConfirmSearchInfo"
    )
    assert as_dict(info) == {
        "InsurerNumber": PAYER,
        "InsuredCardSymbol": "券",
        "InsuredIdentificationNumber": r["recipient_number"],
        "InsuredBranchNumber": "00",
        "Birthdate": BIRTH,
        "LimitApplicationCertificateRelatedConsFlg": "1",
        "ArbitraryIdentifier": "カルテ-0042",
    }
    info0 = read_file(wait_answer(agent.folder.root, "OQSsiquc01", "echo0").path).find(
        "MessageBody/QualificationConfirmSearchInfo"
    )
    assert info0.findtext("LimitApplicationCertificateRelatedConsFlg") == "0"  # written 0 when not sent


def test_error_answer_has_the_whole_header_and_the_echo(world, server, agent):
    bad = PAYER[:-1] + str((int(PAYER[-1]) + 1) % 10)
    res = _json_check(server, world, {"insurer_number": bad, "identification_number": "1010008", "birthdate": BIRTH})
    assert res.status_code == 422
    assert res.json()["error"]["fields"][0]["field"] == "payer_number"
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "err",
        rf.single_check(CLINIC, bad, "1010008", BIRTH, arbitrary_identifier="x1", confirmation_date="20240710"),
    )
    root = read_file(wait_answer(agent.folder.root, "OQSsiquc01", "err").path)
    head = root.find("MessageHeader")
    assert head.findtext("SegmentOfResult") == "9" and head.findtext("ErrorCode") == "FJ2002"
    assert head.findtext("QualificationConfirmationDate") == "20240710"
    assert head.findtext("ReferenceClassification") == "2"
    assert "InsurerNumber" in head.findtext("ErrorMessage")
    assert root.findtext("MessageBody/QualificationConfirmSearchInfo/InsurerNumber") == bad
    assert root.findtext("MessageBody/QualificationConfirmSearchInfo/ArbitraryIdentifier") == "x1"
    assert root.findtext("MessageBody/ProcessingResultStatus") == "2"


# --- by card (face files) -----------------------------------------------------------------------


def _card_check(world, server, folder, card, encoding=UTF8):
    client = RecordingClient(server.url, world.tokens["clinic"], timeout=5)
    try:
        path = card_check_to_face(client, folder, card["path"], card["pin"], {"PharmacistsInfo": True}, encoding)
    finally:
        client.close()
    return client.last, read_file(path)


def test_combined_insurance_and_undesignated_assistance_in_one_face_file(world, server, folder):
    r = world.recipient()
    world.ticket(r, on=TODAY, facility=OTHER)
    card = world.card(r)
    world.insurance(card)
    data, root = _card_check(world, server, folder, card)
    results = assert_same(data, root)
    assert [x["InsuredCardClassification"] for x in results] == ["01", "A1"]  # insurance first, then 医療扶助
    assert data["QualificationValidity"] == "1"  # the insurance is valid …
    assert results[1]["ProcessingResultCode"] == "FJ0601"  # … and the A1 result says it is 未委託
    assert _notice(root)[0] == "FJ0601" and "03-0000-0000" in _notice(root)[1]
    assert "ProcessingResultCode" not in results[0]


def test_combined_insurance_and_lost_assistance(world, server, folder):
    r = world.recipient(disqualification_date=(TODAY - dt.timedelta(days=1)).isoformat(), disqualification_kind="2")
    card = world.card(r)
    world.insurance(card)
    data, root = _card_check(world, server, folder, card, SJIS)
    results = assert_same(data, root, SJIS)
    assert results[1]["ProcessingResultCode"] == "FJ0201"


# --- bulk ---------------------------------------------------------------------------------------


def test_bulk_month_of_many_people_matches_the_json_feed(world, server, make_agent):
    agent = make_agent(zip_threshold=4000)
    for i in range(25):
        world.ticket(world.recipient(name=f"一括{i:02d}"), on=TODAY, issue_number=str(100 + i))
    month = TODAY.strftime("%Y%m")
    data = outbound.get(
        f"{server.url}/api/v1/facility/tickets",
        params={"month": TODAY.strftime("%Y-%m")},
        headers=world.auth("clinic"),
        timeout=10,
    ).json()
    rf.drop(agent.folder.root, "OQSmutic01", "m1", rf.bulk_start(CLINIC, month))
    number = read_file(wait_answer(agent.folder.root, "OQSmutic01", "m1").path).findtext("MessageBody/ReceptionNumber")
    rf.drop(agent.folder.root, "OQSmutic02", "m2", rf.bulk_fetch(CLINIC, number))
    answer = wait_answer(agent.folder.root, "OQSmutic02", "m2")
    assert answer.path.suffix == ".zip"
    root = read_file(answer.path)
    units = root.findall("MessageBody/BulkConfirmUnit")
    assert len(units) == 25 == int(root.findtext("MessageHeader/NumberOfProcessingResult"))
    assert [u.findtext("QualificationValidity") for u in units] == [
        x["QualificationValidity"] for x in data["ResultList"]
    ]
    results = [as_dict(u.find("ResultOfQualificationConfirmation")) for u in units]
    expected = [wire_only(x, str) for x in data["ResultList"]]
    for got, want in zip(results, expected):
        assert got == want, {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
    assert len(results) == len(expected)


def test_bulk_check_units_match_the_json_batch(world, server, agent):
    designated, elsewhere = world.recipient(), world.recipient(name="扶助花子", birthdate="1985-04-02")
    world.ticket(designated, on=TODAY)
    world.ticket(elsewhere, on=TODAY, facility=OTHER)
    world.insurance(world.card(designated))
    items = [
        {"insurer_number": PAYER, "identification_number": designated["recipient_number"], "birthdate": BIRTH},
        {"insurer_number": PAYER, "identification_number": elsewhere["recipient_number"], "birthdate": "19850402"},
        {"insurer_number": PAYER, "identification_number": with_check_digit("999999"), "birthdate": BIRTH},
        {
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "card_symbol": "12-34",
            "branch_number": "01",
            "birthdate": BIRTH,
        },
    ]
    for i, it in enumerate(items):
        it["arbitrary_identifier"] = f"P{i:04d}"
    data = outbound.post(
        f"{server.url}/api/v1/checks/numbers/batch", json={"items": items}, headers=world.auth("clinic"), timeout=10
    ).json()
    rf.drop(agent.folder.root, "OQSmuquc01", "u1", rf.bulk_check(CLINIC, items))
    number = read_file(wait_answer(agent.folder.root, "OQSmuquc01", "u1").path).findtext("MessageBody/ReceptionNumber")
    rf.drop(agent.folder.root, "OQSmuquc02", "u2", rf.bulk_fetch(CLINIC, number))
    root = read_file(wait_answer(agent.folder.root, "OQSmuquc02", "u2").path)
    units = root.findall("MessageBody/BulkConfirmUnit")
    assert len(units) == len(items) == int(root.findtext("MessageHeader/NumberOfProcessingResult"))
    for unit, item, res in zip(units, items, data["Results"], strict=True):
        check = res["Check"]
        assert unit.findtext("QualificationConfirmSearchInfo/ArbitraryIdentifier") == item["arbitrary_identifier"]
        assert unit.findtext("QualificationValidity") == check["QualificationValidity"]
        for el in ("ProcessingResultCode", "ProcessingResultMessage"):
            assert unit.findtext(el) == check.get(el), el
        got = [as_dict(r) for r in unit.findall("ResultOfQualificationConfirmation")]
        assert got == [wire_only(r, str) for r in check["ResultList"]]
    assert [u.findtext("QualificationValidity") for u in units] == ["1", "6", "4", "1"]
