"""Demo web users: one per demo organisation (passwords are demo-only, printed by ``fujo demo``)."""
from __future__ import annotations

from sqlalchemy import select

from ..db import schema as s
from ..db.database import Database
from .accounts import create_user

# (login, password, organisation kind, organisation code); codes as in fujo/demo/data.py
DEMO_USERS = [
    ("admin", "demo-admin-pass", "admin", "operator"),
    ("office", "demo-office-pass", "welfare_office", "13001"),
    ("clinic", "demo-clinic-pass", "facility", None),        # ●●医療機関
    ("pharmacy", "demo-pharmacy-pass", "facility", None),    # ■■薬局
    ("other", "demo-other-pass", "facility", None),          # ▲▲クリニック (未委託)
]


def load_demo_users(db: Database) -> list[tuple[str, str, str]]:
    """Create the demo users (idempotent); returns (login, password, organisation name) per user,
    where the organisation code to type at sign-in is shown in the name as 'name (code)'."""
    from ..demo.data import CLINIC, OTHER_CLINIC, PHARMACY
    codes = {"clinic": CLINIC, "pharmacy": PHARMACY, "other": OTHER_CLINIC}
    out = []
    o, u = s.organisations, s.users
    for login, password, kind, code in DEMO_USERS:
        code = code or codes[login]
        with db.read() as conn:
            org = conn.execute(select(o.c.id, o.c.name).where(o.c.kind == kind, o.c.code == code)).first()
            exists = conn.execute(select(u.c.id).where(u.c.login == login)).first()
        if not org:
            continue
        if not exists:
            create_user(db, org.id, login, password, f"{org.name} デモ")
        out.append((login, password, f"{org.name} ({code})"))
    return out
