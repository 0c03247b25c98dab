"""Who may see a person's 薬剤情報等 (medication, clinical, health-check and operation information)
right now. Pure: the consent records (card checks and checks by numbers of the person, as the check
log holds them), the clock, the asking facility and its role in; allowed, or the refusal, out.

The rule (seed 000 item 5 and ※2; DOMAIN.md "Consent"):

* A live consent is a **card check at this facility** for this person in which the patient set the
  category's bit at the reader; it lasts 24 hours (``AvailableTime`` = ``ConsTime`` + 24 h, as in real
  result files). The **newest** card check at this facility decides: a later check without the bit
  withdraws the consent given earlier.
* A check by numbers never grants it (no card, no reader, no consent).
* A consent given at another facility does not open the data here. The refusal says so only to a
  facility that has checked the person itself (by numbers): to anyone else it is "no consent", so
  that asking about numbers never reveals where a person was treated (as the 未委託 rule).
* Only the facility's 医師・歯科医師・薬剤師 (role ``clinician``) view it; 受付 and 管理者 do not.
* A recipient under a viewing restriction (DV・虐待 victims) is never shown (checked before anything
  else, and answered to the facility without saying why: the restriction itself is sensitive).

Flags as in the check answer: 0 なし, 1 あり, 2 期限切れ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

# category → the consent kind of the reader (cards/reader.py CONSENT_ORDER, same order)
CATEGORIES = {
    "medication": "PharmacistsInfo",
    "diagnosis": "DiagnosisInfo",
    "checkups": "SpecificHealthCheckupsInfo",
    "surgery": "OperationInfo",
}
CATEGORY_JA = {"medication": "薬剤情報", "diagnosis": "診療情報", "checkups": "特定健診情報", "surgery": "手術情報"}
_BIT = {k: i for i, k in enumerate(CATEGORIES)}  # position of the category's bit in the consent string

CONSENT_HOURS = 24
VIEWER_ROLE = "clinician"  # fujo.auth.principal.CLINICIAN (医師・歯科医師・薬剤師)

FLAG_NONE, FLAG_GIVEN, FLAG_EXPIRED = "0", "1", "2"

# Reasons. GRANTED is the one that opens the data; the others are refusals.
GRANTED = "granted"
NO_CONSENT = "no_consent"
EXPIRED = "expired"
OTHER_FACILITY = "other_facility"
NUMBERS_ONLY = "numbers_only"
ROLE = "role"
RESTRICTED = "restricted"  # recorded in the audit trail; the facility is told UNAVAILABLE
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ConsentRecord:
    """One check of the person, as the check log holds it."""

    facility_id: int  # the organisation that checked
    method: str  # card | numbers (other methods are ignored)
    at: dt.datetime
    consent: str | None = None  # the bits signed at the reader (card checks only)


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    reason: str
    flag: str  # ConsFlg for this facility: 0 なし / 1 あり / 2 期限切れ
    consented_at: dt.datetime | None = None  # ConsTime of the consent that decided
    available_until: dt.datetime | None = None  # AvailableTime

    @property
    def public_reason(self) -> str:
        """What the facility is told (a restriction is not revealed as such)."""
        return UNAVAILABLE if self.reason == RESTRICTED else self.reason


def _has_bit(bits: str | None, category: str) -> bool:
    i = _BIT[category]
    return bits is not None and len(bits) > i and bits[i] == "1"


def decide_view(
    records: Iterable[ConsentRecord],
    *,
    now: dt.datetime,
    facility_id: int,
    role: str,
    category: str,
    restricted: bool = False,
) -> ConsentDecision:
    """May ``facility_id`` (its user or token with ``role``) view ``category`` of the person now?"""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if restricted:
        return ConsentDecision(False, RESTRICTED, FLAG_NONE)
    if role != VIEWER_ROLE:
        return ConsentDecision(False, ROLE, FLAG_NONE)
    past = [r for r in records if r.at <= now]
    here_cards = [r for r in past if r.method == "card" and r.facility_id == facility_id]
    if here_cards:
        newest = max(here_cards, key=lambda r: r.at)
        if _has_bit(newest.consent, category):
            until = newest.at + dt.timedelta(hours=CONSENT_HOURS)
            if now < until:
                return ConsentDecision(True, GRANTED, FLAG_GIVEN, newest.at, until)
            return ConsentDecision(False, EXPIRED, FLAG_EXPIRED, newest.at, until)
        return ConsentDecision(False, NO_CONSENT, FLAG_NONE)
    if not any(r.method == "numbers" and r.facility_id == facility_id for r in past):
        # this facility has not checked the person at all: nothing about other facilities is told
        return ConsentDecision(False, NO_CONSENT, FLAG_NONE)
    elsewhere = [
        r
        for r in past
        if r.method == "card"
        and r.facility_id != facility_id
        and _has_bit(r.consent, category)
        and now < r.at + dt.timedelta(hours=CONSENT_HOURS)
    ]
    if elsewhere:
        return ConsentDecision(False, OTHER_FACILITY, FLAG_NONE)
    return ConsentDecision(False, NUMBERS_ONLY, FLAG_NONE)


def refusal_message(decision: ConsentDecision, category: str) -> tuple[str, str]:
    """The refusal in Japanese and English, naming what is missing (and when a consent expired)."""
    what = CATEGORY_JA[category]
    r = decision.reason
    if r == EXPIRED and decision.available_until is not None:
        at = decision.available_until.strftime("%Y-%m-%d %H:%M")
        return (
            f"{what}の閲覧の同意は{at}に期限切れになりました（同意から24時間）。"
            "マイナンバーカードで資格確認を行い、改めて同意を得てください。",
            f"The consent to view {category} expired at {at} (24 hours after it was given); "
            "check by My Number card again and ask for consent.",
        )
    if r == OTHER_FACILITY:
        return (
            f"{what}の閲覧の同意は他の医療機関・薬局で得られたもので、この医療機関・薬局では閲覧できません。"
            "この医療機関・薬局でマイナンバーカードによる資格確認を行い、同意を得てください。",
            f"The consent to view {category} was given at another facility; it does not open the data here.",
        )
    if r == NUMBERS_ONLY:
        return (
            f"医療券/調剤券等の番号による資格確認では{what}を閲覧できません。"
            "マイナンバーカードで資格確認を行い、同意を得てください。",
            f"A check by numbers never grants access to {category}: check by My Number card with consent.",
        )
    if r == ROLE:
        return (
            f"{what}は医師・歯科医師・薬剤師の権限の利用者のみ閲覧できます。",
            f"Only clinicians (role clinician) may view {category}.",
        )
    if r in (RESTRICTED, UNAVAILABLE):
        return (
            f"この方の{what}は提供できません。必要な場合は福祉事務所にお問い合わせください。",
            f"{category} of this person cannot be provided; contact the welfare office if needed.",
        )
    return (
        f"{what}の閲覧に同意した、この医療機関・薬局でのマイナンバーカードによる資格確認がありません。"
        "マイナンバーカードで資格確認を行い、同意を得てください。",
        f"No card check at this facility with consent to view {category}: check by My Number card with consent.",
    )
