"""The cases of the vendor acceptance test: each drives the shared folder like a レセコン would and
checks the answers against the scenario it loaded. A case records what it expected and what it
got; the runner (vendortest.py) turns that into the report and the JUnit XML."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from . import requestfiles as rf
from .client import ServerClient
from .face import card_check_to_face
from .messages import BULK_CHECK, BULK_CHECK_FETCH, BULK_FETCH, BULK_START, REFERENCE, SINGLE_CHECK
from .namereuse import run_race
from .scenarios import Api, Scenario, add_ticket
from .xmlio import SJIS, atomic_write


@dataclass
class Context:
    scenario: Scenario
    folder: Path
    api: Api
    server_url: str
    timeout: float = 15.0
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    _n: itertools.count = field(default_factory=itertools.count)

    def rid(self) -> str:
        return f"vt{self.run_id}{next(self._n):03d}"

    def ask(self, kind: str, data: bytes) -> rf.Answer:
        rid = self.rid()
        rf.drop(self.folder, kind, rid, data)
        return rf.wait_answer(self.folder, kind, rid, self.timeout)

    def check(self, key: str, **kw) -> rf.Answer:
        """OQSsiquc01 for a scenario person, with the person's birth date (required) unless the
        case passes another one — or ``birthdate=None`` to leave it out."""
        p = self.scenario.people[key]
        kw.setdefault("birthdate", p.birthdate)
        return self.ask(
            SINGLE_CHECK, rf.single_check(self.scenario.facility_code, p.payer_number, p.recipient_number, **kw)
        )

    def bulk(self) -> rf.Answer:
        sc = self.scenario
        first = self.ask(BULK_START, rf.bulk_start(sc.facility_code, sc.month))
        number = first.get("MessageBody/ReceptionNumber")
        if not number:
            raise AssertionError(
                f"OQSmutic01res carries no ReceptionNumber (SegmentOfResult "
                f"{first.get('MessageHeader/SegmentOfResult')}, {first.get('MessageHeader/ErrorCode')})"
            )
        return self.ask(BULK_FETCH, rf.bulk_fetch(sc.facility_code, number))


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def eq(self, what: str, got, want) -> None:
        if got != want:
            self.failures.append(f"{what}: expected {want!r}, got {got!r}")

    def true(self, what: str, cond) -> None:
        if not cond:
            self.failures.append(what)


def _ok(c: Checks, a: rf.Answer, validity: str) -> None:
    c.true(f"{a.path.name} is an XML answer", not a.is_err)
    c.eq("SegmentOfResult", a.get("MessageHeader/SegmentOfResult"), "1")
    c.eq("QualificationValidity", a.get("MessageBody/QualificationValidity"), validity)


def _error(c: Checks, a: rf.Answer) -> None:
    c.true(f"{a.path.name} is an XML answer", not a.is_err)
    c.eq("SegmentOfResult", a.get("MessageHeader/SegmentOfResult"), "9")
    c.true("ErrorCode set", bool(a.get("MessageHeader/ErrorCode")))
    c.true("ErrorMessage set", bool(a.get("MessageHeader/ErrorMessage")))
    c.eq("results", len(_results(a)), 0)


# what an answer without the numbers never carries (未委託, lost, not billable this month)
_MASKED = ("InsurerNumber", "InsuredIdentificationNumber", "PublicExpenseResultList", "Address")


def _withheld(c: Checks, res, names) -> None:
    for hidden in names:
        c.true(f"{hidden} withheld", res.find(hidden) is None)


def _results(a: rf.Answer, card_class: str | None = None):
    # a check answers in ResultList; 委託先一括取得 in one BulkConfirmUnit per recipient
    res = a.all("MessageBody/ResultList/ResultOfQualificationConfirmation") or a.all(
        "MessageBody/BulkConfirmUnit/ResultOfQualificationConfirmation"
    )
    return [x for x in res if card_class is None or x.findtext("InsuredCardClassification") == card_class]


def _assistance_check(ctx: Context, c: Checks, person: str, validity: str):
    """A check by numbers of a scenario person answering ``validity`` with one 医療扶助 result;
    returns the answer and its 医療扶助 results."""
    a = ctx.check(person)
    _ok(c, a, validity)
    res = _results(a, "A1")
    c.eq("A1 results", len(res), 1)
    return a, res


def designated(ctx: Context, c: Checks) -> None:
    """委託先の医療機関で番号による資格確認: 有効, numbers and the 医療券 are returned."""
    sc, p = ctx.scenario, ctx.scenario.people["designated"]
    _, res = _assistance_check(ctx, c, "designated", "1")
    if res:
        c.eq("InsurerNumber (公費負担者番号)", res[0].findtext("InsurerNumber"), p.payer_number)
        c.eq(
            "InsuredIdentificationNumber (受給者番号)",
            res[0].findtext("InsuredIdentificationNumber"),
            p.recipient_number,
        )
        c.eq("InsurerName (福祉事務所名)", res[0].findtext("InsurerName"), sc.office_name)
        c.eq("Name", res[0].findtext("Name"), p.name)
        c.eq("Birthdate", res[0].findtext("Birthdate"), p.birthdate)
        c.eq("Address", res[0].findtext("Address"), p.address)
        t = res[0].find("PublicExpenseResultList/MedicalTicketInfo")
        c.true("MedicalTicketInfo present", t is not None)
        if t is not None:
            c.eq("DesignatedMedicalInstitutionCode", t.findtext("DesignatedMedicalInstitutionCode"), sc.facility_code)
            c.eq("DesignatedMedicalInstitutionFlag", t.findtext("DesignatedMedicalInstitutionFlag"), "0")
            c.eq("MedicalTreatmentMonth", t.findtext("MedicalTreatmentMonth"), sc.month)
            c.eq("TicketType", t.findtext("TicketType"), "01")


def _notice(c: Checks, a: rf.Answer, res, code: str, office: str | None = None) -> None:
    """fujo's notice code (docs/TERMINAL.md) at body level and in the A1 result, naming the office."""
    c.eq("MessageBody/ProcessingResultCode", a.get("MessageBody/ProcessingResultCode"), code)
    if res is not None:
        c.eq("ProcessingResultCode of the A1 result", res.findtext("ProcessingResultCode"), code)
    if office:
        c.true(
            f"ProcessingResultMessage names {office} to call",
            office in (a.get("MessageBody/ProcessingResultMessage") or ""),
        )


def echo(ctx: Context, c: Checks) -> None:
    """QualificationConfirmSearchInfo comes back whole, as sent (ArbitraryIdentifier, the 限度額 flag)."""
    p = ctx.scenario.people["designated"]
    a = ctx.check("designated", card_symbol="券", limit_consent="0", arbitrary_identifier="カルテ-0042")
    _ok(c, a, "1")
    sent = {
        "InsurerNumber": p.payer_number,
        "InsuredCardSymbol": "券",
        "InsuredIdentificationNumber": p.recipient_number,
        "Birthdate": p.birthdate,
        "LimitApplicationCertificateRelatedConsFlg": "0",
        "ArbitraryIdentifier": "カルテ-0042",
    }
    for el, v in sent.items():
        c.eq(f"echoed {el}", a.get(f"MessageBody/QualificationConfirmSearchInfo/{el}"), v)
    b = ctx.check("designated")
    c.eq(
        "LimitApplicationCertificateRelatedConsFlg echoed as 0 when not sent",
        b.get("MessageBody/QualificationConfirmSearchInfo/LimitApplicationCertificateRelatedConsFlg"),
        "0",
    )


def cp932_name(ctx: Context, c: Checks) -> None:
    """Shift_JIS は Windows-31J: 髙・① are written as characters; 𠮷 (outside it) as 吉, never as &#…;."""
    a = ctx.check("cp932", encoding=SJIS)
    _ok(c, a, "1")
    c.true("no character references (&#…;) in the file", b"&#" not in a.raw)
    try:
        a.raw.decode("cp932")
        c.true("the whole file decodes as cp932", True)
    except UnicodeDecodeError as e:
        c.true(f"the whole file decodes as cp932 ({e})", False)
    names = a.all(".//Name")
    c.eq("Name", names[0].text if names else None, "髙橋吉子①")


def no_match_office(ctx: Context, c: Checks) -> None:
    """該当なし (a valid 公費負担者番号, an unknown 受給者番号): the office of that number is named to call."""
    sc = ctx.scenario
    a = ctx.ask(SINGLE_CHECK, rf.single_check(sc.facility_code, sc.payer_number, "9999996", "19900115"))
    _ok(c, a, "4")
    c.eq("results", len(_results(a)), 0)
    _notice(c, a, None, "FJ0401", sc.office_name)


def shift_jis(ctx: Context, c: Checks) -> None:
    """Shift_JIS の要求には Shift_JIS で回答する (CharacterCodeIdentifier 1)."""
    p = ctx.scenario.people["designated"]
    a = ctx.check("designated", encoding=SJIS)
    _ok(c, a, "1")
    c.true("answer declared as Shift_JIS", a.raw.lower().startswith(b'<?xml version="1.0" encoding="shift_jis"'))
    c.eq("CharacterCodeIdentifier", a.get("MessageHeader/CharacterCodeIdentifier"), "1")
    names = a.all(".//Name")
    c.eq("Name", names[0].text if names else None, p.name)


def not_designated(ctx: Context, c: Checks) -> None:
    """未委託: 有効（未登録）; 公費負担者番号・受給者番号・医療券情報・住所・資格の日付は返さない."""
    p = ctx.scenario.people["not_designated"]
    a, res = _assistance_check(ctx, c, "not_designated", "6")
    if res:
        c.eq("Name", res[0].findtext("Name"), p.name)
        c.eq("Birthdate", res[0].findtext("Birthdate"), p.birthdate)
        c.eq("InsurerName (福祉事務所名)", res[0].findtext("InsurerName"), ctx.scenario.office_name)
        _withheld(c, res[0], (*_MASKED, "PostNumber", "QualificationDate", "DisqualificationDate", "ReasonOfLoss"))
        _notice(c, a, res[0], "FJ0601", ctx.scenario.office_name)


def late_ticket(ctx: Context, c: Checks) -> None:
    """未登録の医療券が後から登録され、委託先一括取得で取り込まれる."""
    sc, p = ctx.scenario, ctx.scenario.people["late"]
    _ok(c, ctx.check("late"), "6")
    before = [x.findtext("InsuredIdentificationNumber") for x in _results(ctx.bulk())]
    c.true("not in bulk result before registration", p.recipient_number not in before)
    c.true("designated person in bulk result", sc.people["designated"].recipient_number in before)
    add_ticket(ctx.api, sc, "late", sc.facility_code)
    after = {x.findtext("InsuredIdentificationNumber"): x for x in _results(ctx.bulk())}
    c.true("found by bulk retrieval after registration", p.recipient_number in after)
    if p.recipient_number in after:
        c.eq(
            "MedicalTreatmentMonth",
            after[p.recipient_number].findtext("PublicExpenseResultList/MedicalTicketInfo/MedicalTreatmentMonth"),
            sc.month,
        )
    _ok(c, ctx.check("late"), "1")


def lost(ctx: Context, c: Checks) -> None:
    """保護廃止: 無効, with 保護停止・廃止日; no numbers, tickets or address (and no ReasonOfLoss: that
    insurance table does not apply to the end of 保護, which has its own 停止/廃止 in the JSON answer)."""
    a, res = _assistance_check(ctx, c, "lost", "2")
    if res:
        c.true("DisqualificationDate given", bool(res[0].findtext("DisqualificationDate")))
        _notice(c, a, res[0], "FJ0201", ctx.scenario.office_name)
        _withheld(c, res[0], (*_MASKED, "PostNumber", "ReasonOfLoss"))


def no_qualification(ctx: Context, c: Checks) -> None:
    """生年月日が一致しない: 該当資格なし, nothing revealed."""
    a = ctx.check("designated", birthdate="20000101")
    _ok(c, a, "4")
    c.eq("results", len(_results(a)), 0)


def no_birthdate(ctx: Context, c: Checks) -> None:
    """生年月日のない要求: refused with an error (numbers alone must not reveal who receives 保護)."""
    _error(c, ctx.check("designated", birthdate=None))


def combined(ctx: Context, c: Checks) -> None:
    """併用: one card check returns 医療保険 and 医療扶助 with the consent chosen at the reader."""
    sc = ctx.scenario
    client = ServerClient(ctx.server_url, sc.facility_token)
    try:
        path = card_check_to_face(client, ctx.folder, sc.card, sc.card_pin, {"PharmacistsInfo": True})
    finally:
        client.close()
    a = rf.read_answer(path)
    _ok(c, a, "1")
    c.eq("ReferenceClassification", a.get("MessageHeader/ReferenceClassification"), "1")
    classes = sorted(x.findtext("InsuredCardClassification") for x in _results(a))
    c.eq("InsuredCardClassification of the results", classes, ["01", "A1"])
    for x in _results(a):
        c.eq(
            f"PharmacistsInfoConsFlg ({x.findtext('InsuredCardClassification')})",
            x.findtext("PharmacistsInfoConsFlg"),
            "1",
        )
        c.eq(
            f"DiagnosisInfoConsFlg ({x.findtext('InsuredCardClassification')})", x.findtext("DiagnosisInfoConsFlg"), "0"
        )
    a1 = _results(a, "A1")
    if a1:
        c.eq(
            "SingleOrCombinedUse", a1[0].findtext("PublicExpenseResultList/MedicalTicketInfo/SingleOrCombinedUse"), "02"
        )
    ins = ctx.ask(
        SINGLE_CHECK,
        rf.single_check(
            sc.facility_code,
            sc.insurer_number,
            sc.insurance["card_number"],
            birthdate=sc.people["combined"].birthdate,
            card_symbol=sc.insurance["card_symbol"],
            branch_number="01",
        ),
    )
    _ok(c, ins, "1")
    c.eq("insurance check result classes", [x.findtext("InsuredCardClassification") for x in _results(ins)], ["01"])


def _insured_check(ctx: Context, key: str, limit_consent: str | None = None) -> rf.Answer:
    """OQSsiquc01 for an insurance-only person of the scenario (保険者番号 + 記号・番号 + 生年月日)."""
    q = ctx.scenario.insured[key]
    return ctx.ask(
        SINGLE_CHECK,
        rf.single_check(
            ctx.scenario.facility_code,
            q["insurer_number"],
            q["card_number"],
            birthdate=q["birthdate"].replace("-", ""),
            card_symbol=q.get("card_symbol"),
            limit_consent=limit_consent,
        ),
    )


def insurance_details(ctx: Context, c: Checks) -> None:
    """医療保険の詳細: 後期高齢 (法別39) 1割, 6桁の国保番号, 70〜74歳の高齢受給者証 — InsuredCardValidDate,
    InsuredPartialContributionRatio and both consent flags (0) in every insurance result."""
    want = {"kouki": "010", "kokuho": "030", "elderly": "020"}
    for key, ratio in want.items():
        q = ctx.scenario.insured[key]
        a = _insured_check(ctx, key)
        _ok(c, a, "1")
        res = _results(a)
        c.eq(f"{key}: results", len(res), 1)
        if not res:
            continue
        r = res[0]
        c.eq(f"{key}: InsuredCardClassification", r.findtext("InsuredCardClassification"), "01")
        c.eq(f"{key}: InsurerNumber", r.findtext("InsurerNumber"), q["insurer_number"].rjust(8))
        c.eq(f"{key}: InsuredPartialContributionRatio", r.findtext("InsuredPartialContributionRatio"), ratio)
        c.eq(f"{key}: InsuredCardValidDate", r.findtext("InsuredCardValidDate"), q["card_valid_from"].replace("-", ""))
        c.eq(
            f"{key}: InsuredCardExpirationDate",
            r.findtext("InsuredCardExpirationDate"),
            q["card_valid_to"].replace("-", ""),
        )
        for flag in ("LimitApplicationCertificateRelatedConsFlg", "SpecificDiseasesCertificateRelatedConsFlg"):
            c.eq(f"{key}: {flag}", r.findtext(flag), "0")
        elderly = r.find("ElderlyRecipientCertificateInfo")
        c.eq(f"{key}: ElderlyRecipientCertificateInfo present", elderly is not None, key == "elderly")
        if elderly is not None:
            c.eq("ElderlyRecipientContributionRatio", elderly.findtext("ElderlyRecipientContributionRatio"), "020")
            c.eq(
                "ElderlyRecipientValidStartDate",
                elderly.findtext("ElderlyRecipientValidStartDate"),
                q["elderly_valid_from"].replace("-", ""),
            )


def limit_consent(ctx: Context, c: Checks) -> None:
    """限度額適用認定証: returned only when the request carries LimitApplicationCertificateRelatedConsFlg 1;
    the 特定疾病療養受療証 needs the consent given at the card reader, so never by numbers."""
    for flag in ("0", "1"):
        a = _insured_check(ctx, "limit", flag)
        _ok(c, a, "1")
        c.eq(
            f"echoed consent flag ({flag})",
            a.get("MessageBody/QualificationConfirmSearchInfo/LimitApplicationCertificateRelatedConsFlg"),
            flag,
        )
        res = _results(a)
        if not res:
            c.true("a result", False)
            continue
        r = res[0]
        c.eq(
            f"LimitApplicationCertificateRelatedConsFlg ({flag})",
            r.findtext("LimitApplicationCertificateRelatedConsFlg"),
            flag,
        )
        info = r.find("LimitApplicationCertificateRelatedInfo")
        c.eq(f"LimitApplicationCertificateRelatedInfo present ({flag})", info is not None, flag == "1")
        c.eq(
            f"LimitApplicationCertificateRelatedConsTime present ({flag})",
            r.find("LimitApplicationCertificateRelatedConsTime") is not None,
            flag == "1",
        )
        if info is not None:
            c.eq(
                "LimitApplicationCertificateClassification",
                info.findtext("LimitApplicationCertificateClassification"),
                "01",
            )
            c.eq(
                "LimitApplicationCertificateClassificationFlag",
                info.findtext("LimitApplicationCertificateClassificationFlag"),
                "A03",
            )
        c.eq(
            f"SpecificDiseasesCertificateRelatedConsFlg ({flag})",
            r.findtext("SpecificDiseasesCertificateRelatedConsFlg"),
            "0",
        )
        _withheld(c, r, ("SpecificDiseasesCertificateList",))


def reference_number(ctx: Context, c: Checks) -> None:
    """照会番号の登録 (OQSsiimm01) by numbers + birth date of a card holder: later checks come back with
    the ReferenceNumber. A qualification not yet linked to a card is refused with an error."""
    sc = ctx.scenario
    ref = "VT" + secrets.token_hex(4).upper()
    unlinked = sc.people["designated"]
    _error(
        c,
        ctx.ask(
            REFERENCE,
            rf.reference(sc.facility_code, ref, unlinked.payer_number, unlinked.recipient_number, unlinked.birthdate),
        ),
    )
    p = sc.people["combined"]  # holds a card: linked by the office's 初回ひも付け
    a = ctx.ask(REFERENCE, rf.reference(sc.facility_code, ref, p.payer_number, p.recipient_number, p.birthdate))
    c.eq("SegmentOfResult", a.get("MessageHeader/SegmentOfResult"), "1")
    c.eq("ProcessingResultStatus", a.get("MessageBody/ProcessingResultStatus"), "1")
    got = [x.findtext("ReferenceNumber") for x in _results(ctx.check("combined"), "A1")]
    c.eq("ReferenceNumber in a later check", got, [ref])
    got = [x.findtext("ReferenceNumber") for x in _results(ctx.check("designated"), "A1")]
    c.eq("ReferenceNumber of the person refused", got, [None])


def bulk_check(ctx: Context, c: Checks) -> None:
    """資格確認一括照会: OQSmuquc01 with six people → ReceptionNumber → OQSmuquc02 with one
    BulkConfirmUnit per person in request order, each echoing its search info (ArbitraryIdentifier),
    each answered as the single check answers; a request without a birth date answered in its place."""
    sc, p = ctx.scenario, ctx.scenario.people
    ins = sc.insurance

    def person(key, ident, **kw):
        d = {
            "insurer_number": p[key].payer_number,
            "identification_number": p[key].recipient_number,
            "birthdate": p[key].birthdate,
            "arbitrary_identifier": ident,
        }
        d.update(kw)
        return d

    items = [
        person("designated", "VT_1"),
        person("not_designated", "VT_2"),
        person("lost", "VT_3"),
        person("designated", "VT_4", birthdate="20000101"),
        person("designated", "VT_5", birthdate=None),
        {
            "insurer_number": ins["insurer_number"],
            "card_symbol": ins["card_symbol"],
            "identification_number": ins["card_number"],
            "branch_number": ins["branch_number"],
            "birthdate": ins["birthdate"].replace("-", ""),
            "arbitrary_identifier": "VT_6",
        },
    ]
    first = ctx.ask(BULK_CHECK, rf.bulk_check(sc.facility_code, items, arbitrary_id="VT-BULK"))
    number = first.get("MessageBody/ReceptionNumber")
    if not number:
        raise AssertionError(
            f"OQSmuquc01res carries no ReceptionNumber (SegmentOfResult "
            f"{first.get('MessageHeader/SegmentOfResult')}, {first.get('MessageHeader/ErrorCode')})"
        )
    a = ctx.ask(BULK_CHECK_FETCH, rf.bulk_fetch(sc.facility_code, number))
    c.true(f"{a.path.name} is an XML (or zip) answer", not a.is_err)
    c.eq("SegmentOfResult", a.get("MessageHeader/SegmentOfResult"), "1")
    c.eq("ReceptionNumber", a.get("MessageHeader/ReceptionNumber"), number)
    c.eq("NumberOfProcessingResult", a.get("MessageHeader/NumberOfProcessingResult"), "6")
    c.eq("NumberOfError", a.get("MessageHeader/NumberOfError"), "1")
    units = a.all("MessageBody/BulkConfirmUnit")
    c.eq(
        "ArbitraryIdentifier of each BulkConfirmUnit",
        [u.findtext("QualificationConfirmSearchInfo/ArbitraryIdentifier") for u in units],
        [x["arbitrary_identifier"] for x in items],
    )
    c.eq(
        "ProcessingResultStatus of each", [u.findtext("ProcessingResultStatus") for u in units], ["1"] * 4 + ["2", "1"]
    )
    c.eq(
        "QualificationValidity of each",
        [u.findtext("QualificationValidity") for u in units],
        ["1", "6", "2", "4", None, "1"],
    )
    if len(units) != 6:
        return
    res = units[0].find("ResultOfQualificationConfirmation")
    c.true("designated: a result", res is not None)
    if res is not None:
        c.eq(
            "designated: InsuredIdentificationNumber",
            res.findtext("InsuredIdentificationNumber"),
            p["designated"].recipient_number,
        )
        c.eq(
            "designated: DesignatedMedicalInstitutionFlag",
            res.findtext("PublicExpenseResultList/MedicalTicketInfo/DesignatedMedicalInstitutionFlag"),
            "0",
        )
    for i, key in ((1, "not_designated"), (2, "lost")):
        res = units[i].find("ResultOfQualificationConfirmation")
        c.true(f"{key}: a result", res is not None)
        if res is not None:
            c.eq(f"{key}: Name", res.findtext("Name"), p[key].name)
            _withheld(c, res, _MASKED)
    c.eq("not found: results", len(units[3].findall("ResultOfQualificationConfirmation")), 0)
    c.true("no birth date: ProcessingResultCode", bool(units[4].findtext("ProcessingResultCode")))
    c.true("no birth date: ProcessingResultMessage", bool(units[4].findtext("ProcessingResultMessage")))
    c.eq("no birth date: results", len(units[4].findall("ResultOfQualificationConfirmation")), 0)
    c.eq(
        "insurance: InsuredCardClassification",
        [x.findtext("InsuredCardClassification") for x in units[5].findall("ResultOfQualificationConfirmation")],
        ["01"],
    )


def setting_off(ctx: Context, c: Checks) -> None:
    """「医療扶助」利用しない: the check is refused with an error, nothing is returned."""
    sc = ctx.scenario
    ctx.api.call(sc.facility_token, "PUT", "/facility/settings", json={"medical_assistance_enabled": False})
    try:
        a = ctx.check("designated")
    finally:
        ctx.api.call(sc.facility_token, "PUT", "/facility/settings", json={"medical_assistance_enabled": True})
    _error(c, a)


def malformed(ctx: Context, c: Checks) -> None:
    """壊れた要求ファイル: a .err (or an error answer), and the next request is still answered."""
    rid = ctx.rid()
    atomic_write(ctx.folder / "req" / f"{SINGLE_CHECK}req_{rid}.xml", b"<XmlMsg><MessageHeader></XmlMsg>")
    a = rf.wait_answer(ctx.folder, SINGLE_CHECK, rid, ctx.timeout)
    c.true("answered with .err or SegmentOfResult 9", a.is_err or a.get("MessageHeader/SegmentOfResult") == "9")
    _ok(c, ctx.check("designated"), "1")


def name_reuse(ctx: Context, c: Checks) -> None:
    """同じファイル名の再利用を全速で: 3 clients, each cycling 2 file names and writing its next request
    under a name as soon as it has read and removed the previous outcome. Every request gets exactly
    one outcome — an answer echoing its ArbitraryFileIdentifier, or a .err (FJ1007: name already
    answered) — none is lost, none is left over; the first request under each name is answered."""
    sc, p = ctx.scenario, ctx.scenario.people["designated"]

    def request(arbitrary_id: str) -> bytes:
        return rf.single_check(
            sc.facility_code, p.payer_number, p.recipient_number, p.birthdate, arbitrary_id=arbitrary_id
        )

    sent, problems = run_race(
        ctx.folder,
        SINGLE_CHECK,
        request,
        prefix=f"vt{ctx.run_id}race",
        clients=3,
        per_client=6,
        names_per_client=2,
        timeout=ctx.timeout,
    )
    for text in problems:
        c.true(text, False)
    c.eq("requests written", len(sent), 18)
    first: dict = {}
    for s in sorted(sent, key=lambda s: s.seq):
        first.setdefault(s.name, s)
    c.true(
        "the first request under each name answered with an answer file",
        all(s.outcome.endswith(".xml") for s in first.values()),
    )


CASES = [
    ("designated", "委託先での番号による資格確認 / designated facility, check by numbers", designated),
    ("echo", "照会条件の返却 / search info echoed whole", echo),
    ("shift_jis", "Shift_JIS の要求と回答 / Shift_JIS request and answer", shift_jis),
    ("cp932_name", "Windows-31J の文字と範囲外の文字 / Windows-31J characters and one outside it", cp932_name),
    ("no_match_office", "該当なし（福祉事務所の案内） / no match, the office to call", no_match_office),
    ("not_designated", "未委託 / not the designated facility", not_designated),
    ("late_ticket", "後日登録の医療券を一括取得 / ticket registered later, found by bulk retrieval", late_ticket),
    ("lost", "保護廃止 / qualification lost", lost),
    ("no_qualification", "該当資格なし / no matching qualification", no_qualification),
    ("no_birthdate", "生年月日なしの要求 / request without a birth date", no_birthdate),
    ("combined", "医療保険との併用（カード） / combined with health insurance (card)", combined),
    ("insurance_details", "後期高齢・国保・高齢受給者証 / 後期高齢, 国保 and 高齢受給者証 items", insurance_details),
    (
        "limit_consent",
        "限度額適用認定証（同意あり・なし） / 限度額 certificate with and without consent",
        limit_consent,
    ),
    ("reference_number", "照会番号の登録 / 照会番号 registration", reference_number),
    ("bulk_check", "資格確認一括照会 / bulk check (OQSmuquc01/02)", bulk_check),
    ("setting_off", "「医療扶助」利用しない / facility setting off", setting_off),
    ("malformed", "壊れた要求ファイル / malformed request", malformed),
    ("name_reuse", "同じファイル名の再利用（全速） / file names re-used at full speed", name_reuse),
]
