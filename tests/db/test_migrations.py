"""The Alembic migrations build exactly the schema the code declares (fujo/db/schema.py), on both
databases: a column added to one and not the other is caught here, not in production."""

from __future__ import annotations

from fujo.db.migrate import differences


def test_migrations_match_the_declared_schema(db):
    assert differences(db) == []
