"""Read models of the administrator's card routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

import datetime as dt

from ..api.models import ReadModel, described


class CardIssuedOut(ReadModel):
    serial: str = described("certificate serial (hex)", required=True)
    person_id: int = described("the card holder", required=True)
    not_after: dt.datetime = described("end of the certificate's validity", required=True)
    p12_base64: str = described("the card file (PKCS#12 sealed with the PIN), base64", required=True)


class CardOut(ReadModel):
    serial: str = described("certificate serial (hex)", required=True)
    person_id: int = described("the card holder", required=True)
    issued_at: dt.datetime = described("ISO 8601 with offset", required=True)
    not_after: dt.datetime = described("end of the certificate's validity", required=True)
    revoked: bool = described("revoked", required=True)
    revocation_reason: str | None = described("why", required=True, nullable=True)


class CardRevokedOut(ReadModel):
    serial: str = described("certificate serial (hex, lower case)", required=True)
    revoked: bool = described("always true", required=True)


class PinResetOut(ReadModel):
    serial: str = described("certificate serial (hex, lower case)", required=True)
    token: str = described("give it to the reader: `fujo reader unlock CARD --token …` (single use)", required=True)
    expires_at: dt.datetime = described("the token is refused after this (ISO 8601 with offset)", required=True)
