"""Web users (people who sign in for an organisation) and server-side sessions.

Passwords: scrypt (n=2**14, r=8, p=1) with a 16-byte salt, stored as ``scrypt$n$r$p$salt$hash``.
Sessions: the cookie carries 32 random bytes; the table keeps only their sha256, so a database
leak does not give working cookies. Logout and expiry are immediate (the row is checked on every
request). Each session has its own CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from ..auth.principal import AUDITOR, KINDS, Principal, role_label
from ..core.errors import Conflict, FieldProblem, NotFound, Problems
from ..db import schema as s
from ..db.database import Database, aware
from ..orgs.service import get_organisation, principal_for, validate_role

STAFF_IDLE = dt.timedelta(minutes=60)  # sliding: each request pushes expiry this far ahead …
STAFF_MAX = dt.timedelta(hours=12)  # … but never past this from sign-in
PORTAL_TTL = dt.timedelta(minutes=15)  # a recipient's session: short, not extended
PASSWORD_COST = (2**14, 8, 1)  # scrypt n, r, p: deliberately slow (~30 ms) against guessing
_SCRYPT = PASSWORD_COST  # what new hashes use; each stored hash names its own, so this can rise
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    h = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b = base64.b64encode
    return f"scrypt${n}${r}${p}${b(salt).decode()}${b(h).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        alg, n, r, p, salt, h = stored.split("$")
        if alg != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(base64.b64decode(h))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(h))


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # equal work for unknown logins (no timing oracle)


def validate_login(login: str, problems: Problems) -> None:
    if not login or len(login) > 60 or not login.isascii() or not all(c.isalnum() or c in "-_." for c in login):
        problems.add(
            FieldProblem(
                "login",
                "format",
                "ログインIDは60文字以内の半角英数字（- _ . 可）です。",
                "login must be 1-60 ASCII letters, digits, '-', '_' or '.'.",
            )
        )


def validate_password(password: str, problems: Problems) -> None:
    if not password or len(password) < MIN_PASSWORD:
        problems.add(
            FieldProblem(
                "password",
                "too_short",
                f"パスワードは{MIN_PASSWORD}文字以上にしてください。",
                f"The password must be at least {MIN_PASSWORD} characters.",
            )
        )
    elif len(password) > 200:
        problems.add(
            FieldProblem(
                "password", "too_long", "パスワードは200文字以内です。", "The password must be at most 200 characters."
            )
        )


def create_user(
    db: Database,
    organisation_id: int,
    *,
    login: str,
    password: str,
    display_name: str | None = None,
    role: str | None = None,
) -> dict[str, Any]:
    """A web user of an organisation with a role inside it (default: the least one of its kind)."""
    problems = Problems()
    login = (login or "").strip()
    validate_login(login, problems)
    validate_password(password, problems)
    display_name = (display_name or login).strip()[:60]
    u = s.users
    role = validate_role(kind=get_organisation(db, organisation_id)["kind"], role=role, problems=problems)
    if role == AUDITOR:  # the administrator's screens check the kind only; the auditor uses a token
        problems.add(
            FieldProblem(
                "role",
                "code",
                "監査担当はAPIトークン専用です（fujo org token --role auditor）。",
                "The auditor role is for API tokens only.",
            )
        )
    problems.raise_if_any()
    with db.write() as conn:
        if conn.execute(select(u.c.id).where(u.c.login == login)).first():
            raise Conflict(f"ログインID「{login}」は既に使われています。", f"Login '{login}' is taken.")
        uid = conn.execute(
            u.insert()
            .values(
                organisation_id=organisation_id,
                login=login,
                role=role,
                password_hash=hash_password(password),
                display_name=display_name,
                created_at=db.now(),
            )
            .returning(u.c.id)
        ).scalar_one()
    return {"id": uid, "login": login, "organisation_id": organisation_id, "display_name": display_name, "role": role}


def list_users(db: Database, organisation_id: int) -> list[dict[str, Any]]:
    u, o = s.users, s.organisations
    with db.read() as conn:
        rows = conn.execute(
            select(u.c.id, u.c.login, u.c.display_name, u.c.role, u.c.created_at, u.c.disabled_at, o.c.kind)
            .select_from(u.join(o, o.c.id == u.c.organisation_id))
            .where(u.c.organisation_id == organisation_id)
            .order_by(u.c.login)
        ).all()
    return [
        {
            "id": r.id,
            "login": r.login,
            "display_name": r.display_name,
            "disabled": r.disabled_at is not None,
            "role": r.role,
            "role_ja": role_label(r.kind, r.role),
            "created_at": aware(r.created_at),
        }
        for r in rows
    ]


def set_user_disabled(db: Database, organisation_id: int, user_id: int, disabled: bool) -> None:
    u = s.users
    with db.write() as conn:
        n = conn.execute(
            update(u)
            .where(u.c.id == user_id, u.c.organisation_id == organisation_id)
            .values(disabled_at=db.now() if disabled else None)
        ).rowcount
        if not n:
            raise NotFound("利用者が見つかりません。", f"No user {user_id}.")
        if disabled:  # signing a user out everywhere at once
            conn.execute(
                update(s.web_sessions)
                .where(s.web_sessions.c.user_id == user_id, s.web_sessions.c.revoked_at.is_(None))
                .values(revoked_at=db.now())
            )


def authenticate_user(db: Database, *, org_code: str, login: str, password: str) -> dict[str, Any] | None:
    """The user (with organisation kind/code/name) if all three match and nothing is disabled."""
    u, o = s.users, s.organisations
    with db.read() as conn:
        row = conn.execute(
            select(u.c.id, u.c.password_hash, u.c.display_name, u.c.disabled_at, u.c.role, o.c.kind, o.c.code, o.c.name)
            .select_from(u.join(o, o.c.id == u.c.organisation_id))
            .where(u.c.login == (login or "").strip())
        ).first()
    ok = verify_password(password or "", row.password_hash if row else _DUMMY_HASH)
    if not row or not ok or row.disabled_at is not None or row.code != (org_code or "").strip():
        return None
    return {
        "id": row.id,
        "display_name": row.display_name,
        "kind": row.kind,
        "code": row.code,
        "name": row.name,
        "role": row.role,
    }


# --- sessions --------------------------------------------------------------------------------


def _sid(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass
class Session:
    id: str
    csrf_token: str
    expires_at: dt.datetime
    user_id: int | None = None
    person_id: int | None = None
    display_name: str = ""
    kind: str | None = None  # organisation kind for staff; None for a recipient
    org_code: str | None = None
    org_name: str | None = None
    role: str | None = None  # the staff member's role inside the organisation
    login: str = ""

    @property
    def role_ja(self) -> str:
        return role_label(self.kind or "", self.role)

    def principal(self, db: Database) -> Principal:
        """Fresh on every request, so a changed setting (医療扶助 利用する/しない) applies at once; it
        carries this user's role and is recorded as this user."""
        # only a staff session acts for an organisation (web.kit checks user_id and kind first)
        assert self.kind is not None and self.org_code is not None and self.role is not None
        return principal_for(
            db,
            kind=self.kind,
            code=self.org_code,
            role=self.role,
            user_id=self.user_id,
            actor=f"{self.login}（{self.role_ja}）",
        )


def start_session(db: Database, user_id: int | None = None, person_id: int | None = None) -> tuple[str, Session]:
    """Create a session; returns (cookie value, session)."""
    cookie = secrets.token_urlsafe(32)
    now = db.now()
    ttl = PORTAL_TTL if person_id is not None else STAFF_IDLE
    sess = Session(_sid(cookie), secrets.token_urlsafe(32), now + ttl, user_id, person_id)
    with db.write() as conn:
        conn.execute(
            s.web_sessions.insert().values(
                id=sess.id,
                user_id=user_id,
                person_id=person_id,
                csrf_token=sess.csrf_token,
                created_at=now,
                expires_at=sess.expires_at,
            )
        )
    return cookie, sess


def load_session(db: Database, cookie: str | None) -> Session | None:
    if not cookie or len(cookie) > 100:
        return None
    ws, u, o = s.web_sessions, s.users, s.organisations
    sid = _sid(cookie)
    now = db.now()
    with db.read() as conn:
        row = conn.execute(
            select(
                ws,
                u.c.display_name,
                u.c.disabled_at,
                u.c.role,
                u.c.login,
                o.c.kind,
                o.c.code,
                o.c.name.label("org_name"),
            )
            .select_from(ws.outerjoin(u, u.c.id == ws.c.user_id).outerjoin(o, o.c.id == u.c.organisation_id))
            .where(ws.c.id == sid)
        ).first()
    if not row or row.revoked_at is not None or aware(row.expires_at) <= now:
        return None
    if row.user_id is not None and (row.disabled_at is not None or row.kind not in KINDS):
        return None
    sess = Session(
        row.id,
        row.csrf_token,
        aware(row.expires_at),
        row.user_id,
        row.person_id,
        row.display_name or "",
        row.kind,
        row.code,
        row.org_name,
        row.role,
        row.login or "",
    )
    if row.user_id is not None:  # sliding idle expiry, capped; written at most about once a minute
        new_exp = min(now + STAFF_IDLE, aware(row.created_at) + STAFF_MAX)
        if new_exp - sess.expires_at > dt.timedelta(minutes=1):
            with db.write() as conn:
                conn.execute(update(ws).where(ws.c.id == sid).values(expires_at=new_exp))
            sess.expires_at = new_exp
    return sess


def end_session(db: Database, session_id: str) -> None:
    with db.write() as conn:
        conn.execute(
            update(s.web_sessions)
            .where(s.web_sessions.c.id == session_id, s.web_sessions.c.revoked_at.is_(None))
            .values(revoked_at=db.now())
        )
