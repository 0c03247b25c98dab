"""Read models of the administrator's organisation routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

import datetime as dt

from ..api.models import ReadModel, described
from ..auth.principal import KIND_JA


class OrganisationOut(ReadModel):
    id: int = described("row id", required=True)
    kind: str = described("種別", required=True, table=KIND_JA)
    code: str = described("医療機関コード, 保険者番号 or office code", required=True)
    name: str = described("名称", required=True)
    phone: str | None = described("電話番号", required=True, nullable=True)
    address: str | None = described("住所", required=True, nullable=True)
    medical_assistance_enabled: bool = described("facility: 「医療扶助」 利用する", required=True)
    payer_numbers: list[str] = described("welfare office: its 公費負担者番号 (empty for others)", required=True)


class CredentialIssuedOut(ReadModel):
    id: int = described("credential id", required=True)
    organisation_id: int = described("the organisation", required=True)
    label: str | None = described("label", required=True, nullable=True)
    role: str = described("role inside the organisation", required=True)
    token: str = described("the bearer token, shown this once (only its hash is stored)", required=True)


class CredentialOut(ReadModel):
    id: int = described("credential id", required=True)
    label: str | None = described("label", required=True, nullable=True)
    role: str = described("role inside the organisation", required=True)
    created_at: dt.datetime = described("ISO 8601", required=True)
    revoked: bool = described("revoked (no longer accepted)", required=True)
