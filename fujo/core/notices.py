"""What a check answer must tell the front desk beyond the validity code — fujo's own, documented
result codes (処理結果コード of our own: the official 別紙6-1 codes are not public).

A receipt computer that reads one result per file cannot tell 併用 with a 未委託 医療扶助 from an
insurance-only answer by the absence of numbers alone, so every result that needs an action says
so in ``ProcessingResultCode``/``ProcessingResultMessage`` (per result, and the first such notice
also at the body level). Whenever the seed says "call the welfare office", the message names the
office and its phone. Pure: dicts in, dicts out.
"""

from __future__ import annotations

from . import codes
from .rows import Contact, WireDict

# code: meaning (docs/TERMINAL.md lists the same table; tests check they agree)
NOTICE_CODES = {
    "FJ0201": "医療扶助：無効（保護停止・廃止）— 福祉事務所に確認",
    "FJ0301": "医療扶助：無効（新しい資格あり）— 福祉事務所に確認",
    "FJ0601": "医療扶助：有効（未登録・未委託）— 番号・券情報は非表示、福祉事務所に確認",
    "FJ0401": "該当資格なし（公費負担者番号は有効）— その福祉事務所に確認",
    "FJ0501": "複数該当 — 枝番を指定して再照会",
    "FJ0101": "医療扶助の資格あり（「医療扶助」を利用しない設定のため非表示）— 環境設定で「利用する」に",
}
_A1_CODES = {codes.INVALID: "FJ0201", codes.INVALID_NEWER: "FJ0301", codes.VALID_UNREGISTERED: "FJ0601"}


def call_office(contact: Contact | None) -> str:
    """「○○市福祉事務所（電話 03-…）に…確認してください。」 — or a generic line without a contact."""
    if not contact or not contact.get("OfficeName"):
        return "福祉事務所に医療扶助の利用可否を電話等で確認してください。"
    tel = f"（電話 {contact['Phone']}）" if contact.get("Phone") else ""
    return f"{contact['OfficeName']}{tel}に医療扶助の利用可否を電話等で確認してください。"


def _a1_message(validity: str, result: WireDict, contact: Contact | None) -> str:
    if validity == codes.VALID_UNREGISTERED:
        head = "医療扶助の資格は有効ですが、この医療機関・薬局を指定した医療券/調剤券が登録されていません（番号・券情報は表示されません）。"
    elif validity == codes.INVALID_NEWER:
        head = "この医療扶助の資格は無効です（新しい資格があります）。"
    else:
        end = result.get("DisqualificationDate")
        when = f"（{end[:4]}年{int(end[4:6])}月{int(end[6:8])}日 停止・廃止）" if end else ""
        head = f"この医療扶助の資格は無効です{when}。"
    return head + call_office(contact)


def annotate(check: WireDict) -> WireDict:
    """Add ``ProcessingResultCode``/``ProcessingResultMessage`` to each result of ``check`` that
    needs an action, and the first of them to the body. Returns ``check`` (changed in place)."""
    contact = check.get("Contact")
    body: tuple[str, str] | None = None
    for res in check.get("ResultList") or []:
        if res.get("InsuredCardClassification") != codes.CARD_CLASS_MEDICAL_ASSISTANCE:
            continue
        code = _A1_CODES.get(res.get("QualificationValidity", ""))
        if code:
            res["ProcessingResultCode"] = code
            res["ProcessingResultMessage"] = _a1_message(res["QualificationValidity"], res, contact)
            body = body or (code, res["ProcessingResultMessage"])
    if body is None and check.get("QualificationValidity") == codes.MULTIPLE:
        body = ("FJ0501", "複数の資格が該当します。枝番（InsuredBranchNumber）を指定して再度照会してください。")
    if body is None and not check.get("ResultList") and contact:
        body = ("FJ0401", "該当する医療扶助の資格がありません。" + call_office(contact))
    if body:
        check["ProcessingResultCode"], check["ProcessingResultMessage"] = body
    return check
