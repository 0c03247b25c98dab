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
from fujo.core.fields import ELDERLY_BLOCK, INSURANCE_FIELDS, LIMIT_BLOCK, SPECIFIC_DISEASE_BLOCK, TICKET_FIELDS
from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.insurance.service import register_qualification
from fujo.registry.queries import latest_revision
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
CP932 = etree.XMLParser(encoding="cp932", resolve_entities=False, no_network=True, load_dtd=False, recover=False)
FULL_TICKET = {
    "prescription_issuer_code": CLINIC,
    "prescription_issuer_name": "●●医療機関",
    "self_pay_amount": "1200",
    "district_contact_name": "福祉太郎",
    "handling_contact_name": "事務花子",
    "social_insurance": "02",
    "consistency_flag": "0",
    "infection_status": "02",
    "elderly_care_status": "02",
    "prefectural_expense_status": "01",
    "remarks1": "備考一",
    "remarks2": "備考二",
    "remarks3": "備考三",
}


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
    # An independent reader: "Shift_JIS" files are Windows-31J (cp932), as on the Windows clients.
    shift_jis = raw.startswith(b'<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>')
    assert shift_jis or raw.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    root = etree.fromstring(raw, CP932 if shift_jis else STRICT)
    SCHEMA.assertValid(root)
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == ("1" if shift_jis else "0")
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


WIRE = {f.name: f.wire for f in INSURANCE_FIELDS}
FLAT_DETAILS = (
    "insured_name",
    "name_of_other",
    "name_of_other_kana",
    "card_issuance_date",
    "card_valid_to",
    "contribution_ratio",
    "preschool",
)


def _insurance_details(res, row) -> int:
    """The issue-7 items of an insurance result against the row: flat items, InsuredCardValidDate
    (資格取得日 when none is registered), the 高齢受給者証 block, and the 限度額/特定疾病 blocks only
    under a consent flag of 1 (the flags are always there)."""
    n = 0
    for col in FLAT_DETAILS:
        assert res.findtext(WIRE[col]) == _wire(getattr(row, col)), col
        n += 1
    assert res.findtext("InsuredCardValidDate") == _wire(row.card_valid_from or row.qualification_date)
    blocks = (
        ("ElderlyRecipientCertificateInfo/", ELDERLY_BLOCK, True),
        (
            "LimitApplicationCertificateRelatedInfo/",
            LIMIT_BLOCK,
            res.findtext("LimitApplicationCertificateRelatedConsFlg") == "1",
        ),
        (
            "SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/",
            SPECIFIC_DISEASE_BLOCK,
            res.findtext("SpecificDiseasesCertificateRelatedConsFlg") == "1",
        ),
    )
    for prefix, block, shown in blocks:
        for col in block:
            assert res.findtext(prefix + WIRE[col]) == (_wire(getattr(row, col)) if shown else None), col
            n += 1
    for flag in ("LimitApplicationCertificateRelatedConsFlg", "SpecificDiseasesCertificateRelatedConsFlg"):
        assert res.findtext(flag) in ("0", "1"), flag
        assert (res.find(flag.replace("Flg", "Time")) is not None) == (res.findtext(flag) == "1")
    return n


def _check_against_db(conn, root, facility: str) -> int:
    """Compare every result of one answer with the rows it came from; returns how many fields."""
    n = 0
    if (
        root.findtext("MessageHeader/SegmentOfResult") == "1"
        and root.find("MessageHeader/QualificationConfirmationDate") is not None
    ):
        assert root.findtext("MessageHeader/QualificationConfirmationDate") == TODAY.strftime("%Y%m%d")
    if root.find("MessageHeader/MedicalInstitutionCode") is not None:
        assert root.findtext("MessageHeader/MedicalInstitutionCode") == facility
    r, t, q = s.recipients, s.tickets, s.insurance_qualifications
    for res in root.iter("ResultOfQualificationConfirmation"):
        if res.findtext("InsuredCardClassification") == "A1":
            if res.find("InsuredIdentificationNumber") is not None:
                row = conn.execute(
                    select(r).where(
                        r.c.payer_number == res.findtext("InsurerNumber"),
                        r.c.recipient_number == res.findtext("InsuredIdentificationNumber"),
                    )
                ).one()
            else:  # 未委託: numbers withheld, so find the person by name and birth date
                row = conn.execute(select(r).where(r.c.name == res.findtext("Name"))).one()
            # a single check has one A1 result, whose validity is the answer's; bulk and face answers here are 1
            validity = root.findtext("MessageBody/QualificationValidity") or "1"
            _person_fields(res, row, validity)
            assert res.findtext("ReasonOfLoss") is None  # 停止・廃止 has its own table, not ReasonOfLoss
            office = conn.execute(
                select(s.organisations.c.name)
                .select_from(
                    s.office_payers.join(s.organisations, s.organisations.c.id == s.office_payers.c.organisation_id)
                )
                .where(s.office_payers.c.payer_number == row.payer_number)
            ).scalar_one()
            assert res.findtext("InsurerName") == office
            for info in res.iterfind("PublicExpenseResultList/MedicalTicketInfo"):
                trow = conn.execute(
                    select(t).where(
                        t.c.recipient_id == row.id,
                        latest_revision(),
                        t.c.issue_number == info.findtext("IssueNumber"),
                    )
                ).one()
                for f in TICKET_FIELDS:
                    assert info.findtext(f.wire) == _wire(getattr(trow, f.name)), f.wire
                    n += 1
                assert info.findtext("DesignatedMedicalInstitutionFlag") == (
                    "0" if trow.designated_facility_code == facility else "1"
                )
        else:
            row = conn.execute(
                select(q).where(
                    q.c.insurer_number == res.findtext("InsurerNumber").strip(),
                    q.c.card_number == res.findtext("InsuredIdentificationNumber"),
                )
            ).one()
            _person_fields(res, row)
            assert res.findtext("InsurerNumber") == row.insurer_number.rjust(8)
            for el, col in (
                ("InsurerName", "insurer_name"),
                ("InsuredCardClassification", "insured_card_classification"),
                ("InsuredCardSymbol", "card_symbol"),
                ("InsuredBranchNumber", "branch_number"),
                ("PersonalFamilyClassification", "personal_family"),
            ):
                assert res.findtext(el) == getattr(row, col), el
            n += _insurance_details(res, row)
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
    shiro = world.recipient(
        name="廃止四郎",
        qualification_date="2020-04-01",
        disqualification_date=(TODAY - dt.timedelta(days=3)).isoformat(),
        disqualification_kind="2",
    )
    card = world.card(ichiro)
    kokuho = with_check_digit("13800")  # 6-digit 国保 number: written space-padded to 8
    register_qualification(
        db,
        world.principal("admin"),
        {
            "insurer_number": kokuho,
            "insurer_name": "○○市国民健康保険",
            "insured_card_classification": "01",
            "card_symbol": "あ-1",
            "card_number": "4260",
            "name": "生保一郎",
            "name_kana": "ｾｲﾎ ｲﾁﾛｳ",
            "sex": "1",
            "birthdate": "1990-01-15",
            "qualification_date": "2019-04-01",
            "card_serial": card["serial"],
            "insured_name": "生保太郎",
            "card_issuance_date": "2019-03-25",
            "card_valid_to": "2026-07-31",
            "contribution_ratio": "030",
            "limit_classification": "01",
            "limit_bracket": "A04",
            "limit_valid_from": "2024-08-01",
        },
    )

    asks = [
        ("OQSsiquc01", "a", rf.single_check(CLINIC, PAYER, ichiro["recipient_number"], birthdate="19900115")),
        ("OQSsiquc01", "b", rf.single_check(CLINIC, PAYER, hanako["recipient_number"], "19850402", encoding=SJIS)),
        ("OQSsiquc01", "c", rf.single_check(CLINIC, PAYER, shiro["recipient_number"], "19900115")),
        ("OQSsiquc01", "d", rf.single_check(CLINIC, kokuho, "4260", "19900115", card_symbol="あ-1")),
        ("OQSsiquc01", "e", rf.single_check(CLINIC, PAYER, "1010009", "19900115")),
        (
            "OQSsiimm01",
            "f",
            rf.reference(CLINIC, "K0001", PAYER, ichiro["recipient_number"], "19900115", encoding=SJIS),
        ),
        ("OQSmutic01", "g", rf.bulk_start(CLINIC, MONTH, encoding=SJIS)),
    ]
    for kind, rid, data in asks:
        rf.drop(root, kind, rid, data)
        wait_answer(root, kind, rid)
    number = wait_answer(root, "OQSmutic01", "g").get("MessageBody/ReceptionNumber")
    rf.drop(root, "OQSmutic02", "h", rf.bulk_fetch(CLINIC, number, encoding=SJIS))
    assert wait_answer(root, "OQSmutic02", "h").path.suffix == ".zip"
    card_check_to_face(agent.agent.client, root, card["path"], card["pin"], {"DiagnosisInfo": True}, SJIS)
    card_check_to_face(agent.agent.client, root, card["path"], card["pin"], {"OperationInfo": True})
    wait_for(lambda: not any(agent.folder.req.iterdir()))

    files = sorted(
        p for d in (agent.folder.res, agent.folder.face) for p in d.iterdir() if p.suffix in (".xml", ".zip")
    )
    assert len(files) == 10
    fields = 0
    with db.read() as conn:
        for path in files:
            fields += _check_against_db(conn, _strict(path), CLINIC)
    assert fields > 80
    # the masked answers were really there to compare (not error answers): 6 for 未委託, 2 for 廃止
    got = {
        path.stem.split("_", 1)[1]: etree.parse(str(path)).getroot().findtext("MessageBody/QualificationValidity")
        for path in files
        if path.parent == agent.folder.res and path.name.startswith("OQSsiquc01res_")
    }
    assert got == {"a": "1", "b": "6", "c": "2", "d": "1", "e": None}
    face = _strict(sorted(agent.folder.face.iterdir())[0])
    assert next(x.text for x in face.iter("InsurerNumber")) == " " * 2 + kokuho


def test_insurance_details_and_the_limit_consent_of_a_check_by_numbers(world, agent, db):
    """後期高齢 (法別39, 1割), a 70–74 person with a 高齢受給者証 and a 限度額適用認定証: every item is
    written in the validated layout; the 限度額 block only when the request carries the consent."""
    kouki = with_check_digit("3913001")
    kokuho = with_check_digit("13822")
    for code, name in ((kouki, "東京都後期高齢者医療広域連合"), (kokuho, "○○区国民健康保険")):
        register_qualification(
            db,
            world.principal("admin"),
            {
                "insurer_number": code,
                "insurer_name": name,
                "insured_card_classification": "01",
                "card_number": "77" + code[-3:],
                "name": "高齢花子",
                "name_kana": "ｺｳﾚｲ ﾊﾅｺ",
                "sex": "2",
                "birthdate": "1944-05-05" if code == kouki else "1952-09-15",
                "qualification_date": "2019-05-01",
                "card_valid_from": "2024-08-01",
                "card_valid_to": "2025-07-31",
                "card_issuance_date": "2024-07-15",
                "contribution_ratio": "010" if code == kouki else "020",
                "personal_family": "1",
                "insured_name": "高齢花子",
                **(
                    {}
                    if code == kouki
                    else {
                        "elderly_certificate_date": "2024-07-15",
                        "elderly_valid_from": "2024-08-01",
                        "elderly_valid_to": "2025-07-31",
                        "elderly_contribution_ratio": "020",
                    }
                ),
                "limit_classification": "02",
                "limit_bracket": "B05",
                "limit_certificate_date": "2024-07-15",
                "limit_valid_from": "2024-08-01",
                "limit_valid_to": "2025-07-31",
                "limit_long_term_date": "2024-11-01",
                "specific_disease_category": "1",
                "specific_disease_valid_from": "2024-08-01",
                "specific_disease_self_pay": "10000",
            },
        )
    root = agent.folder.root
    birth = {kouki: "19440505", kokuho: "19520915"}
    asks = {"k0": (kouki, None), "k1": (kouki, "1"), "n0": (kokuho, "0"), "n1": (kokuho, "1")}
    for rid, (code, flag) in asks.items():
        rf.drop(
            root, "OQSsiquc01", rid, rf.single_check(CLINIC, code, "77" + code[-3:], birth[code], limit_consent=flag)
        )
    with db.read() as conn:
        for rid, (code, flag) in asks.items():
            ans = _strict(wait_answer(root, "OQSsiquc01", rid).path)
            assert ans.findtext("MessageBody/QualificationValidity") == "1", rid
            assert _check_against_db(conn, ans, CLINIC) > 20
            res = ans.find(".//ResultOfQualificationConfirmation")
            assert res.findtext("LimitApplicationCertificateRelatedConsFlg") == (flag or "0")
            assert (res.find("LimitApplicationCertificateRelatedInfo") is not None) == (flag == "1")
            # 特定疾病 needs the consent given at a card reader: never by numbers
            assert res.findtext("SpecificDiseasesCertificateRelatedConsFlg") == "0"
            assert res.find("SpecificDiseasesCertificateList") is None
            assert res.findtext("InsuredPartialContributionRatio") == ("010" if code == kouki else "020")
            assert (res.find("ElderlyRecipientCertificateInfo") is not None) == (code == kokuho)
            # the order of the items: person, card dates and ratio, then the blocks and their flags
            names = [c.tag for c in res]
            assert (
                names.index("InsuredCardValidDate")
                < names.index("InsuredPartialContributionRatio")
                < names.index("LimitApplicationCertificateRelatedConsFlg")
                < names.index("SpecificDiseasesCertificateRelatedConsFlg")
            )


def test_face_file_with_the_limit_and_diseases_consent_carries_both_blocks(world, agent, db):
    """Consent at the reader (5th and 6th bits): the face file has both blocks, validated and equal to the DB."""
    r = world.recipient()
    world.ticket(r, on=TODAY, single_or_combined="02", social_insurance="01")
    card = world.card(r)
    world.insurance(
        card,
        card_valid_from="2024-08-01",
        contribution_ratio="030",
        limit_classification="02",
        limit_bracket="A05",
        limit_valid_from="2024-08-01",
        limit_long_term_date="2024-12-01",
        specific_disease_category="3",
        specific_disease_valid_from="2024-04-01",
        specific_disease_self_pay="10000",
    )
    path = card_check_to_face(
        agent.agent.client,
        agent.folder.root,
        card["path"],
        card["pin"],
        {"LimitApplicationCertificateRelated": True, "SpecificDiseasesCertificateRelated": True},
    )
    root = _strict(path)
    ins = [x for x in root.iter("ResultOfQualificationConfirmation") if x.findtext("InsuredCardClassification") == "01"]
    assert len(ins) == 1
    with db.read() as conn:
        row = conn.execute(select(s.insurance_qualifications)).one()
    assert _insurance_details(ins[0], row) > 15
    assert (
        ins[0].findtext("LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateLongTermDate") == "20241201"
    )
    assert (
        ins[0].findtext(
            "SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/SpecificDiseasesDiseaseCategory"
        )
        == "3"
    )
