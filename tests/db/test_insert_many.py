"""fujo.db.database.insert_many: on SQLite the driver's executemany with SQLAlchemy's own bind
processors — the rows read back exactly as SQLAlchemy's insert writes them (dates, aware times, None,
server defaults); elsewhere SQLAlchemy's insert itself. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from fujo.core.dates import JST
from fujo.db import schema as s
from fujo.db.database import insert_many
from tests.factories import PAYER


def _rows(base: int, office_payer: str) -> list[dict]:
    at = dt.datetime(2024, 7, 10, 9, 30, 0, 0, tzinfo=JST)
    return [
        {
            "payer_number": office_payer,
            "recipient_number": f"{base + i:07d}",
            "name": f"挿入{i}",
            "name_kana": "ｿｳﾆｭｳ",
            "sex": "1",
            "birthdate": dt.date(1990, 1, 15),
            "qualification_date": dt.date(2024, 7, 1),
            "disqualification_date": None if i % 2 else dt.date(2024, 7, 31),
            "version": 1,
            "created_at": at,
            "updated_at": at + dt.timedelta(microseconds=i),
        }
        for i in range(3)
    ]


def test_rows_read_back_as_sqlalchemys_insert_writes_them(db, world):
    with db.write() as conn:
        conn.execute(s.recipients.insert(), _rows(9_000_000, PAYER))
        insert_many(conn, s.recipients, _rows(9_100_000, PAYER))
    r = s.recipients
    with db.read() as conn:
        got = conn.execute(select(r).where(r.c.recipient_number >= "9000000").order_by(r.c.recipient_number)).all()
    by_sa, by_many = got[:3], got[3:]
    assert len(by_many) == 3
    skip = {"id", "recipient_number"}
    assert [{k: v for k, v in x._mapping.items() if k not in skip} for x in by_many] == [
        {k: v for k, v in x._mapping.items() if k not in skip} for x in by_sa
    ]
    assert by_many[0].restricted is False  # the server default applied
    with db.read() as conn:  # stored alike too (SQLite keeps dates and times as text)
        raw = conn.exec_driver_sql(
            "SELECT birthdate, created_at, updated_at, disqualification_date FROM recipients "
            "WHERE recipient_number IN ('9000001', '9100001') ORDER BY recipient_number"
        ).all()
    assert raw[0] == raw[1]
