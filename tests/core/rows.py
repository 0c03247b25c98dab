"""Plain row objects for the pure core (the attribute names of fujo.core.fields), built from the seed's
example person 生保一郎 with valid numbers."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from fujo.core.fields import INSURANCE_FIELDS, TICKET_FIELDS

PAYER = "12130019"  # seed 12000001 made valid: 法別12 東京都13 実施機関001 検証番号9
RECIPIENT = "1010008"  # seed 1010001 made valid: 101000 + 検証番号8
CLINIC = "1311234569"  # ●●医療機関 (医科)
OTHER_CLINIC = "1311299992"  # ▲▲クリニック: designated for nobody
PHARMACY = "1341234563"
OFFICE = "○○市福祉事務所"
JULY_10 = dt.date(2024, 7, 10)


def recipient(**kw) -> SimpleNamespace:
    d = dict(
        payer_number=PAYER,
        recipient_number=RECIPIENT,
        name="生保一郎",
        name_kana="ｾｲﾎ ｲﾁﾛｳ",
        sex="1",
        birthdate=dt.date(1990, 1, 15),
        address="東京都○○市△△町1-2-3",
        post_number="100-0001",
        qualification_date=dt.date(2020, 4, 1),
        disqualification_date=None,
        disqualification_kind=None,
        disqualification_reason=None,
    )
    d.update(kw)
    return SimpleNamespace(**d)


def ticket(**kw) -> SimpleNamespace:
    d = {f.name: None for f in TICKET_FIELDS}
    d.update(
        ticket_type="01",
        treatment_month="202407",
        valid_from=dt.date(2024, 7, 1),
        valid_to=dt.date(2024, 7, 31),
        issue_number="0000001",
        designated_facility_code=CLINIC,
        designated_facility_name="●●医療機関",
        treatment_type="02",
        single_or_combined="01",
        injury_name1="高血圧症",
        injury_name2="2型糖尿病",
        injury_name3="腰痛症",
        self_pay_amount=0,
    )
    d.update(kw)
    return SimpleNamespace(**d)


def insured(**kw) -> SimpleNamespace:
    d = {f.name: None for f in INSURANCE_FIELDS}
    d.update(
        insurer_number="06139992",
        insurer_name="○○健康保険組合",
        insured_card_classification="01",
        card_symbol="12-34",
        card_number="5678",
        branch_number="01",
        personal_family="1",
        name="生保一郎",
        name_kana="ｾｲﾎ ｲﾁﾛｳ",
        sex="1",
        birthdate=dt.date(1990, 1, 15),
        address=None,
        post_number=None,
        qualification_date=dt.date(2019, 4, 1),
        disqualification_date=None,
    )
    d.update(kw)
    return SimpleNamespace(**d)
