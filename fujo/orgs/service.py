"""Organisations (福祉事務所, 医療機関・薬局, 保険者, 運用管理者) and their API credentials."""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ..auth.principal import (
    ADMIN,
    DEFAULT_ROLE,
    FACILITY,
    INSURER,
    KINDS,
    MANAGER,
    ROLES,
    WELFARE_OFFICE,
    Principal,
    hash_token,
    new_token,
    role_label,
)
from ..core import numbers
from ..core.errors import Conflict, FieldProblem, NotFound, Problems, Unauthorized
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from .auth_events import announce

_o = s.organisations


def validate_org(*, kind: str, code: str, name: str, payer_numbers: list[str] | None, problems: Problems) -> None:
    if kind not in KINDS:
        problems.add(
            FieldProblem(
                "kind", "code", f"種別は{'・'.join(KINDS)}のいずれかです。", f"kind must be one of {', '.join(KINDS)}."
            )
        )
    limit = 80 if kind == FACILITY else 100  # a facility's name is the 指定医療機関名 of tickets (80)
    if not name or not name.strip():
        problems.add(FieldProblem("name", "required", "名称を入力してください。", "name is required."))
    elif len(name) > limit:
        problems.add(
            FieldProblem(
                "name", "too_long", f"名称は{limit}文字以内です。", f"name must be at most {limit} characters."
            )
        )
    if kind == FACILITY:
        problems.add(numbers.check_facility_code(code or "", field="code"))
    elif kind == INSURER:
        problems.add(numbers.check_insurer_number(code or "", field="code"))
    elif not code or len(code) > 20 or not code.isascii():
        problems.add(
            FieldProblem("code", "code", "コードは20文字以内の英数字です。", "code must be 1-20 ASCII characters.")
        )
    if kind == WELFARE_OFFICE:
        if not payer_numbers:
            problems.add(
                FieldProblem(
                    "payer_numbers",
                    "required",
                    "公費負担者番号を1つ以上指定してください。",
                    "At least one payer number is required.",
                )
            )
        for i, p in enumerate(payer_numbers or []):
            problems.add(numbers.check_payer_number(p, field=f"payer_numbers[{i}]"))


def create_organisation(
    db: Database,
    *,
    kind: str,
    code: str,
    name: str,
    phone: str | None = None,
    address: str | None = None,
    payer_numbers: list[str] | None = None,
) -> dict[str, Any]:
    problems = Problems()
    code = numbers.normalize_insurer_number(code) if kind == INSURER else (code or "").strip()
    validate_org(kind=kind, code=code, name=name, payer_numbers=payer_numbers, problems=problems)
    problems.raise_if_any()
    with db.write() as conn:
        if conn.execute(select(_o.c.id).where(_o.c.kind == kind, _o.c.code == code)).first():
            raise Conflict(
                f"コード{code}の組織は既に登録されています。", f"An organisation {kind}/{code} already exists."
            )
        for p in payer_numbers or []:
            if conn.execute(select(s.office_payers.c.payer_number).where(s.office_payers.c.payer_number == p)).first():
                raise Conflict(
                    f"公費負担者番号{p}は既に別の福祉事務所に登録されています。",
                    f"Payer number {p} already belongs to another welfare office.",
                )
        # 「医療扶助」 starts as 利用しない: a facility switches it on (its 管理者, see facility.service)
        oid = conn.execute(
            _o.insert()
            .values(
                kind=kind,
                code=code,
                name=name.strip(),
                phone=phone,
                address=address,
                medical_assistance_enabled=False,
                created_at=db.now(),
            )
            .returning(_o.c.id)
        ).scalar_one()
        if kind == FACILITY:  # a facility that uses fujo is a registered facility (tickets may name it)
            from ..registry.facilities import ensure_facility

            ensure_facility(conn, code=code, name=name.strip(), address=address, phone=phone, now=db.now())
        for p in payer_numbers or []:
            conn.execute(s.office_payers.insert().values(payer_number=p, organisation_id=oid))
    return get_organisation(db, oid)


def _org_dict(row: DbRow, payers: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "code": row.code,
        "name": row.name,
        "phone": row.phone,
        "address": row.address,
        "medical_assistance_enabled": bool(row.medical_assistance_enabled),
        "payer_numbers": payers,
    }


def get_organisation(db: Database, org_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(select(_o).where(_o.c.id == org_id)).first()
        if not row:
            raise NotFound("組織が見つかりません。", f"No organisation {org_id}.")
        payers = (
            conn.execute(
                select(s.office_payers.c.payer_number)
                .where(s.office_payers.c.organisation_id == org_id)
                .order_by(s.office_payers.c.payer_number)
            )
            .scalars()
            .all()
        )
    return _org_dict(row, list(payers))


def organisation_by_kind_code(db: Database, *, kind: str, code: str) -> dict[str, Any]:
    """The organisation's id and name by its kind and code (as typed at sign-in or on the CLI)."""
    with db.read() as conn:
        row = conn.execute(select(_o.c.id, _o.c.name).where(_o.c.kind == kind, _o.c.code == code)).first()
    if not row:
        raise NotFound(f"組織 {kind}/{code} が見つかりません。", f"No organisation {kind}/{code}.")
    return {"id": row.id, "name": row.name}


def list_organisations(db: Database, kind: str | None = None) -> list[dict[str, Any]]:
    with db.read() as conn:
        q = select(_o).order_by(_o.c.kind, _o.c.code)
        if kind:
            q = q.where(_o.c.kind == kind)
        rows = conn.execute(q).all()
        payers: dict[int, list[str]] = {}
        for p in conn.execute(select(s.office_payers).order_by(s.office_payers.c.payer_number)):
            payers.setdefault(p.organisation_id, []).append(p.payer_number)
    return [_org_dict(r, payers.get(r.id, [])) for r in rows]


def office_for_payer(conn: Connection, payer_number: str) -> DbRow | None:
    """The 福祉事務所 row (name, phone) that owns a 公費負担者番号."""
    return conn.execute(
        select(_o.c.id, _o.c.name, _o.c.phone)
        .select_from(s.office_payers.join(_o, _o.c.id == s.office_payers.c.organisation_id))
        .where(s.office_payers.c.payer_number == payer_number)
    ).first()


def validate_role(*, kind: str, role: str | None, problems: Problems, field: str = "role") -> str:
    """The role for a new user or token of an organisation of ``kind`` (its default when None)."""
    table = ROLES.get(kind, {})
    if role in (None, ""):
        return DEFAULT_ROLE.get(kind, MANAGER)
    if role not in table:
        allowed = "、".join(f"{r}（{ja}）" for r, ja in table.items())
        problems.add(
            FieldProblem(
                field,
                "code",
                f"権限は{allowed}のいずれかです。",
                f"role must be one of {', '.join(table)} for a {kind}.",
            )
        )
    return role


def issue_credential(
    db: Database, org_id: int, *, label: str | None = None, token: str | None = None, role: str | None = None
) -> dict[str, Any]:
    """A new bearer token for the organisation, with a role inside it (default: the least one,
    e.g. 受付 for a facility). The token is shown once; only its hash is kept."""
    org = get_organisation(db, org_id)
    problems = Problems()
    role = validate_role(kind=org["kind"], role=role, problems=problems)
    problems.raise_if_any()
    token = token or new_token()
    with db.write() as conn:
        cid = conn.execute(
            s.credentials.insert()
            .values(organisation_id=org_id, token_hash=hash_token(token), label=label, created_at=db.now(), role=role)
            .returning(s.credentials.c.id)
        ).scalar_one()
    return {"id": cid, "organisation_id": org_id, "label": label, "role": role, "token": token}


def list_credentials(db: Database, org_id: int) -> list[dict[str, Any]]:
    c = s.credentials
    with db.read() as conn:
        rows = conn.execute(
            select(c.c.id, c.c.label, c.c.role, c.c.created_at, c.c.revoked_at)
            .where(c.c.organisation_id == org_id)
            .order_by(c.c.id)
        ).all()
    return [
        {
            "id": r.id,
            "label": r.label,
            "role": r.role,
            "created_at": aware(r.created_at).isoformat(),  # with the offset, as every timestamp
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


def revoke_credential(db: Database, org_id: int, credential_id: int) -> None:
    c = s.credentials
    with db.write() as conn:
        _keep_last_admin_credential(conn, org_id, credential_id)
        n = conn.execute(
            update(c)
            .where(c.c.id == credential_id, c.c.organisation_id == org_id, c.c.revoked_at.is_(None))
            .values(revoked_at=db.now())
        ).rowcount
        announce(conn)  # every other server process forgets the token (orgs/auth_listener.py)
    clear_auth_cache()
    if not n:
        raise NotFound("有効な認証情報が見つかりません。", f"No active credential {credential_id}.")


def _keep_last_admin_credential(conn: Connection, org_id: int, credential_id: int) -> None:
    """Revoking the operators' last active credential would lock every administrator out of the
    API for good (only an administrator can issue one), so it is refused."""
    c = s.credentials
    # the rows are locked, so two revocations racing for the last two credentials take turns
    active = conn.execute(
        select(c.c.id, c.c.organisation_id)
        .select_from(c.join(_o, _o.c.id == c.c.organisation_id))
        .where(_o.c.kind == ADMIN, c.c.revoked_at.is_(None))
        .with_for_update(of=c)
    ).all()
    is_admin = any(r.id == credential_id and r.organisation_id == org_id for r in active)
    if is_admin and len(active) <= 1:
        raise Conflict(
            "最後の有効な運用管理者の認証情報は失効できません。先に新しい認証情報を発行してください。",
            "The last active administrator credential cannot be revoked; issue a new one first.",
        )


_AUTH_QUERY = (
    select(
        s.credentials.c.id.label("cid"),
        s.credentials.c.role,
        s.credentials.c.label,
        _o.c.id,
        _o.c.kind,
        _o.c.code,
        _o.c.name,
        _o.c.medical_assistance_enabled,
    )
    .select_from(s.credentials.join(_o, _o.c.id == s.credentials.c.organisation_id))
    .where(s.credentials.c.revoked_at.is_(None), s.credentials.c.token_hash == bindparam("h"))
)
_PAYERS_QUERY = select(s.office_payers.c.payer_number).where(s.office_payers.c.organisation_id == bindparam("oid"))

# Authentication is on every call, so its answer is kept for a few seconds per process. Changes made
# through this process (revoking a credential, switching 「医療扶助」) clear the cache at once; on
# PostgreSQL they are announced to every other process too (orgs/auth_listener.py), and a process
# whose listener is not connected does not use the cache; on SQLite other processes see them within
# AUTH_CACHE_SECONDS (FUJO_AUTH_CACHE_SECONDS, default 5).
AUTH_CACHE_SECONDS = float(os.environ.get("FUJO_AUTH_CACHE_SECONDS", "5"))
_auth_cache: dict[tuple[int, str], tuple[float, Principal]] = {}
_generation = 0  # bumped by every clear: an answer read before a clear is not kept after it
_distrusted: set[int] = set()  # id() of the databases whose listener is not connected


def clear_auth_cache() -> None:
    global _generation
    _generation += 1
    _auth_cache.clear()


def distrust_auth_cache(db: Database) -> None:
    """Stop using (and filling) the cache for ``db``: nobody listens for its changes right now."""
    _distrusted.add(id(db))
    clear_auth_cache()


def trust_auth_cache(db: Database) -> None:
    _distrusted.discard(id(db))


def cached_principal(db: Database, token: str) -> Principal | None:
    """The principal of ``token`` if authenticated in the last few seconds (no database work)."""
    if not token:
        raise Unauthorized("認証トークンがありません。", "Missing bearer token.")
    if id(db) in _distrusted:
        return None
    hit = _auth_cache.get((id(db), hash_token(token)))
    return hit[1] if hit and hit[0] > time.monotonic() else None


def authenticate(db: Database, token: str) -> Principal:
    """Bearer token → Principal (one indexed lookup, plus payer numbers for welfare offices)."""
    hit = cached_principal(db, token)
    if hit is not None:
        return hit
    h = hash_token(token)
    key = (id(db), h)
    now = time.monotonic()
    generation = _generation
    with db.read() as conn:
        row = conn.execute(_AUTH_QUERY, {"h": h}).first()
        if not row:
            raise Unauthorized("認証トークンが無効です。", "Invalid or revoked token.")
        payers: frozenset[str] = frozenset()
        if row.kind == WELFARE_OFFICE:
            payers = frozenset(conn.execute(_PAYERS_QUERY, {"oid": row.id}).scalars())
    p = Principal(
        row.id,
        row.kind,
        row.code,
        row.name,
        row.cid,
        payers,
        bool(row.medical_assistance_enabled),
        role=row.role,
        actor=f"APIトークン {row.label or row.cid}（{role_label(row.kind, row.role)}）",
    )
    if generation != _generation or id(db) in _distrusted:  # a change was announced meanwhile
        return p
    if len(_auth_cache) > 10_000:
        _auth_cache.clear()
    _auth_cache[key] = (now + AUTH_CACHE_SECONDS, p)
    return p


def principal_for(
    db: Database,
    *,
    kind: str,
    code: str,
    role: str = MANAGER,
    user_id: int | None = None,
    actor: str = "運用管理者（CLI）",
) -> Principal:
    """Act as an organisation: from the operator's CLI (no token: the operator has the database;
    full rights), or for a signed-in web user (``role``, ``user_id``, ``actor`` of that user)."""
    with db.read() as conn:
        row = conn.execute(select(_o).where(_o.c.kind == kind, _o.c.code == code)).first()
        if not row:
            raise NotFound(f"{code}の組織が見つかりません。", f"No {kind} with code {code}.")
        payers = frozenset(
            conn.execute(
                select(s.office_payers.c.payer_number).where(s.office_payers.c.organisation_id == row.id)
            ).scalars()
        )
    return Principal(
        row.id,
        row.kind,
        row.code,
        row.name,
        None,
        payers,
        bool(row.medical_assistance_enabled),
        role=role,
        user_id=user_id,
        actor=actor,
    )


def admin_principal() -> Principal:
    return Principal(0, ADMIN, "operator", "operator")
