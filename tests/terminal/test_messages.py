"""Every message type through a real folder, a real agent thread and a real HTTP server."""

from __future__ import annotations

import datetime as dt

from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.face import card_check_to_face
from fujo.terminal.requestfiles import read_answer, wait_answer
from fujo.terminal.xmlio import SJIS
from tests.factories import CLINIC, INSURER_NO, OTHER, PAYER
from tests.helpers import snapshot

TODAY = today_jst()
MONTH = TODAY.strftime("%Y%m")
BIRTH = "19900115"  # the factories' 生保一郎


def test_single_check_of_a_designated_ticket_returns_the_ticket(world, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "0001",
        rf.single_check(CLINIC, PAYER, r["recipient_number"], birthdate="19900115", arbitrary_id="abc"),
    )
    a = wait_answer(agent.folder.root, "OQSsiquc01", "0001")
    assert a.path.name == "OQSsiquc01res_0001.xml"
    assert a.get("MessageHeader/SegmentOfResult") == "1"
    assert a.get("MessageHeader/ArbitraryFileIdentifier") == "abc"
    assert a.get("MessageHeader/ReferenceClassification") == "2"
    assert a.get("MessageHeader/MedicalInstitutionCode") == CLINIC
    assert a.get("MessageBody/QualificationValidity") == "1"
    res = a.all("MessageBody/ResultList/ResultOfQualificationConfirmation")
    assert len(res) == 1
    assert res[0].findtext("InsuredCardClassification") == "A1"
    assert res[0].findtext("InsurerNumber") == PAYER
    assert res[0].findtext("InsuredIdentificationNumber") == r["recipient_number"]
    assert res[0].findtext("InsurerName") == "○○市福祉事務所"
    assert res[0].findtext("Birthdate") == "19900115"
    t = res[0].find("PublicExpenseResultList/MedicalTicketInfo")
    assert t.findtext("DesignatedMedicalInstitutionCode") == CLINIC
    assert t.findtext("DesignatedMedicalInstitutionFlag") == "0"
    assert t.findtext("MedicalTreatmentMonth") == MONTH
    assert t.findtext("MedicalTicketValidDate") == TODAY.replace(day=1).strftime("%Y%m%d")
    # fujo extras never reach the file
    assert a.root.find(".//CheckId") is None and a.root.find(".//Contact") is None
    assert res[0].find("QualificationValidity") is None
    # the request has been consumed
    assert not (agent.folder.req / "OQSsiquc01req_0001.xml").exists()


def test_undesignated_facility_gets_validity_6_without_numbers_tickets_address_or_dates(world, make_agent):
    r = world.recipient()  # with an address and a 保護開始日
    world.ticket(r, on=TODAY)  # designates the clinic
    agent = make_agent("other")
    rf.drop(agent.folder.root, "OQSsiquc01", "u1", rf.single_check(OTHER, PAYER, r["recipient_number"], BIRTH))
    a = wait_answer(agent.folder.root, "OQSsiquc01", "u1")
    assert a.get("MessageBody/QualificationValidity") == "6"
    [res] = a.all(".//ResultOfQualificationConfirmation")
    assert res.findtext("Name") == "生保一郎" and res.findtext("Birthdate") == BIRTH
    assert res.findtext("InsurerName") == "○○市福祉事務所"
    for hidden in (
        "InsurerNumber",
        "InsuredIdentificationNumber",
        "PublicExpenseResultList",
        "Address",
        "PostNumber",
        "QualificationDate",
        "DisqualificationDate",
        "ReasonOfLoss",
    ):
        assert res.find(hidden) is None, hidden
    assert b"unregistered" not in a.raw and b"not_designated" not in a.raw  # the server's Reason never reaches the file


def test_lost_qualification_keeps_its_end_date_but_not_the_address(world, agent):
    r = world.recipient(disqualification_date=(TODAY - dt.timedelta(days=3)).isoformat(), disqualification_kind="2")
    rf.drop(agent.folder.root, "OQSsiquc01", "l1", rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    a = wait_answer(agent.folder.root, "OQSsiquc01", "l1")
    assert a.get("MessageBody/QualificationValidity") == "2"
    [res] = a.all(".//ResultOfQualificationConfirmation")
    assert res.findtext("DisqualificationDate") == (TODAY - dt.timedelta(days=3)).strftime("%Y%m%d")
    assert res.findtext("QualificationDate") == "20200401"
    # 停止/廃止 is not the insurance ReasonOfLoss table: not written for A1 (the JSON has DisqualificationKind)
    for hidden in (
        "InsurerNumber",
        "InsuredIdentificationNumber",
        "PublicExpenseResultList",
        "Address",
        "PostNumber",
        "ReasonOfLoss",
    ):
        assert res.find(hidden) is None, hidden


def test_a_check_without_a_birth_date_is_refused_naming_birthdate(world, agent, db):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    before = snapshot(db)
    rf.drop(agent.folder.root, "OQSsiquc01", "nb", rf.single_check(CLINIC, PAYER, r["recipient_number"]))
    a = wait_answer(agent.folder.root, "OQSsiquc01", "nb")
    assert a.path.suffix == ".xml"
    assert a.get("MessageHeader/SegmentOfResult") == "9"
    assert a.get("MessageHeader/ErrorCode") == "FJ2001"
    assert a.get("MessageHeader/ErrorMessage") == "必須の要素 Birthdate がありません。"
    assert a.get("MessageBody/ProcessingResultStatus") == "2"
    assert a.root.find(".//ResultList") is None
    assert "生保" not in a.raw.decode("utf-8")
    assert snapshot(db) == before  # the server was never asked: no check is logged


def test_shift_jis_request_gets_a_shift_jis_answer(world, agent):
    r = world.recipient(name="髙橋①子")
    world.ticket(r, on=TODAY)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "sj",
        rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH, encoding=SJIS),
    )
    a = wait_answer(agent.folder.root, "OQSsiquc01", "sj")
    assert a.raw.startswith(b'<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>')
    assert a.get("MessageHeader/CharacterCodeIdentifier") == "1"
    assert "橋".encode("shift_jis") in a.raw and "橋".encode() not in a.raw
    # "Shift_JIS" is Windows-31J: 髙 and ① go out as characters, never as references.
    assert "髙橋①子".encode("cp932") in a.raw and b"&#" not in a.raw
    assert a.all(".//Name")[0].text == "髙橋①子"
    assert a.raw.decode("cp932")  # a plain cp932 decode reads the whole file


def test_a_name_outside_windows_31j_gets_the_documented_fallback(world, agent):
    r = world.recipient(name="𠮷野㈱🙂")
    world.ticket(r, on=TODAY)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "sjx",
        rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH, encoding=SJIS),
    )
    a = wait_answer(agent.folder.root, "OQSsiquc01", "sjx")
    assert b"&#" not in a.raw
    assert a.all(".//Name")[0].text == "吉野㈱〓"  # 𠮷 → 吉 (its common form), others → 〓 (docs/TERMINAL.md)


def test_insurance_check_by_numbers_pads_nothing_for_8_digit_insurers(world, agent):
    r = world.recipient()
    card = world.card(r)
    world.insurance(card)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "ins",
        rf.single_check(CLINIC, INSURER_NO, "5678", BIRTH, card_symbol="12-34", branch_number="01"),
    )
    a = wait_answer(agent.folder.root, "OQSsiquc01", "ins")
    res = a.all(".//ResultOfQualificationConfirmation")
    assert [x.findtext("InsuredCardClassification") for x in res] == ["01"]
    assert res[0].findtext("InsurerNumber") == INSURER_NO
    assert res[0].findtext("InsuredCardSymbol") == "12-34"
    assert a.get("MessageBody/QualificationValidity") == "1"


def test_insurance_numbers_shared_by_a_family_without_the_branch_number_answer_5_and_reveal_no_one(world, agent):
    world.insurance()  # 枝番 01, born 1990-01-15
    world.insurance(branch_number="02", name="生保花子", name_kana="ｾｲﾎ ﾊﾅｺ", sex="2")  # same number and birth date
    root = agent.folder.root
    rf.drop(root, "OQSsiquc01", "fam", rf.single_check(CLINIC, INSURER_NO, "5678", BIRTH, card_symbol="12-34"))
    a = wait_answer(root, "OQSsiquc01", "fam")
    assert a.get("MessageHeader/SegmentOfResult") == "1"
    assert a.get("MessageBody/QualificationValidity") == "5"
    assert a.root.find(".//ResultList") is None
    assert "生保" not in a.raw.decode("utf-8")
    rf.drop(
        root,
        "OQSsiquc01",
        "fam2",
        rf.single_check(CLINIC, INSURER_NO, "5678", BIRTH, card_symbol="12-34", branch_number="02"),
    )
    a = wait_answer(root, "OQSsiquc01", "fam2")
    assert a.get("MessageBody/QualificationValidity") == "1"
    assert [x.text for x in a.all(".//ResultOfQualificationConfirmation/Name")] == ["生保花子"]


def test_card_check_writes_a_face_file_with_the_chosen_consent(world, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    card = world.card(r)
    world.insurance(card)
    path = card_check_to_face(
        agent.agent.client,
        agent.folder.root,
        card["path"],
        card["pin"],
        {"PharmacistsInfo": True, "SpecificHealthCheckupsInfo": True},
    )
    assert path.parent == agent.folder.face and path.name.startswith("OQSsiquc01res_face_")
    a = read_answer(path)
    assert a.get("MessageHeader/ReferenceClassification") == "1"
    res = a.all(".//ResultOfQualificationConfirmation")
    assert [x.findtext("InsuredCardClassification") for x in res] == ["01", "A1"]
    for x in res:
        assert x.findtext("PharmacistsInfoConsFlg") == "1"
        assert x.findtext("DiagnosisInfoConsFlg") == "0"
        assert x.findtext("SpecificHealthCheckupsInfoConsFlg") == "1"
        assert x.findtext("OperationInfoConsFlg") == "0"
        cons = dt.datetime.strptime(x.findtext("PharmacistsInfoConsTime"), "%Y%m%d%H%M%S")
        avail = dt.datetime.strptime(x.findtext("PharmacistsInfoAvailableTime"), "%Y%m%d%H%M%S")
        assert avail - cons == dt.timedelta(hours=24)
        assert x.find("DiagnosisInfoConsTime") is None


def test_bulk_retrieval_finds_a_ticket_registered_after_the_visit(world, agent):
    r = world.recipient()
    root = agent.folder.root
    rf.drop(root, "OQSsiquc01", "visit", rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    assert wait_answer(root, "OQSsiquc01", "visit").get("MessageBody/QualificationValidity") == "6"
    world.ticket(r, on=TODAY)  # the welfare office registers it later

    rf.drop(root, "OQSmutic01", "b1", rf.bulk_start(CLINIC, MONTH))
    first = wait_answer(root, "OQSmutic01", "b1")
    number = first.get("MessageBody/ReceptionNumber")
    assert first.get("MessageHeader/SegmentOfResult") == "1" and number and number.isdigit()
    rf.drop(root, "OQSmutic02", "b1", rf.bulk_fetch(CLINIC, number))
    a = wait_answer(root, "OQSmutic02", "b1")
    assert a.path.suffix == ".xml"
    assert a.get("MessageBody/ReceptionNumber") == number
    assert a.get("MessageBody/MedicalTreatmentMonth") == MONTH
    units = a.all("MessageBody/BulkConfirmUnit")
    assert [u.findtext("QualificationValidity") for u in units] == ["1"]
    assert a.get("MessageHeader/NumberOfProcessingResult") == "1"
    res = a.all("MessageBody/BulkConfirmUnit/ResultOfQualificationConfirmation")
    assert [x.findtext("InsuredIdentificationNumber") for x in res] == [r["recipient_number"]]
    assert res[0].find("RegisteredAt") is None
    assert res[0].findtext("PublicExpenseResultList/MedicalTicketInfo/MedicalTreatmentMonth") == MONTH


def test_large_bulk_result_comes_as_a_zip_holding_the_xml(world, make_agent):
    agent = make_agent(zip_threshold=500)
    r = world.recipient()
    world.ticket(r, on=TODAY)
    root = agent.folder.root
    rf.drop(root, "OQSmutic01", "z", rf.bulk_start(CLINIC, MONTH))
    number = wait_answer(root, "OQSmutic01", "z").get("MessageBody/ReceptionNumber")
    rf.drop(root, "OQSmutic02", "z", rf.bulk_fetch(CLINIC, number))
    a = wait_answer(root, "OQSmutic02", "z")
    assert a.path.name == "OQSmutic02res_z.zip"
    assert a.all(".//InsuredIdentificationNumber")[0].text == r["recipient_number"]


def test_reference_number_registration_shows_up_in_later_checks(world, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    world.card(r)  # the office's 初回ひも付け: only a linked qualification can get a 照会番号
    root = agent.folder.root
    rf.drop(root, "OQSsiimm01", "ref", rf.reference(CLINIC, "P000123", PAYER, r["recipient_number"], BIRTH))
    a = wait_answer(root, "OQSsiimm01", "ref")
    assert a.get("MessageHeader/SegmentOfResult") == "1"
    assert a.get("MessageBody/ProcessingResultStatus") == "1"
    assert a.get("MessageBody/QualificationConfirmSearchInfo/Birthdate") == BIRTH
    assert a.get("MessageBody/QualificationConfirmSearchInfo/ReferenceNumber") == "P000123"
    rf.drop(root, "OQSsiquc01", "after", rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH))
    assert wait_answer(root, "OQSsiquc01", "after").all(".//ReferenceNumber")[0].text == "P000123"
    # …and in 委託先一括取得: in the result and in its BulkConfirmUnit, where public clients read it
    rf.drop(root, "OQSmutic01", "refb", rf.bulk_start(CLINIC, MONTH))
    number = wait_answer(root, "OQSmutic01", "refb").get("MessageBody/ReceptionNumber")
    rf.drop(root, "OQSmutic02", "refb", rf.bulk_fetch(CLINIC, number))
    [unit] = wait_answer(root, "OQSmutic02", "refb").all("MessageBody/BulkConfirmUnit")
    assert unit.findtext("ReferenceNumber") == "P000123"
    assert unit.findtext("ResultOfQualificationConfirmation/ReferenceNumber") == "P000123"


def test_reference_number_for_insurance_shared_by_a_family_needs_the_branch_number(world, agent):
    r = world.recipient()
    world.insurance(world.card(r))  # 枝番 01: the card holder
    world.insurance(branch_number="02", name="生保花子", name_kana="ｾｲﾎ ﾊﾅｺ", sex="2")  # same number and birth date
    root = agent.folder.root
    rf.drop(root, "OQSsiimm01", "fam", rf.reference(CLINIC, "P7", INSURER_NO, "5678", BIRTH))
    a = wait_answer(root, "OQSsiimm01", "fam")
    assert (a.get("MessageHeader/SegmentOfResult"), a.get("MessageHeader/ErrorCode")) == ("9", "FJ3004")
    assert "枝番" in a.get("MessageHeader/ErrorMessage")
    rf.drop(root, "OQSsiimm01", "fam2", rf.reference(CLINIC, "P7", INSURER_NO, "5678", BIRTH, branch_number="01"))
    a = wait_answer(root, "OQSsiimm01", "fam2")
    assert a.get("MessageHeader/SegmentOfResult") == "1"
    assert a.get("MessageBody/QualificationConfirmSearchInfo/InsuredBranchNumber") == "01"
    rf.drop(root, "OQSsiquc01", "after", rf.single_check(CLINIC, INSURER_NO, "5678", BIRTH, branch_number="01"))
    assert [x.text for x in wait_answer(root, "OQSsiquc01", "after").all(".//ReferenceNumber")] == ["P7"]
