"""Read model of the insurer's routes (schema only, see :mod:`fujo.api.models`): a health-insurance
qualification as :mod:`fujo.insurance.service` returns it (snake_case, ISO dates, every field of
:data:`fujo.core.fields.INSURANCE_FIELDS`, null when not set)."""

from __future__ import annotations

import datetime as dt

from ..api.models import ReadModel, by_name, column, described
from ..core.fields import INSURANCE_FIELDS

_I = by_name(INSURANCE_FIELDS)


class InsuranceQualificationOut(ReadModel):
    id: int = described("row id", required=True)
    insurer_number: str = column(_I["insurer_number"])
    insurer_name: str = column(_I["insurer_name"])
    insured_card_classification: str = column(_I["insured_card_classification"])
    card_symbol: str | None = column(_I["card_symbol"])
    card_number: str = column(_I["card_number"])
    branch_number: str | None = column(_I["branch_number"])
    personal_family: str | None = column(_I["personal_family"])
    name: str = column(_I["name"])
    name_kana: str = column(_I["name_kana"], description="氏名カナ (half-width)")
    sex: str = column(_I["sex"])
    birthdate: dt.date = column(_I["birthdate"])
    address: str | None = column(_I["address"])
    post_number: str | None = column(_I["post_number"])
    qualification_date: dt.date = column(_I["qualification_date"])
    disqualification_date: dt.date | None = column(_I["disqualification_date"])
    insured_name: str | None = column(_I["insured_name"])
    name_of_other: str | None = column(_I["name_of_other"])
    name_of_other_kana: str | None = column(_I["name_of_other_kana"])
    card_issuance_date: dt.date | None = column(_I["card_issuance_date"])
    card_valid_from: dt.date | None = column(_I["card_valid_from"])
    card_valid_to: dt.date | None = column(_I["card_valid_to"])
    contribution_ratio: str | None = column(_I["contribution_ratio"])
    preschool: str | None = column(_I["preschool"])
    elderly_certificate_date: dt.date | None = column(_I["elderly_certificate_date"])
    elderly_valid_from: dt.date | None = column(_I["elderly_valid_from"])
    elderly_valid_to: dt.date | None = column(_I["elderly_valid_to"])
    elderly_contribution_ratio: str | None = column(_I["elderly_contribution_ratio"])
    limit_classification: str | None = column(_I["limit_classification"])
    limit_bracket: str | None = column(_I["limit_bracket"])
    limit_certificate_date: dt.date | None = column(_I["limit_certificate_date"])
    limit_valid_from: dt.date | None = column(_I["limit_valid_from"])
    limit_valid_to: dt.date | None = column(_I["limit_valid_to"])
    limit_long_term_date: dt.date | None = column(_I["limit_long_term_date"])
    specific_disease_category: str | None = column(_I["specific_disease_category"])
    specific_disease_certificate_date: dt.date | None = column(_I["specific_disease_certificate_date"])
    specific_disease_valid_from: dt.date | None = column(_I["specific_disease_valid_from"])
    specific_disease_valid_to: dt.date | None = column(_I["specific_disease_valid_to"])
    specific_disease_self_pay: int | None = column(_I["specific_disease_self_pay"], description="自己負担限度額 (yen)")
    card_linked: bool = described("linked to a My Number card holder", required=True)
    updated_at: dt.datetime = described("ISO 8601 with offset", required=True)
