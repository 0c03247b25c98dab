"""Read models of the facility's settings and 照会番号 routes (schema only, see :mod:`fujo.api.models`)."""

from __future__ import annotations

import datetime as dt

from ..api.models import ReadModel, described


class SettingChangeOut(ReadModel):
    medical_assistance_enabled: bool = described("the value set", required=True)
    changed_at: dt.datetime = described("ISO 8601 with offset", required=True)
    changed_by: str = described("who: the web user or token label with the role", required=True)


class FacilitySettingsOut(ReadModel):
    facility_code: str = described("医療機関コード", required=True)
    name: str = described("医療機関名", required=True)
    medical_assistance_enabled: bool = described("「医療扶助」 利用する (true) / 利用しない (false)", required=True)
    can_change: bool = described("the caller may switch it (管理者)", required=True)
    changes: list[SettingChangeOut] = described(
        "the latest changes of 「医療扶助」, newest first (≤ 20)", required=True
    )


class ReferenceOut(ReadModel):
    reference_number: str = described("照会番号 registered", required=True)
    registered: bool = described("always true", required=True)
