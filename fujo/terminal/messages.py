"""The messages of the file interface: request files in, response files out.

Names, nesting and code values follow the public third-party descriptions of the official
interface (see docs/TERMINAL.md). The server's check responses already use these element names as
JSON keys, so building a response is mostly ordering: each element below is written in the order
of these tables, and keys that are fujo extras (CheckId, Contact, Reason, per-result validity,
RegisteredAt …) are never written because they are not in a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ..core import codes, numbers
from ..core.codes import REFERENCE_NUMBERS
from ..core.dates import now_jst, parse_month, wire_time
from ..core.eligibility import CONSENT_KINDS
from ..core.errors import Problems
from .errors import FileRejected, TerminalError
from .xmlio import SJIS, UTF8, Parsed, sub, text_of

SINGLE_CHECK, BULK_START, BULK_FETCH, REFERENCE = "OQSsiquc01", "OQSmutic01", "OQSmutic02", "OQSsiimm01"
BULK_CHECK, BULK_CHECK_FETCH = "OQSmuquc01", "OQSmuquc02"  # 資格確認一括照会 (terminal/bulkcheck.py)
KINDS = {
    SINGLE_CHECK: "資格確認（単件）",
    BULK_START: "委託先一括取得（要求）",
    BULK_FETCH: "委託先一括取得（結果取得）",
    REFERENCE: "照会番号登録（単件）",
    BULK_CHECK: "資格確認一括照会（要求）",
    BULK_CHECK_FETCH: "資格確認一括照会（結果取得）",
}
ECHOING = (SINGLE_CHECK, REFERENCE)  # requests whose answers echo QualificationConfirmSearchInfo
FILE_NAME = re.compile(r"^(OQS[A-Za-z]{5}[0-9]{2})req_([A-Za-z0-9_.-]{1,80})\.xml$")

SEGMENT_OK, SEGMENT_ERROR = "1", "9"  # SegmentOfResult (2 = 処理中 is never needed: answers are immediate)
STATUS_OK, STATUS_ERROR = "1", "2"  # ProcessingResultStatus

HEADER_ORDER = (
    "ProcessExecutionTime",
    "QualificationConfirmationDate",
    "MedicalInstitutionCode",
    "ArbitraryFileIdentifier",
    "ReferenceClassification",
    "SegmentOfResult",
    "ErrorCode",
    "ErrorMessage",
    "CharacterCodeIdentifier",
)
# QualificationConfirmSearchInfo, echoed whole in every answer to a check (clients that validate
# require it): each element the request sent comes back as sent; the consent flag is 0 when absent.
SEARCH_ORDER = (
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "Birthdate",
    "LimitApplicationCertificateRelatedConsFlg",
    "ArbitraryIdentifier",
    "ReferenceNumber",
)
LIMIT_CONSENT = "LimitApplicationCertificateRelatedConsFlg"
RESULT_ORDER = (
    "InsuredCardClassification",
    "InsurerNumber",
    "InsurerName",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "PersonalFamilyClassification",
    "InsuredName",
    "Name",
    "NameOfOther",
    "NameKana",
    "NameOfOtherKana",
    "Sex1",
    "Sex2",
    "Birthdate",
    "Address",
    "PostNumber",
    "QualificationDate",
    "DisqualificationDate",
    "InsuredCertificateIssuanceDate",
    "InsuredCardValidDate",
    "InsuredCardExpirationDate",
    "InsuredPartialContributionRatio",
    "PreschoolClassification",
    "ReasonOfLoss",
    "ReferenceNumber",
)
# 医療保険 only, after the items above: the certificate blocks and the two consent flags that govern
# them (the flags are in every insurance result), in the order of the public descriptions.
INSURANCE_ORDER = (
    "ElderlyRecipientCertificateInfo",
    "LimitApplicationCertificateRelatedConsFlg",
    "LimitApplicationCertificateRelatedConsTime",
    "LimitApplicationCertificateRelatedInfo",
    "SpecificDiseasesCertificateRelatedConsFlg",
    "SpecificDiseasesCertificateRelatedConsTime",
    "SpecificDiseasesCertificateList",
)
BLOCK_ORDER = {
    "ElderlyRecipientCertificateInfo": (
        "ElderlyRecipientCertificateDate",
        "ElderlyRecipientValidStartDate",
        "ElderlyRecipientValidEndDate",
        "ElderlyRecipientContributionRatio",
    ),
    "LimitApplicationCertificateRelatedInfo": (
        "LimitApplicationCertificateClassification",
        "LimitApplicationCertificateClassificationFlag",
        "LimitApplicationCertificateDate",
        "LimitApplicationCertificateValidStartDate",
        "LimitApplicationCertificateValidEndDate",
        "LimitApplicationCertificateLongTermDate",
    ),
    "SpecificDiseasesCertificateInfo": (
        "SpecificDiseasesDiseaseCategory",
        "SpecificDiseasesCertificateDate",
        "SpecificDiseasesValidStartDate",
        "SpecificDiseasesValidEndDate",
        "SpecificDiseasesSelfPay",
    ),
}
TICKET_ORDER = (
    "TicketType",
    "MedicalTicketValidDate",
    "MedicalTicketExpirationDate",
    "IssueNumber",
    "MedicalTreatmentMonth",
    "DesignatedMedicalInstitutionCode",
    "DesignatedMedicalInstitutionFlag",
    "DesignatedMedicalInstitutionName",
    "PrescriptionIssuerMedicalInstitutionCode",
    "PrescriptionIssuerMedicalInstitutionName",
    "InjuryName1",
    "InjuryName2",
    "InjuryName3",
    "MedicalTreatmentType",
    "SelfPayAmount",
    "DistrictContactName",
    "HandlingContactName",
    "SingleOrCombinedUse",
    "StatusOfSocialInsurance",
    "ConsistencyFlag",
    "StatusOfInfecton",
    "StatusOfElderlyMedicalCare",
    "StatusOfPrefecturalExpenses",
    "Remarks1",
    "Remarks2",
    "Remarks3",
)
NOTICE_ORDER = ("ProcessingResultCode", "ProcessingResultMessage")
CONSENT_ORDER = tuple(f"{k}{s}" for k in CONSENT_KINDS for s in ("ConsFlg", "ConsTime", "AvailableTime"))


@dataclass
class Request:
    """One request file, read and checked."""

    kind: str  # file-name prefix, e.g. OQSsiquc01
    id: str  # what follows ``req_``
    encoding: str  # CharacterCodeIdentifier to answer with
    facility_code: str | None
    arbitrary_id: str | None
    fields: dict = field(default_factory=dict)
    problem: TerminalError | None = None  # set when the file is readable but a value is wrong
    echo: dict = field(default_factory=dict)  # QualificationConfirmSearchInfo as the request sent it
    confirmation_date: str | None = None  # MessageHeader/QualificationConfirmationDate, when sent
    after_commit: list = field(default_factory=list)  # run by the agent once the answer is committed

    @property
    def response_stem(self) -> str:
        return f"{self.kind}res_{self.id}"


def split_name(name: str) -> tuple[str, str]:
    """(kind, id) of a request file name; FileRejected for anything else."""
    m = FILE_NAME.match(name)
    if not m:
        raise FileRejected(
            "unknown_file",
            f"ファイル名「{name}」は要求電文の形式（OQS…req_識別子.xml）ではありません。",
            f"'{name}' is not a request file name (OQS…req_<id>.xml).",
        )
    if m.group(1) not in KINDS:
        raise FileRejected(
            "unknown_file",
            f"接頭辞「{m.group(1)}」の要求には対応していません（対応: {', '.join(KINDS)}）。",
            f"Unsupported request prefix '{m.group(1)}' (supported: {', '.join(KINDS)}).",
        )
    return m.group(1), m.group(2)


def _missing(name: str) -> TerminalError:
    return TerminalError("missing_element", f"必須の要素 {name} がありません。", f"Required element {name} is missing.")


def _invalid(name: str, ja: str, en: str) -> TerminalError:
    return TerminalError("invalid_value", f"{name}: {ja}", f"{name}: {en}")


def read_request(kind: str, rid: str, parsed: Parsed) -> Request:
    """Check the envelope and the elements of ``kind``. Envelope problems reject the file (.err);
    a problem with an element is kept in ``Request.problem``, to be answered in a response file."""
    root = parsed.root
    header, body = root.find("MessageHeader"), root.find("MessageBody")
    if root.tag != "XmlMsg" or header is None or body is None:
        raise FileRejected(
            "envelope",
            "XmlMsg の下に MessageHeader と MessageBody が必要です。",
            "Expected XmlMsg with MessageHeader and MessageBody.",
        )
    cci = (text_of(header, "CharacterCodeIdentifier") or "").strip()
    req = Request(
        kind,
        rid,
        cci if cci in (UTF8, SJIS) else parsed.encoding,
        (text_of(header, "MedicalInstitutionCode") or "").strip() or None,
        (text_of(header, "ArbitraryFileIdentifier") or "").strip() or None,
    )
    if kind in ECHOING:
        req.echo = _raw_search_info(_search_info(body))
        ref = text_of(body, "ReferenceNumber")  # OQSsiimm01 sends it beside the search info
        if kind == REFERENCE and ref:
            req.echo.setdefault("ReferenceNumber", ref)
    try:
        _read_fields(req, cci, parsed, header, body)
    except TerminalError as e:
        req.problem = e
    return req


def _raw_search_info(scope) -> dict:
    """The search elements exactly as sent (text unchanged, spaces included), to be echoed."""
    out = {}
    for name in SEARCH_ORDER:
        el = scope.find(name)
        if el is None:
            el = scope.find(f".//{name}")
        if el is not None and el.text is not None and el.text != "":
            out[name] = el.text
    out.setdefault(LIMIT_CONSENT, "0")
    return out


def _read_fields(req: Request, cci: str, parsed: Parsed, header, body) -> None:
    if cci and cci not in (UTF8, SJIS):
        raise _invalid(
            "CharacterCodeIdentifier", "0（UTF-8）か1（Shift_JIS）です。", "must be 0 (UTF-8) or 1 (Shift_JIS)."
        )
    if cci and cci != parsed.encoding and parsed.declared:
        raise TerminalError(
            "encoding",
            f"CharacterCodeIdentifier {cci} とXML宣言の文字コードが一致しません。",
            f"CharacterCodeIdentifier {cci} contradicts the XML declaration.",
        )
    if req.facility_code is None:
        raise _missing("MessageHeader/MedicalInstitutionCode")
    date = (text_of(header, "QualificationConfirmationDate") or "").strip()
    if date:  # fujo extension: check as of another day (acceptance tests with fixed data)
        if not (len(date) == 8 and date.isdigit()):
            raise _invalid("QualificationConfirmationDate", "yyyyMMdd の8桁です。", "must be yyyyMMdd.")
        req.fields["confirmation_date"] = date
        req.confirmation_date = date
    _READERS[req.kind](req, body)


def _search_info(body):
    info = body.find("QualificationConfirmSearchInfo")
    return info if info is not None else body


def _read_numbers(req: Request, scope, required_birthdate: bool = True) -> None:
    """The numbers and the birth date identifying a qualification (the birth date is required,
    as by the server: numbers alone would let anyone enumerate recipients)."""
    ins = text_of(scope, "InsurerNumber")
    num = text_of(scope, "InsuredIdentificationNumber")
    if not (ins or "").strip():
        raise _missing("InsurerNumber")
    if not (num or "").strip():
        raise _missing("InsuredIdentificationNumber")
    num, problems = (num or "").strip(), Problems()
    ins, _ = numbers.check_qualification_numbers(
        ins,
        num,
        problems,
        payer_field="InsurerNumber",
        recipient_field="InsuredIdentificationNumber",
        insurer_field="InsurerNumber",
    )
    if problems:  # the first one, as the file carries one error
        p = problems.items[0]
        raise _invalid(p.field, p.message_ja, p.message_en)
    req.fields.update(insurer_number=ins, identification_number=num)
    for el, key in (("InsuredCardSymbol", "card_symbol"), ("InsuredBranchNumber", "branch_number")):
        v = (text_of(scope, el) or "").strip()
        if v:
            req.fields[key] = v
    consent = (text_of(scope, LIMIT_CONSENT) or "").strip()
    if consent not in ("", "0", "1"):
        raise _invalid(LIMIT_CONSENT, "0（未同意）か1（同意）です。", "must be 0 (no consent) or 1 (consent).")
    if consent == "1":
        req.fields["limit_application_consent"] = True
    bd = (text_of(scope, "Birthdate") or "").strip()
    if bd:
        if not (len(bd) == 8 and bd.isascii() and bd.isdigit()):
            raise _invalid("Birthdate", "yyyyMMdd の8桁です。", "must be yyyyMMdd.")
        req.fields["birthdate"] = bd
    elif required_birthdate:
        raise _missing("Birthdate")


def _read_single_check(req: Request, body) -> None:
    _read_numbers(req, _search_info(body))


def _read_bulk_start(req: Request, body) -> None:
    month = (text_of(_search_info(body), "MedicalTreatmentMonth") or "").strip()
    if not month:
        raise _missing("QualificationConfirmSearchInfo/MedicalTreatmentMonth")
    ym, p = parse_month(month, "MedicalTreatmentMonth", wire=True)
    if p or ym is None or len(month) != 6:
        raise _invalid("MedicalTreatmentMonth", "yyyyMM の6桁で、実在する年月です。", "must be a real month, yyyyMM.")
    req.fields["month"] = f"{ym[0]:04d}-{ym[1]:02d}"


def _read_bulk_fetch(req: Request, body) -> None:
    number = (text_of(body, "ReceptionNumber") or "").strip()
    if not number:
        raise _missing("MessageBody/ReceptionNumber")
    req.fields["reception_number"] = number


def _read_reference(req: Request, body) -> None:
    ref = (text_of(body, "ReferenceNumber") or "").strip()
    if not ref:
        raise _missing("ReferenceNumber")
    if len(ref) > 20 or not ref.isascii() or not ref.isalnum():
        raise _invalid("ReferenceNumber", "20文字以内の半角英数字です。", "must be 1-20 ASCII letters or digits.")
    req.fields["reference_number"] = ref
    _read_numbers(req, _search_info(body))


def _read_bulk_check(req: Request, body) -> None:
    from .bulkcheck import read_upload  # OQSmuquc01/02 live in bulkcheck.py (it imports this module)

    read_upload(req, body)


_READERS = {
    SINGLE_CHECK: _read_single_check,
    BULK_START: _read_bulk_start,
    BULK_FETCH: _read_bulk_fetch,
    REFERENCE: _read_reference,
    BULK_CHECK: _read_bulk_check,
    BULK_CHECK_FETCH: _read_bulk_fetch,
}


# --- responses -----------------------------------------------------------------------------


def _header(root, values: dict) -> None:
    h = sub(root, "MessageHeader")
    for name in HEADER_ORDER:
        if values.get(name) not in (None, ""):
            sub(h, name, str(values[name]))


def _ordered(parent, data: dict, order) -> None:
    for name in order:
        if data.get(name) not in (None, ""):
            sub(parent, name, str(data[name]))


def _insurance_blocks(el, res: dict) -> None:
    """The flags and nested certificate blocks of INSURANCE_ORDER (SpecificDiseasesCertificateList
    holds a list of SpecificDiseasesCertificateInfo)."""
    for name in INSURANCE_ORDER:
        v = res.get(name)
        if v in (None, "") or v == {}:
            continue
        if name == "SpecificDiseasesCertificateList":
            lst = sub(el, name)
            for info in v.get("SpecificDiseasesCertificateInfo") or []:
                _ordered(
                    sub(lst, "SpecificDiseasesCertificateInfo"), info, BLOCK_ORDER["SpecificDiseasesCertificateInfo"]
                )
        elif name in BLOCK_ORDER:
            _ordered(sub(el, name), v, BLOCK_ORDER[name])
        else:
            sub(el, name, str(v))


def result_element(parent, res: dict) -> etree._Element:
    """ResultOfQualificationConfirmation from a server result dict (fujo extras dropped)."""
    el = sub(parent, "ResultOfQualificationConfirmation")
    _ordered(el, res, RESULT_ORDER)
    _insurance_blocks(el, res)
    tickets = (res.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo") or []
    if tickets:
        lst = sub(el, "PublicExpenseResultList")
        for t in tickets:
            _ordered(sub(lst, "MedicalTicketInfo"), t, TICKET_ORDER)
    _ordered(el, res, CONSENT_ORDER)
    _ordered(el, res, NOTICE_ORDER)  # fujo's own result code for 未委託/停止・廃止 (docs/TERMINAL.md)
    return el


def _base_header(req: Request | None, now, **extra) -> dict:
    """The whole header of an answer to ``req``: every answer (errors too) carries the date it
    speaks for and ReferenceClassification 2 (requests always identify people by numbers)."""
    d = {
        "ProcessExecutionTime": wire_time(now),
        "QualificationConfirmationDate": (req.confirmation_date if req else None) or now.strftime("%Y%m%d"),
        "ReferenceClassification": REFERENCE_NUMBERS if req else None,
        "MedicalInstitutionCode": req.facility_code if req else None,
        "ArbitraryFileIdentifier": req.arbitrary_id if req else None,
        "SegmentOfResult": SEGMENT_OK,
        "CharacterCodeIdentifier": req.encoding if req else UTF8,
    }
    d.update(extra)
    return d


def check_response(
    req: Request | None, data: dict, encoding: str = UTF8, arbitrary_id: str | None = None
) -> etree._Element:
    """Answer to a check (OQSsiquc01res, and — with ``req`` None — the face file of a card check)
    from the server's JSON."""
    root = etree.Element("XmlMsg")
    head = _base_header(
        req,
        now_jst(),
        QualificationConfirmationDate=data.get("QualificationConfirmationDate"),
        ReferenceClassification=data.get("ReferenceClassification"),
        ProcessExecutionTime=data.get("ProcessExecutionTime"),
        MedicalInstitutionCode=data.get("MedicalInstitutionCode"),
    )
    if req is None:
        head.update(CharacterCodeIdentifier=encoding, ArbitraryFileIdentifier=arbitrary_id)
    _header(root, head)
    body = sub(root, "MessageBody")
    if req is not None and req.kind == SINGLE_CHECK:
        _echo_search(body, req)
    sub(body, "ProcessingResultStatus", STATUS_OK)
    _ordered(body, data, NOTICE_ORDER)
    sub(body, "QualificationValidity", data["QualificationValidity"])
    if data.get("ResultList"):
        lst = sub(body, "ResultList")
        for res in data["ResultList"]:
            result_element(lst, res)
    return root


def _echo_search(body, req: Request) -> None:
    """QualificationConfirmSearchInfo with every element as the request sent it."""
    if req.echo:
        _ordered(sub(body, "QualificationConfirmSearchInfo"), req.echo, SEARCH_ORDER)


def error_response(req: Request, err: TerminalError) -> etree._Element:
    """SegmentOfResult 9 with ErrorCode/ErrorMessage (and the same in ProcessingResult*); the whole
    header (clients that validate need QualificationConfirmationDate and ReferenceClassification
    in error answers too) and, for a check, the search info echoed."""
    root = etree.Element("XmlMsg")
    _header(
        root,
        _base_header(req, now_jst(), SegmentOfResult=SEGMENT_ERROR, ErrorCode=err.code, ErrorMessage=err.message_ja),
    )
    body = sub(root, "MessageBody")
    if req.kind in ECHOING:
        _echo_search(body, req)
    sub(body, "ProcessingResultStatus", STATUS_ERROR)
    sub(body, "ProcessingResultCode", err.code)
    sub(body, "ProcessingResultMessage", err.message_ja)
    return root


def reception_response(req: Request, reception_number: str) -> etree._Element:
    root = etree.Element("XmlMsg")
    _header(root, _base_header(req, now_jst()))
    body = sub(root, "MessageBody")
    sub(body, "ProcessingResultStatus", STATUS_OK)
    sub(body, "ReceptionNumber", reception_number)
    return root


BULK_HEADER_ORDER = (
    *HEADER_ORDER[:-1],
    "NumberOfProcessingResult",
    "NumberOfNormalProcessing",
    "NumberOfError",
    "CharacterCodeIdentifier",
)


def bulk_response(req: Request, reception_number: str, data: dict) -> etree._Element:
    """OQSmutic02res: one ``BulkConfirmUnit`` per recipient (as public clients read 委託先一括取得
    results, like the 一括照会 ones), each with its own QualificationValidity — a recipient who is
    not valid for the month (停止・廃止) says so with a notice code, and carries no numbers."""
    root = etree.Element("XmlMsg")
    results = data["ResultList"]
    # Every recipient is processed normally — one who is not billable this month is a normal answer
    # with validity 2 and its notice — so nothing counts as an error (as OQSmuquc02res counts them).
    normal = len(results)
    head = sub(root, "MessageHeader")
    _ordered(
        head,
        _base_header(
            req,
            now_jst(),
            NumberOfProcessingResult=str(len(results)),
            NumberOfNormalProcessing=str(normal),
            NumberOfError="0",
        ),
        BULK_HEADER_ORDER,
    )
    body = sub(root, "MessageBody")
    sub(body, "ProcessingResultStatus", STATUS_OK)
    sub(body, "ReceptionNumber", reception_number)
    sub(body, "MedicalTreatmentMonth", data["MedicalTreatmentMonth"])
    for res in results:
        unit = sub(body, "BulkConfirmUnit")
        sub(unit, "ProcessingResultStatus", STATUS_OK)
        _ordered(unit, res, NOTICE_ORDER)
        sub(unit, "QualificationValidity", res.get("QualificationValidity") or codes.VALID)
        result_element(unit, res)
        if res.get("ReferenceNumber"):  # also per unit: the published clients read the 照会番号 here
            sub(unit, "ReferenceNumber", res["ReferenceNumber"])
    return root


def reference_response(req: Request) -> etree._Element:
    root = etree.Element("XmlMsg")
    _header(root, _base_header(req, now_jst()))
    body = sub(root, "MessageBody")
    _echo_search(body, req)
    sub(body, "ProcessingResultStatus", STATUS_OK)
    return root
