"""What the pure core reads from a record: the attributes, as Protocols.

The core takes "any object with these attributes" — SQLAlchemy Core rows from the services,
SimpleNamespace or dataclasses in tests, an earlier row of the same CSV file — so these Protocols
name the attributes it reads, with their types, and nothing else. Members are read-only properties
so that immutable rows (``Row``, frozen dataclasses) fit. Attributes the core reads with
``getattr(row, name, None)`` (``disqualification_kind``, the optional insurance details) are
deliberately not members: older rows and test doubles may lack them.

Result dicts keep the wire vocabulary of the terminal interface (``WireDict``): their keys are XML
element names and their values strings, nested blocks and lists of blocks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, TypedDict

WireDict = dict[str, Any]
"""A check or bulk result, or one of its blocks: XML element name → wire value (or nested block)."""

Record = dict[str, Any]
"""A record as the field tables describe it (``fields.clean_record``): column name → value (str,
date, int) or None. Raw input before cleaning is a Record too."""


class Contact(TypedDict, total=False):
    """Whom the front desk calls: the welfare office of a 医療扶助 answer."""

    OfficeName: str
    Phone: str | None


class Period(Protocol):
    """A qualification's validity window: from its start day up to, not including, its end."""

    @property
    def qualification_date(self) -> dt.date: ...
    @property
    def disqualification_date(self) -> dt.date | None: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Identity(Named, Protocol):
    """Who a record is about, as compared at 初回ひも付け (name and birth date)."""

    @property
    def birthdate(self) -> dt.date: ...


class Person(Identity, Protocol):
    """The person block of a result (氏名, カナ, 性別, 生年月日, 住所, 郵便番号)."""

    @property
    def name_kana(self) -> str: ...
    @property
    def sex(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def post_number(self) -> str | None: ...


class RecipientRow(Person, Period, Protocol):
    """A 被保護者 (recipients row) as a check answers it."""

    @property
    def payer_number(self) -> str: ...
    @property
    def recipient_number(self) -> str: ...


class InsuranceRow(Person, Period, Protocol):
    """A health-insurance qualification (insurance_qualifications row) as a check answers it."""

    @property
    def insured_card_classification(self) -> str: ...
    @property
    def insurer_number(self) -> str: ...
    @property
    def insurer_name(self) -> str: ...
    @property
    def card_symbol(self) -> str | None: ...
    @property
    def card_number(self) -> str: ...
    @property
    def branch_number(self) -> str | None: ...
    @property
    def personal_family(self) -> str | None: ...


class TicketKey(Protocol):
    """What the duplicate rules compare of an active ticket (a stored one or an earlier CSV row)."""

    @property
    def ticket_key(self) -> str: ...
    @property
    def ticket_type(self) -> str | None: ...
    @property
    def treatment_month(self) -> str | None: ...
    @property
    def designated_facility_code(self) -> str | None: ...
    @property
    def issue_number(self) -> str | None: ...


class TicketPeriod(Protocol):
    """A ticket's validity: ``valid_from ≤ day ≤ valid_to`` (within its 診療年月)."""

    @property
    def valid_from(self) -> dt.date: ...
    @property
    def valid_to(self) -> dt.date: ...


class TicketRow(TicketPeriod, Protocol):
    """A current 医療券/調剤券 revision as a check decides on it (and, through
    ``fields.TICKET_FIELDS``, every column of the ticket for the MedicalTicketInfo block)."""

    @property
    def treatment_month(self) -> str: ...
    @property
    def designated_facility_code(self) -> str: ...
