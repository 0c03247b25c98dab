"""Round trip: every answer the agent writes is parsed with a strict parser, validated against a
strict schema (tests/terminal/response.xsd — fujo's own, not the official XSD, which is not
public) and every field is compared with the database."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from fujo.core.dates import today_jst
from fujo.core.fields import TICKET_FIELDS
from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.insurance.service import register_qualification
from fujo.terminal import requestfiles as rf
from fujo.terminal.face import card_check_to_face
from fujo.terminal.requestfiles import wait_answer
from fujo.terminal.xmlio import SJIS
from tests.factories import CLINIC, PAYER
from tests.terminal.conftest import wait_for

TODAY = today_jst()
MONTH = TODAY.strftime("%Y%m")
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("response.xsd"))))
STRICT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False)
FULL_TICKET = {"prescription_issuer_code": CLINIC, "prescription_issuer_name": "●●医療機関", "self_pay_amount": "1200",
               "district_contact_name": "福祉太郎", "handling_contact_name": "事務花子", "social_insurance": "02",
               "consistency_flag": "0", "infection_status": "02", "elderly_care_status": "02",
               "prefectural_expense_status": "01", "remarks1": "備考一", "remarks2": "備考二", "remarks3": "備考三"}


def _wire(v):
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v.strftime("%Y%m%d")
    return str(v)


def _strict(path: Path) -> etree._Element:
    raw = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            raw = z.read(path.stem + ".xml")
    root = etree.fromstring(raw, STRICT)
    SCHEMA.assertValid(root)
    assert root.getroottree().docinfo.encoding in ("UTF-8", "Shift_JIS")
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == (
        "1" if root.getroottree().docinfo.encoding == "Shift_JIS" else "0")
    return root


PERSON = (("Name", "name"), ("NameKana", "name_kana"), ("Sex1", "sex"), ("Birthdate", "birthdate"))
ADDRESS = (("Address", "address"), ("PostNumber", "post_number"))
DATES = (("QualificationDate", "qualification_date"), ("DisqualificationDate", "disqualification_date"))


def _person_fields(res, row, validity: str = "1") -> None:
    """Every person field equals the row's — except what a masked answer withholds: the address
    for any validity but 1, and the qualification's dates for 6 (有効（未登録）)."""
    shown = PERSON + (ADDRESS if validity == "1" else ()) + (DATES if validity != "6" else ())
    for el, col in shown:
        assert res.findtext(el) == _wire(getattr(row, col)), el
    for el, _ in set(ADDRESS + DATES) - set(shown):
        assert res.find(el) is None, el


def _check_against_db(conn, root, facility: str) -> int:
    """Compare every result of one answer with the rows it came from; returns how many fields."""
    n = 0
    if root.findtext("MessageHeader/SegmentOfResult") == "1" and root.find("MessageHeader/QualificationConfirmationDate") is not None:
        assert root.findtext("MessageHeader/QualificationConfirmationDate") == TODAY.strftime("%Y%m%d")
    if root.find("MessageHeader/MedicalInstitutionCode") is not None:
        assert root.findtext("MessageHeader/MedicalInstitutionCode") == facility
    r, t, q = s.recipients, s.tickets, s.insurance_qualifications
    for res in root.iter("ResultOfQualificationConfirmation"):
        if res.findtext("InsuredCardClassification") == "A1":
            if res.find("InsuredIdentificationNumber") is not None:
                row = conn.execute(select(r).where(r.c.payer_number == res.findtext("InsurerNumber"),
                                                   r.c.recipient_number == res.findtext("InsuredIdentificationNumber"))).one()
            else:  # 未委託: numbers withheld, so find the person by name and birth date
                row = conn.execute(select(r).where(r.c.name == res.findtext("Name"))).one()
            # a single check has one A1 result, whose validity is the answer's; bulk and face answers here are 1
            validity = root.findtext("MessageBody/QualificationValidity") or "1"
            _person_fields(res, row, validity)
            assert res.findtext("ReasonOfLoss") == (row.reason_of_loss if validity != "6" else None)
            office = conn.execute(select(s.organisations.c.name).select_from(
                s.office_payers.join(s.organisations, s.organisations.c.id == s.office_payers.c.organisation_id))
                .where(s.office_payers.c.payer_number == row.payer_number)).scalar_one()
            assert res.findtext("InsurerName") == office
            for info in res.iterfind("PublicExpenseResultList/MedicalTicketInfo"):
                trow = conn.execute(select(t).where(t.c.recipient_id == row.id, t.c.superseded_by.is_(None),
                                                    t.c.issue_number == info.findtext("IssueNumber"))).one()
                for f in TICKET_FIELDS:
                    assert info.findtext(f.wire) == _wire(getattr(trow, f.name)), f.wire
                    n += 1
                assert info.findtext("DesignatedMedicalInstitutionFlag") == (
                    "0" if trow.designated_facility_code == facility else "1")
        else:
            row = conn.execute(select(q).where(q.c.insurer_number == res.findtext("InsurerNumber").strip(),
                                               q.c.card_number == res.findtext("InsuredIdentificationNumber"))).one()
            _person_fields(res, row)
            assert res.findtext("InsurerNumber") == row.insurer_number.rjust(8)
            for el, col in (("InsurerName", "insurer_name"), ("InsuredCardClassification", "insured_card_classification"),
                            ("InsuredCardSymbol", "card_symbol"), ("InsuredBranchNumber", "branch_number"),
                            ("PersonalFamilyClassification", "personal_family")):
                assert res.findtext(el) == getattr(row, col), el
        n += 1
    return n


def test_every_answer_validates_strictly_and_matches_the_database(world, make_agent, db):
    agent = make_agent(zip_threshold=3000)
    root = agent.folder.root
    ichiro = world.recipient()
    world.ticket(ichiro, on=TODAY, issue_number="11", **FULL_TICKET)
    world.ticket(ichiro, on=TODAY, facility=world.orgs["pharmacy"]["code"], issue_number="12")
    hanako = world.recipient(name="扶助花子", name_kana="ﾌｼﾞｮ ﾊﾅｺ", sex="2", birthdate="1985-04-02")
    world.ticket(hanako, on=TODAY, facility=world.orgs["other"]["code"], issue_number="13")
    shiro = world.recipient(name="廃止四郎", qualification_date="2020-04-01",
                            disqualification_date=(TODAY - dt.timedelta(days=3)).isoformat(), reason_of_loss="99")
    card = world.card(ichiro)
    kokuho = with_check_digit("13800")  # 6-digit 国保 number: written space-padded to 8
    register_qualification(db, world.principal("admin"), {
        "insurer_number": kokuho, "insurer_name": "○○市国民健康保険", "insured_card_classification": "02",
        "card_symbol": "あ-1", "card_number": "4260", "name": "生保一郎", "name_kana": "ｾｲﾎ ｲﾁﾛｳ", "sex": "1",
        "birthdate": "1990-01-15", "qualification_date": "2019-04-01", "card_serial": card["serial"]})

    asks = [("OQSsiquc01", "a", rf.single_check(CLINIC, PAYER, ichiro["recipient_number"], birthdate="19900115")),
            ("OQSsiquc01", "b", rf.single_check(CLINIC, PAYER, hanako["recipient_number"], "19850402", encoding=SJIS)),
            ("OQSsiquc01", "c", rf.single_check(CLINIC, PAYER, shiro["recipient_number"], "19900115")),
            ("OQSsiquc01", "d", rf.single_check(CLINIC, kokuho, "4260", "19900115", card_symbol="あ-1")),
            ("OQSsiquc01", "e", rf.single_check(CLINIC, PAYER, "1010009", "19900115")),
            ("OQSsiimm01", "f", rf.reference(CLINIC, "K0001", PAYER, ichiro["recipient_number"], "19900115",
                                             encoding=SJIS)),
            ("OQSmutic01", "g", rf.bulk_start(CLINIC, MONTH, encoding=SJIS))]
    for kind, rid, data in asks:
        rf.drop(root, kind, rid, data)
        wait_answer(root, kind, rid)
    number = wait_answer(root, "OQSmutic01", "g").get("MessageBody/ReceptionNumber")
    rf.drop(root, "OQSmutic02", "h", rf.bulk_fetch(CLINIC, number, encoding=SJIS))
    assert wait_answer(root, "OQSmutic02", "h").path.suffix == ".zip"
    card_check_to_face(agent.agent.client, root, card["path"], card["pin"], {"DiagnosisInfo": True}, SJIS)
    card_check_to_face(agent.agent.client, root, card["path"], card["pin"], {"OperationInfo": True})
    wait_for(lambda: not any(agent.folder.req.iterdir()))

    files = sorted(p for d in (agent.folder.res, agent.folder.face) for p in d.iterdir() if p.suffix in (".xml", ".zip"))
    assert len(files) == 10
    fields = 0
    with db.read() as conn:
        for path in files:
            fields += _check_against_db(conn, _strict(path), CLINIC)
    assert fields > 80
    # the masked answers were really there to compare (not error answers): 6 for 未委託, 2 for 廃止
    got = {path.stem.split("_", 1)[1]: etree.parse(str(path)).getroot().findtext("MessageBody/QualificationValidity")
           for path in files if path.parent == agent.folder.res and path.name.startswith("OQSsiquc01res_")}
    assert got == {"a": "1", "b": "6", "c": "2", "d": "1", "e": None}
    face = _strict(sorted(agent.folder.face.iterdir())[0])
    assert [x.text for x in face.iter("InsurerNumber")][0] == " " * 2 + kokuho
