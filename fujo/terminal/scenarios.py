"""The known scenario set of the vendor acceptance test (運用テスト), loaded over the HTTP API so
that it works against any fujo server the kit is given an operator token for.

Everything is created fresh with random (valid) numbers, so the kit can run again and again
against the same server: a new 福祉事務所 with its own 公費負担者番号, a second facility for the
未委託 case, an insurer for the 併用 case, and one synthetic recipient per case. Only the 併用
person holds a card (so only that person is linked, and a 照会番号 can be registered for no other).
Insurance-only people (issue 7) test the items clinics import: a 後期高齢 person (法別39, 1割), a
6-digit 国保 number, a 70–74 person with a 高齢受給者証 and a 限度額適用認定証 given with consent.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass, field

from .. import outbound
from ..core.dates import month_end, today_jst
from ..core.numbers import with_check_digit, with_individual_check_digit


class SetupFailed(Exception):
    pass


class Api:
    """Just enough HTTP client to set the scenarios up, one token per call."""

    def __init__(self, base_url: str):
        self.http = outbound.client(base_url=base_url.rstrip("/") + "/api/v1", timeout=30)

    def close(self) -> None:
        self.http.close()

    def call(self, token: str, method: str, path: str, ok=(200, 201), **kw) -> tuple[int, dict]:
        res = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        body = res.json() if res.content else {}
        if res.status_code not in ok:
            err = (body or {}).get("error", {})
            raise SetupFailed(f"{method} {path}: HTTP {res.status_code} {err.get('code')} {err.get('message_en')}")
        return res.status_code, body


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


@dataclass
class Person:
    key: str
    payer_number: str
    recipient_number: str
    name: str
    birthdate: str  # yyyyMMdd: every check and 照会番号 registration by numbers sends it
    address: str = ""


@dataclass
class Scenario:
    facility_code: str
    facility_token: str
    admin_token: str
    office_token: str
    office_name: str
    payer_number: str
    other_facility_code: str
    insurer_number: str
    month: str  # yyyyMM of today
    people: dict[str, Person] = field(default_factory=dict)
    card: bytes = b""  # the 併用 person's card (PKCS#12) and PIN
    card_pin: str = "4321"
    insurance: dict = field(default_factory=dict)
    # health insurance only, checked by numbers: kouki (後期高齢, 1割), kokuho (6-digit 国保),
    # elderly (70–74, 高齢受給者証 2割), limit (限度額適用認定証 + 特定疾病療養受療証: only with consent)
    insured: dict[str, dict] = field(default_factory=dict)


def _retry_unique(make, attempts: int = 30):
    """Random numbers may collide with what the server already holds: try another (409)."""
    last = None
    for _ in range(attempts):
        try:
            return make()
        except SetupFailed as e:
            if "HTTP 409" not in str(e):
                raise
            last = e
    raise SetupFailed(f"could not find a free number: {last}")


def load(api: Api, admin_token: str, facility_token: str) -> Scenario:
    today = today_jst()
    _, fac = api.call(facility_token, "GET", "/facility/settings")
    api.call(facility_token, "PUT", "/facility/settings", json={"medical_assistance_enabled": True})

    def org(kind, code, name, **kw):
        return api.call(admin_token, "POST", "/organisations", json={"kind": kind, "code": code, "name": name, **kw})[1]

    payer = [""]  # set by office(), which runs before the scenario is built

    def office():
        payer[0] = with_check_digit("1213" + _digits(3))
        return org(
            "welfare_office",
            "VT" + secrets.token_hex(4),
            "運用テスト市福祉事務所",
            phone="03-0000-9999",
            payer_numbers=[payer[0]],
        )

    off = _retry_unique(office)
    _, cred = api.call(admin_token, "POST", f"/organisations/{off['id']}/credentials", json={"label": "vendor-test"})
    other = _retry_unique(lambda: org("facility", with_check_digit("131" + _digits(6)), "運用テスト未委託クリニック"))
    ins = _retry_unique(lambda: org("insurer", with_check_digit("0613" + _digits(3)), "運用テスト健康保険組合"))
    _, ins_cred = api.call(
        admin_token, "POST", f"/organisations/{ins['id']}/credentials", json={"label": "vendor-test"}
    )
    kouki = _retry_unique(
        lambda: org("insurer", with_check_digit("3913" + _digits(3)), "運用テスト後期高齢者医療広域連合")
    )
    kokuho = _retry_unique(lambda: org("insurer", with_check_digit("138" + _digits(2)), "運用テスト市国民健康保険"))
    insurer_tokens = {ins["code"]: ins_cred["token"]}
    for o in (kouki, kokuho):
        insurer_tokens[o["code"]] = api.call(
            admin_token, "POST", f"/organisations/{o['id']}/credentials", json={"label": "vendor-test"}
        )[1]["token"]

    sc = Scenario(
        fac["facility_code"],
        facility_token,
        admin_token,
        cred["token"],
        off["name"],
        payer[0],
        other["code"],
        ins["code"],
        today.strftime("%Y%m"),
    )
    people = [
        ("designated", "試験一郎", "ｼｹﾝ ｲﾁﾛｳ", "1990-01-15", None),
        ("not_designated", "試験花子", "ｼｹﾝ ﾊﾅｺ", "1985-04-02", None),
        ("late", "試験次郎", "ｼｹﾝ ｼﾞﾛｳ", "1978-11-03", None),
        ("lost", "試験四郎", "ｼｹﾝ ｼﾛｳ", "1962-02-14", (today - dt.timedelta(days=10)).isoformat()),
        ("combined", "試験三郎", "ｼｹﾝ ｻﾌﾞﾛｳ", "1955-06-30", None),
        # 髙 and ① are Windows-31J characters; 𠮷 is outside it (written 吉 in Shift_JIS answers)
        ("cp932", "髙橋𠮷子①", "ﾀｶﾊｼ ﾖｼｺ", "1992-12-01", None),
    ]
    address = "東京都運用テスト市1-2-3"
    for key, name, kana, birth, lost_on in people:

        def recipient(key=key, name=name, kana=kana, birth=birth, lost_on=lost_on):  # bound now, called now
            rec = {
                "payer_number": sc.payer_number,
                "recipient_number": with_check_digit(_digits(6)),
                "name": name,
                "name_kana": kana,
                "sex": "2" if key == "not_designated" else "1",
                "birthdate": birth,
                "address": address,
                "post_number": "100-0001",
                "qualification_date": "2020-04-01",
            }
            if lost_on:
                rec.update(disqualification_date=lost_on, disqualification_kind="2")
            return api.call(sc.office_token, "POST", "/recipients", json=rec)[1]

        rec = _retry_unique(recipient)
        sc.people[key] = Person(key, sc.payer_number, rec["recipient_number"], name, birth.replace("-", ""), address)

    add_ticket(api, sc, "designated", sc.facility_code)
    add_ticket(api, sc, "not_designated", sc.other_facility_code)
    add_ticket(api, sc, "cp932", sc.facility_code)
    add_ticket(api, sc, "combined", sc.facility_code, single_or_combined="02", social_insurance="01")
    p = sc.people["combined"]
    # the card issuer knows the holder by 個人番号 and the 基本4情報; the office links it (初回ひも付け)
    number = with_individual_check_digit(_digits(11))
    _, card = api.call(
        admin_token,
        "POST",
        "/cards",
        json={
            "pin": sc.card_pin,
            "individual_number": number,
            "name": p.name,
            "birthdate": "1955-06-30",
            "sex": "1",
            "address": address,
        },
    )
    api.call(
        sc.office_token,
        "POST",
        f"/recipients/{p.payer_number}/{p.recipient_number}/card-link",
        json={"individual_number": number},
    )
    sc.card = base64.b64decode(card["p12_base64"])
    sc.insurance = {
        "insurer_number": sc.insurer_number,
        "insurer_name": "運用テスト健康保険組合",
        "insured_card_classification": "01",
        "card_symbol": "VT-1",
        "card_number": _digits(6),
        "branch_number": "01",
        "personal_family": "1",
        "name": p.name,
        "name_kana": "ｼｹﾝ ｻﾌﾞﾛｳ",
        "sex": "1",
        "birthdate": "1955-06-30",
        "qualification_date": "2019-04-01",
        "card_serial": card["serial"],
    }
    api.call(ins_cred["token"], "POST", "/insurance-qualifications", json=sc.insurance)
    sc.insured = insured_people(today, ins["code"], kouki["code"], kokuho["code"])
    for q in sc.insured.values():
        api.call(insurer_tokens[q["insurer_number"]], "POST", "/insurance-qualifications", json=q)
    return sc


def insured_people(today: dt.date, kumiai: str, kouki: str, kokuho: str) -> dict[str, dict]:
    """The insurance-only people of the kit (registration payloads; birth dates move with today so
    the ages hold): cards renewed every 1 August, valid to 31 July."""
    aug1 = dt.date(today.year if today.month >= 8 else today.year - 1, 8, 1)
    card = {
        "insured_card_classification": "01",
        "personal_family": "1",
        "qualification_date": "2015-04-01",
        "card_issuance_date": (aug1 - dt.timedelta(days=14)).isoformat(),
        "card_valid_from": aug1.isoformat(),
        "card_valid_to": dt.date(aug1.year + 1, 7, 31).isoformat(),
    }
    elderly_born = dt.date(today.year - 72, 9, 15)
    return {
        "kouki": {
            **card,
            "insurer_number": kouki,
            "insurer_name": "運用テスト後期高齢者医療広域連合",
            "card_number": "00" + _digits(6),
            "name": "試験ウメ",
            "name_kana": "ｼｹﾝ ｳﾒ",
            "sex": "2",
            "birthdate": dt.date(today.year - 82, 3, 3).isoformat(),
            "contribution_ratio": "010",
        },
        "kokuho": {
            **card,
            "insurer_number": kokuho,
            "insurer_name": "運用テスト市国民健康保険",
            "card_symbol": "VT",
            "card_number": _digits(6),
            "name": "試験太郎",
            "name_kana": "ｼｹﾝ ﾀﾛｳ",
            "sex": "1",
            "birthdate": "1980-06-10",
            "contribution_ratio": "030",
            "insured_name": "試験太郎",
        },
        "elderly": {
            **card,
            "insurer_number": kumiai,
            "insurer_name": "運用テスト健康保険組合",
            "card_symbol": "VT-2",
            "card_number": _digits(6),
            "name": "試験花子",
            "name_kana": "ｼｹﾝ ﾊﾅｺ",
            "sex": "2",
            "birthdate": elderly_born.isoformat(),
            "contribution_ratio": "020",
            "elderly_certificate_date": card["card_issuance_date"],
            "elderly_valid_from": max(dt.date(elderly_born.year + 70, 10, 1), aug1).isoformat(),
            "elderly_valid_to": card["card_valid_to"],
            "elderly_contribution_ratio": "020",
        },
        "limit": {
            **card,
            "insurer_number": kumiai,
            "insurer_name": "運用テスト健康保険組合",
            "card_symbol": "VT-3",
            "card_number": _digits(6),
            "name": "試験次郎",
            "name_kana": "ｼｹﾝ ｼﾞﾛｳ",
            "sex": "1",
            "birthdate": "1975-11-20",
            "contribution_ratio": "030",
            "limit_classification": "01",
            "limit_bracket": "A03",
            "limit_certificate_date": aug1.isoformat(),
            "limit_valid_from": aug1.isoformat(),
            "limit_valid_to": card["card_valid_to"],
            "specific_disease_category": "1",
            "specific_disease_valid_from": "2023-04-01",
            "specific_disease_self_pay": "10000",
        },
    }


def add_ticket(api: Api, sc: Scenario, key: str, facility_code: str, **kw) -> dict:
    """A 医療券 of this month for a scenario person (the late case calls this mid-test)."""
    first = today_jst().replace(day=1)
    last = month_end(first)
    p = sc.people[key]
    t = {
        "payer_number": p.payer_number,
        "recipient_number": p.recipient_number,
        "ticket_type": "01",
        "treatment_month": first.strftime("%Y-%m"),
        "valid_from": first.isoformat(),
        "valid_to": last.isoformat(),
        "designated_facility_code": facility_code,
        "designated_facility_name": "運用テスト医療機関",
        "treatment_type": "02",
        "single_or_combined": "01",
        "injury_name1": "高血圧症",
        "issue_number": _digits(7),
    }
    t.update(kw)
    return api.call(sc.office_token, "POST", "/tickets", json=t)[1]
