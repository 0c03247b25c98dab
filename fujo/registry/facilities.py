"""The facility registry (医療機関・薬局の登録簿): every facility a 医療券/調剤券 may designate.

A separate table from ``organisations``: tickets name facilities that may never sign in to fujo
(≈230,000 in Japan, most with no account here), while an organisation is someone with credentials.
A facility organisation is always a registered facility too (registering the organisation adds it
here when it is missing). The 運用管理者 registers facilities one by one or in bulk from a CSV file;
the 点数表 and 都道府県 come from the code.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable

import jaconv
from sqlalchemy import Connection, or_, select, update

from ..auth.principal import ADMIN, Principal
from ..core import numbers
from ..core.errors import Conflict, FieldProblem, NotFound, Problems, ValidationFailed
from ..core.fields import Field, clean_value, refuse_unknown
from ..core.rows import Record
from ..db import schema as s
from ..db.database import Database, DbRow, aware

f_ = s.facilities

FACILITY_FIELDS = (
    Field("code", None, "医療機関コード", "facility", True),
    Field("name", None, "医療機関名", "text", True, 80),
    Field("address", None, "所在地", "text", False, 200),
    Field("phone", None, "電話番号", "text", False, 30),
)
CSV_COLUMNS = ["code", "name", "prefecture", "address", "phone"]
_PHONE = re.compile(r"^[0-9][0-9-]{0,29}$")


def facility_dict(row: DbRow) -> Record:
    return {
        "code": row.code,
        "name": row.name,
        "score_table": row.score_table,
        "kind": numbers.SCORE_TABLE_KINDS.get(row.score_table, "-"),
        "prefecture": row.prefecture,
        "address": row.address,
        "phone": row.phone,
        "updated_at": aware(row.updated_at).isoformat(),
    }


def clean_facility(data: Record, partial: bool = False) -> Record:
    """Validate a facility record; 点数表 and 都道府県 are derived from the code (a ``prefecture``
    given as well must agree with it)."""
    problems = Problems()
    data = dict(data)
    pref = data.pop("prefecture", None)
    refuse_unknown(data, {f.name for f in FACILITY_FIELDS}, problems)
    out: Record = {}
    for f in FACILITY_FIELDS:
        if partial and f.name not in data:
            continue
        v, p = clean_value(f, data.get(f.name))
        if p is not None and p.field != f.name:  # number checks name their own field
            p = FieldProblem(f.name, p.code, p.message_ja, p.message_en)
        problems.add(p)
        out[f.name] = v
    if out.get("phone") and not _PHONE.match(out["phone"]):
        problems.add(
            FieldProblem(
                "phone",
                "phone",
                "電話番号は半角数字とハイフンで入力してください。",
                "phone must be digits and hyphens.",
            )
        )
    code = out.get("code")
    if code and not problems:
        out["score_table"], out["prefecture"] = code[2], code[:2]
        if pref not in (None, "") and str(pref).strip().zfill(2) != code[:2]:
            problems.add(
                FieldProblem(
                    "prefecture",
                    "prefecture_mismatch",
                    f"都道府県番号が医療機関コードの都道府県番号（{code[:2]}）と一致しません。",
                    f"prefecture does not match the facility code's prefecture ({code[:2]}).",
                )
            )
    problems.raise_if_any()
    return out


def ensure_facility(
    conn: Connection, *, code: str, name: str, address: str | None, phone: str | None, now: dt.datetime
) -> None:
    """Register ``code`` if it is not registered yet (used when a facility organisation is created)."""
    if conn.execute(select(f_.c.id).where(f_.c.code == code)).first():
        return
    conn.execute(
        f_.insert().values(
            code=code,
            name=name[:80],
            score_table=code[2],
            prefecture=code[:2],
            address=address,
            phone=phone,
            created_at=now,
            updated_at=now,
        )
    )


def facility_rows(conn: Connection, codes: Iterable[str | None]) -> dict[str, DbRow]:
    """code → registry row for those of ``codes`` that are registered (batched)."""
    wanted = sorted({c for c in codes if c})
    out: dict[str, DbRow] = {}
    for i in range(0, len(wanted), 500):
        for row in conn.execute(select(f_).where(f_.c.code.in_(wanted[i : i + 500]))):
            out[row.code] = row
    return out


def insert_facilities(conn: Connection, recs: list[Record], now: dt.datetime) -> None:
    for i in range(0, len(recs), 1000):
        conn.execute(f_.insert(), [dict(r, created_at=now, updated_at=now) for r in recs[i : i + 1000]])


def register_facility(db: Database, principal: Principal, data: Record) -> Record:
    principal.require(ADMIN)
    rec = clean_facility(data)
    with db.write() as conn:
        if conn.execute(select(f_.c.id).where(f_.c.code == rec["code"])).first():
            raise Conflict(
                f"医療機関コード{rec['code']}は既に登録されています。", f"Facility {rec['code']} is already registered."
            )
        insert_facilities(conn, [rec], db.now())
        return facility_dict(conn.execute(select(f_).where(f_.c.code == rec["code"])).one())


def update_facility(db: Database, principal: Principal, code: str, changes: Record) -> Record:
    """Change a facility's name, address or phone (the code, and so 点数表 and 都道府県, stay)."""
    principal.require(ADMIN)
    if "code" in changes and changes["code"] != code:
        raise ValidationFailed(
            problems=[FieldProblem("code", "immutable", "医療機関コードは変更できません。", "code cannot be changed.")]
        )
    part = clean_facility({k: v for k, v in changes.items() if k != "code"}, partial=True)
    with db.write() as conn:
        n = conn.execute(update(f_).where(f_.c.code == code).values(**part, updated_at=db.now())).rowcount
        if not n:
            raise NotFound("医療機関が登録されていません。", f"No facility {code} in the registry.")
        return facility_dict(conn.execute(select(f_).where(f_.c.code == code)).one())


def get_facility(db: Database, principal: Principal, code: str) -> Record:
    """Any signed-in organisation may look a facility up (names and codes of facilities are public)."""
    p = numbers.check_facility_code(code or "", field="code")
    if p:
        raise ValidationFailed(problems=[p])
    with db.read() as conn:
        row = conn.execute(select(f_).where(f_.c.code == code)).first()
    if not row:
        raise NotFound(f"医療機関コード{code}は医療機関の登録簿にありません。", f"No facility {code} in the registry.")
    return facility_dict(row)


def search_facilities(db: Database, principal: Principal | None, q: str | None = None, limit: int = 50) -> list[Record]:
    """Facilities by code prefix or part of the name (public data: any caller, or the admin screen's None)."""
    query = select(f_).order_by(f_.c.code).limit(min(max(limit, 1), 500))
    if q:
        q = q.strip()
        # autoescape: a % or _ typed by the user is a character, not a wildcard
        query = query.where(or_(f_.c.code.startswith(q, autoescape=True), f_.c.name.contains(q, autoescape=True)))
    with db.read() as conn:
        return [facility_dict(r) for r in conn.execute(query)]


def suggest_facilities(db: Database, principal: Principal, *, q: str, limit: int = 10) -> list[Record]:
    """The ticket form's suggestions as the clerk types: facilities whose code starts with ``q`` or
    whose name contains it — as typed, in カタカナ for ひらがな, in full width for half width (NFKC) —
    in code order. A ``%`` or ``_`` typed is a character, not a wildcard. Public data: any signed-in
    caller."""
    text = unicodedata.normalize("NFKC", q or "").strip()[:40]
    if not text:
        return []
    conds = [f_.c.name.contains(n, autoescape=True) for n in sorted({text, jaconv.hira2kata(text)})]
    if text.isascii() and text.isdigit():
        conds.append(f_.c.code.startswith(text, autoescape=True))
    query = select(f_).where(or_(*conds)).order_by(f_.c.code).limit(min(max(limit, 1), 50))
    with db.read() as conn:
        return [facility_dict(r) for r in conn.execute(query)]
