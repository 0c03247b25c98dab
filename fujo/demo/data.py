"""Demo data: the seed's own example (生保一郎 at ○○市福祉事務所, ticket for ●●医療機関) with valid
numbers, plus a 未委託 case, a not-yet-registered case, a 併用 case and an invalid case.
All people are synthetic. Demo tokens are fixed strings so the README can show curl examples."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..auth.principal import ADMIN, CLINICIAN, FACILITY, INSURER, MANAGER, WELFARE_OFFICE
from ..cards.ca import CardAuthority
from ..cards.service import issue_card
from ..core.dates import month_end, today_jst
from ..core.numbers import with_check_digit, with_individual_check_digit
from ..db import schema as s
from ..db.database import Database
from ..facility.service import set_medical_assistance
from ..insurance.service import register_qualification
from ..orgs.service import create_organisation, issue_credential, principal_for
from ..registry.facilities import register_facility
from ..registry.service import link_card, register_recipient, register_ticket

OFFICE_PAYER = with_check_digit("1213001")  # 12130019: 法別12 東京都(13) 実施機関001
OFFICE2_PAYER = with_check_digit("1213002")
CLINIC = with_check_digit("131123456")  # ●●医療機関 (医科)
PHARMACY = with_check_digit("134123456")  # ■■薬局 (調剤)
OTHER_CLINIC = with_check_digit("131129999")  # ▲▲クリニック: not designated for anyone
INSURER_NO = with_check_digit("0613999")  # ○○健康保険組合 (8-digit 保険者番号)
KOUKI_NO = with_check_digit("3913001")  # 東京都後期高齢者医療広域連合 (法別39)
KOKUHO_NO = with_check_digit("13822")  # ○○市国民健康保険 (6 digits: written space-padded to 8)

TOKENS = {
    "admin": "demo-admin-token",
    "office": "demo-office-token",
    "clinic": "demo-clinic-token",
    "clinic_admin": "demo-clinic-admin-token",
    "clinic_doctor": "demo-clinic-doctor-token",  # 医師・歯科医師・薬剤師: 薬剤情報等 (issue 11)
    "pharmacy": "demo-pharmacy-token",
    "other_clinic": "demo-other-clinic-token",
    "insurer": "demo-insurer-token",
    "kouki_insurer": "demo-kouki-insurer-token",
    "kokuho_insurer": "demo-kokuho-insurer-token",
}

PEOPLE = [  # key, recipient number body, name, kana, sex, birthdate, card PIN
    ("ichiro", "101000", "生保一郎", "ｾｲﾎ ｲﾁﾛｳ", "1", dt.date(1990, 1, 15), "1234"),
    ("hanako", "101001", "扶助花子", "ﾌｼﾞｮ ﾊﾅｺ", "2", dt.date(1985, 4, 2), "2345"),
    ("jiro", "101002", "保護次郎", "ﾎｺﾞ ｼﾞﾛｳ", "1", dt.date(1978, 11, 3), "3456"),
    ("saburo", "101003", "併用三郎", "ﾍｲﾖｳ ｻﾌﾞﾛｳ", "1", dt.date(1955, 6, 30), "4567"),
    ("shiro", "101004", "廃止四郎", "ﾊｲｼ ｼﾛｳ", "1", dt.date(1962, 2, 14), "5678"),
]


def _insured_only(today: dt.date) -> list[dict]:
    """Health insurance only (no 医療扶助: 国保 and 後期高齢 end when 保護 starts), checked by numbers
    + birth date: a 後期高齢 person (1割), a 国保 household head, a 70–74 person with a 高齢受給者証
    (2割) and one with a 限度額適用認定証 and a 特定疾病療養受療証 (given only with consent). Birth
    dates move with ``today`` so the ages (and so the rules) hold whenever the demo is loaded."""
    aug1 = dt.date(today.year if today.month >= 8 else today.year - 1, 8, 1)  # cards renewed every 1 August
    jul31 = dt.date(aug1.year + 1, 7, 31)
    period = {
        "card_issuance_date": (aug1 - dt.timedelta(days=14)).isoformat(),
        "card_valid_from": aug1.isoformat(),
        "card_valid_to": jul31.isoformat(),
    }
    kouki_born, elderly_born = dt.date(today.year - 84, 3, 3), dt.date(today.year - 72, 9, 15)
    elderly_from = dt.date(elderly_born.year + 70, 10, 1)  # the month after the 70th birthday
    return [
        {
            "insurer_number": KOUKI_NO,
            "insurer_name": "東京都後期高齢者医療広域連合",
            "insured_card_classification": "01",
            "card_number": "00012345",
            "personal_family": "1",
            "name": "長寿ウメ",
            "name_kana": "ﾁｮｳｼﾞｭ ｳﾒ",
            "sex": "2",
            "birthdate": kouki_born.isoformat(),
            "qualification_date": dt.date(kouki_born.year + 75, 3, 3).isoformat(),
            "contribution_ratio": "010",
            "insured_name": "長寿ウメ",
            **period,
        },
        {
            "insurer_number": KOKUHO_NO,
            "insurer_name": "○○市国民健康保険",
            "insured_card_classification": "01",
            "card_symbol": "あ12",
            "card_number": "3456",
            "personal_family": "1",
            "name": "国保太郎",
            "name_kana": "ｺｸﾎ ﾀﾛｳ",
            "sex": "1",
            "birthdate": "1980-06-10",
            "qualification_date": "2015-04-01",
            "contribution_ratio": "030",
            "insured_name": "国保太郎",
            "address": "東京都○○市□□町4-5-6",
            "post_number": "100-0002",
            **period,
        },
        {
            "insurer_number": KOKUHO_NO,
            "insurer_name": "○○市国民健康保険",
            "insured_card_classification": "01",
            "card_symbol": "あ12",
            "card_number": "7890",
            "personal_family": "1",
            "name": "高齢花子",
            "name_kana": "ｺｳﾚｲ ﾊﾅｺ",
            "sex": "2",
            "birthdate": elderly_born.isoformat(),
            "qualification_date": "2012-04-01",
            "contribution_ratio": "020",
            "insured_name": "高齢花子",
            "elderly_certificate_date": period["card_issuance_date"],
            "elderly_valid_from": max(elderly_from, aug1).isoformat(),
            "elderly_valid_to": jul31.isoformat(),
            "elderly_contribution_ratio": "020",
            **period,
        },
        {
            "insurer_number": INSURER_NO,
            "insurer_name": "○○健康保険組合",
            "insured_card_classification": "01",
            "card_symbol": "12-34",
            "card_number": "9012",
            "branch_number": "00",
            "personal_family": "1",
            "name": "限度額次郎",
            "name_kana": "ｹﾞﾝﾄﾞｶﾞｸ ｼﾞﾛｳ",
            "sex": "1",
            "birthdate": "1975-11-20",
            "qualification_date": "2010-04-01",
            "contribution_ratio": "030",
            "insured_name": "限度額次郎",
            "limit_classification": "01",
            "limit_bracket": "A03",
            "limit_certificate_date": aug1.isoformat(),
            "limit_valid_from": aug1.isoformat(),
            "limit_valid_to": jul31.isoformat(),
            "specific_disease_category": "1",
            "specific_disease_certificate_date": "2023-03-20",
            "specific_disease_valid_from": "2023-04-01",
            "specific_disease_self_pay": "10000",
            **period,
        },
    ]


# Registered facilities that have no fujo account (a dental clinic and a visiting-nursing station).
REGISTRY_ONLY = [
    (with_check_digit("133123456"), "◇◇歯科医院"),
    (with_check_digit("136123456"), "☆☆訪問看護ステーション"),
]


def individual_number(key: str) -> str:
    """The demo people's synthetic 個人番号 (valid check digit; never stored, only its keyed hash)."""
    return with_individual_check_digit(f"{90000000000 + [p[0] for p in PEOPLE].index(key):011d}")


def _month_bounds(d: dt.date) -> tuple[str, dt.date, dt.date]:
    first = d.replace(day=1)
    last = month_end(first)
    return first.strftime("%Y-%m"), first, last


def _ticket(payer, rn, month_first: dt.date, month_last: dt.date, facility, facility_name, **kw):
    t = {
        "payer_number": payer,
        "recipient_number": rn,
        "ticket_type": "01",
        "treatment_month": month_first.strftime("%Y-%m"),
        "valid_from": month_first.isoformat(),
        "valid_to": month_last.isoformat(),
        "issue_number": "0000001",
        "designated_facility_code": facility,
        "designated_facility_name": facility_name,
        "treatment_type": "02",
        "single_or_combined": "01",
        "injury_name1": "高血圧症",
        "injury_name2": "2型糖尿病",
        "injury_name3": "腰痛症",
        "self_pay_amount": "0",
        "district_contact_name": "福祉太郎",
        "handling_contact_name": "事務花子",
        "social_insurance": "02",
        "infection_status": "02",
        "elderly_care_status": "02",
        "prefectural_expense_status": "02",
    }
    t.update(kw)
    return t


def load_demo(db: Database, ca: CardAuthority, card_dir: Path, today: dt.date | None = None) -> dict:
    today = today or today_jst()
    with db.read() as conn:
        loaded = conn.execute(
            select(s.organisations.c.id).where(
                s.organisations.c.kind == WELFARE_OFFICE, s.organisations.c.code == "13001"
            )
        ).first()
    cards: dict[str, dict[str, Any]] = {}
    info: dict[str, Any] = {
        "tokens": TOKENS,
        "cards": cards,
        "already_loaded": bool(loaded),
        "today": today.isoformat(),
        "numbers": {
            "office_payer": OFFICE_PAYER,
            "clinic": CLINIC,
            "pharmacy": PHARMACY,
            "other_clinic": OTHER_CLINIC,
            "insurer": INSURER_NO,
            "kouki_insurer": KOUKI_NO,
            "kokuho_insurer": KOKUHO_NO,
        },
        "insured": [
            {k: q[k] for k in ("insurer_number", "card_number", "birthdate", "name")} for q in _insured_only(today)
        ],
    }
    if loaded:
        for key, body, *_rest, pin in PEOPLE:
            info["cards"][key] = {
                "file": str(card_dir / f"{key}.p12"),
                "pin": pin,
                "recipient_number": with_check_digit(body),
            }
        return info
    orgs: dict[str, dict[str, Any]] = {}
    for token_key, kind, code, name, phone, payers in (  # the demo token's key (None: no token)
        ("admin", ADMIN, "operator", "運用管理者", None, None),
        ("office", WELFARE_OFFICE, "13001", "○○市福祉事務所", "03-0000-1111", [OFFICE_PAYER]),
        (None, WELFARE_OFFICE, "13002", "△△区福祉事務所", "03-0000-2222", [OFFICE2_PAYER]),
        ("clinic", FACILITY, CLINIC, "●●医療機関", "03-0000-3333", None),
        ("pharmacy", FACILITY, PHARMACY, "■■薬局", "03-0000-4444", None),
        ("other_clinic", FACILITY, OTHER_CLINIC, "▲▲クリニック", "03-0000-5555", None),
        ("insurer", INSURER, INSURER_NO, "○○健康保険組合", "03-0000-6666", None),
        ("kouki_insurer", INSURER, KOUKI_NO, "東京都後期高齢者医療広域連合", "03-0000-7777", None),
        ("kokuho_insurer", INSURER, KOKUHO_NO, "○○市国民健康保険", "03-0000-8888", None),
    ):
        org = create_organisation(db, kind=kind, code=code, name=name, phone=phone, payer_numbers=payers)
        if token_key:
            orgs[token_key] = org
    for token_key, org in orgs.items():
        issue_credential(
            db, org["id"], label="demo", token=TOKENS[token_key]
        )  # each kind's default role (受付, 担当員 …)
    issue_credential(db, orgs["clinic"]["id"], label="demo 管理者", token=TOKENS["clinic_admin"], role=MANAGER)
    issue_credential(db, orgs["clinic"]["id"], label="demo 医師", token=TOKENS["clinic_doctor"], role=CLINICIAN)
    # 「医療扶助」 starts as 利用しない; the demo facilities switch it on, as the seed says a facility must
    for code in (CLINIC, PHARMACY, OTHER_CLINIC):
        set_medical_assistance(db, principal_for(db, kind=FACILITY, code=code, actor="デモデータ（管理者）"), True)
    # facilities in the registry that do not use fujo (tickets may still designate them)
    admin_p = principal_for(db, kind=ADMIN, code="operator")
    for code, name in REGISTRY_ONLY:
        register_facility(db, admin_p, {"code": code, "name": name, "address": "東京都○○市", "phone": "03-0000-0000"})

    po = principal_for(db, kind=WELFARE_OFFICE, code="13001")
    for key, body, name, kana, sex, birth, pin in PEOPLE:
        rn = with_check_digit(body)
        rec = {
            "payer_number": OFFICE_PAYER,
            "recipient_number": rn,
            "name": name,
            "name_kana": kana,
            "sex": sex,
            "birthdate": birth.isoformat(),
            "address": "東京都○○市△△町1-2-3",
            "post_number": "100-0001",
            "qualification_date": "2020-04-01",
        }
        if key == "shiro":
            rec.update(
                disqualification_date=(today - dt.timedelta(days=40)).isoformat(),
                disqualification_kind="2",
                disqualification_reason="就労収入の増加による廃止",
            )
        register_recipient(db, po, rec)
        card_dir.mkdir(parents=True, exist_ok=True)
        # the card issuer knows the holder by 個人番号 and the 基本4情報; the office then links (初回ひも付け)
        number = individual_number(key)
        card = issue_card(
            db,
            ca,
            pin=pin,
            individual_number=number,
            holder={"name": name, "birthdate": birth.isoformat(), "sex": sex, "address": rec["address"]},
        )
        link_card(db, ca, po, payer=OFFICE_PAYER, rn=rn, individual_number=number)
        path = card_dir / f"{key}.p12"
        path.write_bytes(card["p12"])
        path.chmod(0o600)
        info["cards"][key] = {"file": str(path), "pin": pin, "serial": card["serial"], "recipient_number": rn}

    cur, first, last = _month_bounds(today)
    seed_first, seed_last = dt.date(2024, 7, 1), dt.date(2024, 7, 31)
    ichiro = info["cards"]["ichiro"]["recipient_number"]
    # The seed's own screen: 令和6年7月, ●●医療機関, 単独, 7/1–7/31.
    register_ticket(db, po, _ticket(OFFICE_PAYER, ichiro, seed_first, seed_last, CLINIC, "●●医療機関"))
    register_ticket(db, po, _ticket(OFFICE_PAYER, ichiro, first, last, CLINIC, "●●医療機関"))
    register_ticket(
        db,
        po,
        _ticket(
            OFFICE_PAYER,
            ichiro,
            first,
            last,
            PHARMACY,
            "■■薬局",
            ticket_type="02",
            treatment_type="04",
            prescription_issuer_code=CLINIC,
            prescription_issuer_name="●●医療機関",
            issue_number="0000002",
        ),
    )
    # 未委託: 花子's ticket designates ●●医療機関; checking her at ▲▲クリニック gives validity 6.
    register_ticket(
        db,
        po,
        _ticket(
            OFFICE_PAYER,
            info["cards"]["hanako"]["recipient_number"],
            first,
            last,
            CLINIC,
            "●●医療機関",
            injury_name1="気管支喘息",
            injury_name2=None,
            injury_name3=None,
            issue_number="0000003",
        ),
    )
    # 保護次郎: no ticket this month yet (未登録) — register one later and bulk retrieval picks it up.
    # 併用: 三郎 has health insurance too.
    saburo = info["cards"]["saburo"]
    register_ticket(
        db,
        po,
        _ticket(
            OFFICE_PAYER,
            saburo["recipient_number"],
            first,
            last,
            CLINIC,
            "●●医療機関",
            single_or_combined="02",
            social_insurance="01",
            injury_name1="変形性膝関節症",
            injury_name2=None,
            injury_name3=None,
            issue_number="0000004",
        ),
    )
    register_qualification(
        db,
        principal_for(db, kind=INSURER, code=INSURER_NO),
        {
            "insurer_number": INSURER_NO,
            "insurer_name": "○○健康保険組合",
            "insured_card_classification": "01",
            "card_symbol": "12-34",
            "card_number": "5678",
            "branch_number": "01",
            "personal_family": "1",
            "name": "併用三郎",
            "name_kana": "ﾍｲﾖｳ ｻﾌﾞﾛｳ",
            "sex": "1",
            "birthdate": "1955-06-30",
            "qualification_date": "2019-04-01",
            "card_serial": saburo["serial"],
        },
    )
    for q in _insured_only(today):
        register_qualification(db, principal_for(db, kind=INSURER, code=q["insurer_number"]), q)
    # 薬剤情報等 (issue 11): half a year for 生保一郎, two facilities prescribing the same ingredient
    from ..medinfo.demo import load_medinfo_demo

    load_medinfo_demo(
        db,
        po,
        payer=OFFICE_PAYER,
        recipient=ichiro,
        today=today,
        clinic=(CLINIC, "●●医療機関"),
        other_clinic=(OTHER_CLINIC, "▲▲クリニック"),
    )
    info["current_month"] = cur
    return info


def describe(info: dict) -> str:
    n = info["numbers"]
    lines = [
        "fujo demo data" + (" (already loaded)" if info["already_loaded"] else " loaded"),
        "",
        "API tokens (demo only):",
    ]
    lines += [f"  {k:<13} {v}" for k, v in info["tokens"].items()]
    lines += [
        "",
        f"福祉事務所 ○○市福祉事務所  公費負担者番号 {n['office_payer']}",
        f"医療機関   ●●医療機関 {n['clinic']}   ■■薬局 {n['pharmacy']}   ▲▲クリニック {n['other_clinic']} (未委託)",
        f"保険者     ○○健康保険組合 {n['insurer']}   東京都後期高齢者医療広域連合 {n['kouki_insurer']}   "
        f"○○市国民健康保険 {n['kokuho_insurer']}",
        "",
        "health insurance only (保険者番号 / 番号 / 生年月日):",
    ]
    lines += [f"  {q['name']}  {q['insurer_number']}  {q['card_number']}  {q['birthdate']}" for q in info["insured"]]
    lines += ["", "virtual cards (file / PIN / 受給者番号):"]
    for k, c in info["cards"].items():
        lines.append(f"  {k:<7} {c['file']}  PIN {c['pin']}  {c['recipient_number']}")
    ichiro = info["cards"]["ichiro"]["recipient_number"]
    lines += [
        "",
        "try:",
        f"  fujo check ticket --facility {n['clinic']} --payer {n['office_payer']} --recipient {ichiro} "
        f"--birthdate 1990-01-15 --date 2024-07-10",
        f"  fujo check card --facility {n['other_clinic']} --card-file {info['cards']['hanako']['file']} --pin 2345",
        f"  curl -s -H 'Authorization: Bearer {info['tokens']['clinic']}' http://127.0.0.1:8000/api/v1/facility/tickets?month=2024-07",
        "  # 限度額適用認定証 with the patient's consent (LimitApplicationCertificateRelatedConsFlg 1):",
        f"  curl -s -H 'Authorization: Bearer {info['tokens']['clinic']}' -H 'Content-Type: application/json' "
        f'-d \'{{"insurer_number":"{n["insurer"]}","identification_number":"9012",'
        f'"birthdate":"1975-11-20","limit_application_consent":true}}\' '
        "http://127.0.0.1:8000/api/v1/checks/numbers",
        "  # 薬剤情報 (医師 token; after a card check of 生保一郎 at ●●医療機関 with consent, valid 24 h):",
        f"  fujo check card --facility {n['clinic']} --card-file {info['cards']['ichiro']['file']} --pin 1234 "
        "--consent medication",
        f"  curl -s -H 'Authorization: Bearer {info['tokens']['clinic_doctor']}' "
        f"'http://127.0.0.1:8000/api/v1/medinfo/medication?payer_number={n['office_payer']}&recipient_number={ichiro}'",
    ]
    return "\n".join(lines)
