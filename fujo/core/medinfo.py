"""薬剤情報等: what is served (retention), duplicate-prescription hints and the disaster area. Pure.

Retention. Neither seed nor DOMAIN.md publishes how far back the information goes; fujo serves
the figures of the national system's published guidance as the project brief gives them:
medication and clinical information 3 years, specific health checkups 5 years, operations 5 years,
counted back from today (the same calendar day; 29 February → 28 February). Older rows stay
stored and are never served.

Duplicate prescriptions (重複投薬). A medication taken from ``date`` for ``days`` days covers
``date .. date + days - 1``. Two records are duplicates when they have the same ingredient (一般名,
compared after normalisation; or the same first 7 characters of a YJ code, which name the
ingredient and route in the 薬価基準収載医薬品コード), come from **different** facilities and their
periods overlap.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .identity import normalize_name

RETENTION_YEARS = {"medication": 3, "diagnosis": 3, "checkups": 5, "surgery": 5}

YJ_CODE = re.compile(r"^[0-9]{4}[0-9A-Z]{3}[A-Z0-9][0-9]{3}[0-9]$")  # 薬価基準収載医薬品コード (YJ), 12
RECEIPT_DRUG_CODE = re.compile(r"^6[0-9]{8}$")  # レセプト電算処理システム 医薬品コード, 9 digits from 6
RECEIPT_PROCEDURE_CODE = re.compile(r"^1[0-9]{8}$")  # 診療行為コード (レセ電), 9 digits from 1
OPERATION_CODE = re.compile(r"^(K[0-9]{3}[0-9A-Z-]{0,6}|1[0-9]{8})$")  # 点数表の区分番号 (K…) or レセ電 code
ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?$")


def retained_from(category: str, today: dt.date) -> dt.date:
    """The oldest day still served for ``category`` on ``today``."""
    years = RETENTION_YEARS[category]
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def normalize_ingredient(name: str | None) -> str:
    """一般名 compared without width, case or spaces (NFKC)."""
    if not name:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def ingredient_key(drug_code: str | None, ingredient: str | None) -> tuple[str, str]:
    """What identifies an ingredient: its normalised name, and the YJ prefix when the code is a YJ code."""
    yj = drug_code[:7] if drug_code and YJ_CODE.match(drug_code) else ""
    return normalize_ingredient(ingredient), yj


def same_ingredient(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return bool((a[0] and a[0] == b[0]) or (a[1] and a[1] == b[1]))


def period(start: dt.date, days: int | None) -> tuple[dt.date, dt.date]:
    """The days a medication covers (at least its own day)."""
    return start, start + dt.timedelta(days=max(int(days or 1), 1) - 1)


def overlap(a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class Medication:
    key: int  # the record's id (or a position)
    date: dt.date
    days: int | None
    facility_code: str
    drug_code: str | None
    ingredient: str | None

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        return period(self.date, self.days)

    @property
    def ingredient_key(self) -> tuple[str, str]:
        return ingredient_key(self.drug_code, self.ingredient)


def duplicates(meds: Sequence[Medication]) -> dict[int, list[int]]:
    """For each medication, the keys of the others that duplicate it (same ingredient, another
    facility, overlapping period); only medications with at least one are in the answer."""
    out: dict[int, list[int]] = {}
    for i, a in enumerate(meds):
        for b in meds[i + 1 :]:
            if (
                a.facility_code != b.facility_code
                and same_ingredient(a.ingredient_key, b.ingredient_key)
                and overlap(a.span, b.span)
            ):
                out.setdefault(a.key, []).append(b.key)
                out.setdefault(b.key, []).append(a.key)
    return out


def planned_overlaps(
    meds: Iterable[Medication],
    planned: Iterable[tuple[str, tuple[str, str]]],
    span: tuple[dt.date, dt.date],
    facility_code: str,
) -> list[tuple[str, Medication]]:
    """What a facility is about to prescribe (drug code, its ingredient key) for ``span``, against
    the person's medications: (drug code, the medication it duplicates) for every match of the same
    ingredient from another facility whose period overlaps ``span``."""
    meds = list(meds)
    out = []
    for code, key in planned:
        for m in meds:
            if m.facility_code != facility_code and same_ingredient(key, m.ingredient_key) and overlap(span, m.span):
                out.append((code, m))
    return out


# --- disaster area ------------------------------------------------------------------------------


def normalize_place(s: str | None) -> str:
    """An address or a municipality name compared without width or spaces (NFKC)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s or ""))


def in_area(
    prefectures: Iterable[str], municipalities: Iterable[str], facility_prefecture: str, facility_address: str | None
) -> bool:
    """A facility is in the disaster area when its 都道府県 (from its 医療機関コード, as the registry
    holds it) is one of ``prefectures``, or its registered address begins with one of
    ``municipalities`` (written with the prefecture, e.g. 「石川県輪島市」)."""
    if facility_prefecture in set(prefectures):
        return True
    addr = normalize_place(facility_address)
    return bool(addr) and any(m and addr.startswith(normalize_place(m)) for m in municipalities)


def open_at(starts_at: dt.datetime, ends_at: dt.datetime, closed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """An opening is in force from ``starts_at`` up to, not including, ``ends_at`` — and not after it
    was closed."""
    return starts_at <= now < ends_at and (closed_at is None or now < closed_at)


def matches_person(
    row: Mapping[str, object] | object,
    *,
    name: str,
    birthdate: dt.date,
    sex: str,
    address: str | None,
) -> bool:
    """Disaster search: 氏名 (normalised), 生年月日 and 性別 agree, and the address when given (the
    registered address begins with what was given)."""

    def get(k: str) -> object:
        return row.get(k) if isinstance(row, Mapping) else getattr(row, k, None)

    if (
        normalize_name(str(get("name") or "")) != normalize_name(name)
        or get("birthdate") != birthdate
        or get("sex") != sex
    ):
        return False
    if address:
        return normalize_place(str(get("address") or "")).startswith(normalize_place(address))
    return True
