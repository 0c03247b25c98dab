"""Factories for test data, built through the services themselves (one path for every write).
All numbers carry valid check digits; all people are synthetic."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from fujo.auth.principal import ADMIN, FACILITY, INSURER, WELFARE_OFFICE
from fujo.cards.service import issue_card
from fujo.core.dates import month_end
from fujo.core.numbers import with_check_digit, with_individual_check_digit
from fujo.facility.service import register_reference, set_medical_assistance
from fujo.insurance.service import register_qualification
from fujo.orgs.service import create_organisation, issue_credential, principal_for
from fujo.registry.service import link_card, register_recipient, register_ticket

PAYER = with_check_digit("1213001")
PAYER2 = with_check_digit("1227001")
CLINIC = with_check_digit("131123456")
PHARMACY = with_check_digit("134123456")
OTHER = with_check_digit("131129999")
INSURER_NO = with_check_digit("0613999")
JULY = dt.date(2024, 7, 10)  # the seed's month: 令和6年7月

_counter = itertools.count(100000)
_issue_numbers = itertools.count(50_000_001)  # far from the small numbers tests choose themselves
_individual_numbers = itertools.count(10_000_000_000)


def month_range(d: dt.date) -> tuple[dt.date, dt.date]:
    first = d.replace(day=1)
    return first, month_end(first)


class World:
    def __init__(self, db, ca, tmp: Path):
        self.db, self.ca, self.tmp = db, ca, tmp
        self.tokens = {}
        self.orgs = {}
        self.numbers: dict = {}  # (payer, recipient number) → the 個人番号 of its card holder
        for key, kind, code, name, payers in [
            ("admin", ADMIN, "operator", "運用管理者", None),
            ("office", WELFARE_OFFICE, "13001", "○○市福祉事務所", [PAYER]),
            ("office2", WELFARE_OFFICE, "27001", "□□市福祉事務所", [PAYER2]),
            ("clinic", FACILITY, CLINIC, "●●医療機関", None),
            ("pharmacy", FACILITY, PHARMACY, "■■薬局", None),
            ("other", FACILITY, OTHER, "▲▲クリニック", None),
            ("insurer", INSURER, INSURER_NO, "○○健康保険組合", None),
        ]:
            org = create_organisation(
                db,
                kind=kind,
                code=code,
                name=name,
                phone="03-0000-0000" if kind == WELFARE_OFFICE else None,
                address=None,
                payer_numbers=payers,
            )
            self.orgs[key] = org
            # the test tokens act as each organisation's 管理者 (role tests ask for others: role_auth)
            self.tokens[key] = issue_credential(db, org["id"], label="test", role="manager")["token"]
            if kind == FACILITY:  # 「医療扶助」 starts as 利用しない; the test facilities use it
                set_medical_assistance(db, principal_for(db, kind=FACILITY, code=code), True)

    def principal(self, key: str):
        o = self.orgs[key]
        return principal_for(self.db, kind=o["kind"], code=o["code"])

    def auth(self, key: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    def role_auth(self, key: str, role: str) -> dict:
        """A bearer header for a token of organisation ``key`` with ``role`` (issued once, then kept)."""
        k = f"{key}:{role}"
        if k not in self.tokens:
            self.tokens[k] = issue_credential(self.db, self.orgs[key]["id"], label=f"test {role}", role=role)["token"]
        return {"Authorization": f"Bearer {self.tokens[k]}"}

    @staticmethod
    def recipient_data(**kw) -> dict:
        d = {
            "payer_number": PAYER,
            "recipient_number": with_check_digit(str(next(_counter))),
            "name": "生保一郎",
            "name_kana": "ｾｲﾎ ｲﾁﾛｳ",
            "sex": "1",
            "birthdate": "1990-01-15",
            "address": "東京都○○市1-2-3",
            "post_number": "100-0001",
            "qualification_date": "2020-04-01",
        }
        d.update(kw)
        return d

    def recipient(self, office: str = "office", **kw) -> dict:
        return register_recipient(self.db, self.principal(office), self.recipient_data(**kw))

    @staticmethod
    def ticket_data(recipient: dict, on: dt.date = JULY, facility: str = CLINIC, **kw) -> dict:
        first, last = month_range(on)
        d = {
            "payer_number": recipient["payer_number"],
            "recipient_number": recipient["recipient_number"],
            "ticket_type": "01",
            "treatment_month": first.strftime("%Y-%m"),
            "valid_from": first.isoformat(),
            "valid_to": last.isoformat(),
            "designated_facility_code": facility,
            "designated_facility_name": "●●医療機関",
            "treatment_type": "02",
            "single_or_combined": "01",
            "injury_name1": "高血圧症",
            "injury_name2": "2型糖尿病",
            "injury_name3": "腰痛症",
            "issue_number": str(next(_issue_numbers)),
        }
        if facility[2] == "4":
            d.update(ticket_type="02", treatment_type="04", designated_facility_name="■■薬局")
        d.update(kw)
        return d

    def ticket(self, recipient: dict, office: str = "office", **kw) -> dict:
        return register_ticket(self.db, self.principal(office), self.ticket_data(recipient, **kw))

    def reference(self, recipient: dict, number: str, facility: str = "clinic") -> dict:
        """The facility's 照会番号 ``number`` for the recipient's person (the card must be linked)."""
        return register_reference(
            self.db,
            self.principal(facility),
            reference_number=number,
            insurer_number=recipient["payer_number"],
            identification_number=recipient["recipient_number"],
            birthdate=recipient["birthdate"],
        )

    @staticmethod
    def individual_number() -> str:
        return with_individual_check_digit(str(next(_individual_numbers)))

    def card(self, recipient: dict, pin: str = "1234", link: bool = True, **kw) -> dict:
        """A card issued to the recipient's person (個人番号 + 4 情報 as on the recipient), linked by the
        office's 初回ひも付け unless ``link`` is False."""
        # one 個人番号 per recipient: a second card for the same recipient is a re-issue to the same holder
        number = self.numbers.setdefault(
            (recipient["payer_number"], recipient["recipient_number"]), self.individual_number()
        )
        holder = {k: recipient[k] for k in ("name", "birthdate", "sex")}
        holder["address"] = recipient.get("address") or "東京都○○市1-2-3"
        res = issue_card(self.db, self.ca, pin=pin, individual_number=number, holder=holder, **kw)
        res["individual_number"] = number
        if link:
            office = "office2" if recipient["payer_number"] == PAYER2 else "office"
            link_card(
                self.db,
                self.ca,
                self.principal(office),
                payer=recipient["payer_number"],
                rn=recipient["recipient_number"],
                individual_number=number,
            )
        path = self.tmp / f"card-{res['serial']}.p12"
        path.write_bytes(res["p12"])
        res["path"], res["pin"] = path, pin
        return res

    def insurance(self, card: dict | None = None, **kw) -> dict:
        d = {
            "insurer_number": INSURER_NO,
            "insurer_name": "○○健康保険組合",
            "insured_card_classification": "01",
            "card_symbol": "12-34",
            "card_number": "5678",
            "branch_number": "01",
            "name": "生保一郎",
            "name_kana": "ｾｲﾎ ｲﾁﾛｳ",
            "sex": "1",
            "birthdate": "1990-01-15",
            "qualification_date": "2019-04-01",
        }
        if card:
            d["card_serial"] = card["serial"]
        d.update(kw)
        return register_qualification(self.db, self.principal("insurer"), d)
