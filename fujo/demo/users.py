"""Demo web users: one per role of each demo organisation (passwords are demo-only, printed by
``fujo demo``)."""

from __future__ import annotations

from contextlib import suppress

from ..accounts.service import create_user
from ..auth.principal import CASEWORKER, CLINICIAN, MANAGER, RECEPTION, role_label
from ..core.errors import Conflict, NotFound
from ..db.database import Database
from ..orgs.service import organisation_by_kind_code

# (login, password, organisation kind, organisation code, role); codes as in fujo/demo/data.py
DEMO_USERS = [
    ("admin", "demo-admin-pass", "admin", "operator", MANAGER),
    ("office", "demo-office-pass", "welfare_office", "13001", CASEWORKER),  # 担当員
    ("office-admin", "demo-office-admin-pass", "welfare_office", "13001", MANAGER),  # 管理者
    ("clinic", "demo-clinic-pass", "facility", "clinic", RECEPTION),  # ●●医療機関 受付
    ("clinic-doctor", "demo-clinic-doctor-pass", "facility", "clinic", CLINICIAN),  # 医師
    ("clinic-admin", "demo-clinic-admin-pass", "facility", "clinic", MANAGER),  # 管理者
    ("pharmacy", "demo-pharmacy-pass", "facility", "pharmacy", RECEPTION),  # ■■薬局
    ("pharmacist", "demo-pharmacist-pass", "facility", "pharmacy", CLINICIAN),  # ■■薬局 薬剤師
    ("other", "demo-other-pass", "facility", "other", RECEPTION),  # ▲▲クリニック (未委託)
    ("insurer", "demo-insurer-pass", "insurer", "insurer", MANAGER),  # ○○健康保険組合 (/insurer)
]


def load_demo_users(db: Database) -> list[tuple[str, str, str]]:
    """Create the demo users (idempotent); returns (login, password, organisation name) per user,
    where the organisation code to type at sign-in is shown in the name as 'name (code)' and the
    role follows it."""
    from .data import CLINIC, INSURER_NO, OTHER_CLINIC, PHARMACY

    codes = {"clinic": CLINIC, "pharmacy": PHARMACY, "other": OTHER_CLINIC, "insurer": INSURER_NO}
    out = []
    for login, password, kind, code, role in DEMO_USERS:
        code = codes.get(code, code)
        try:
            org = organisation_by_kind_code(db, kind=kind, code=code)
        except NotFound:
            continue
        with suppress(Conflict):  # the login exists: created by an earlier run
            create_user(
                db,
                org["id"],
                login=login,
                password=password,
                display_name=f"{org['name']} デモ {role_label(kind, role)}",
                role=role,
            )
        out.append((login, password, f"{org['name']} ({code}) {role_label(kind, role)}"))
    return out
