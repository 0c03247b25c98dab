"""The Alembic migrations build exactly the schema the code declares (fujo/db/schema.py), on both
databases: a column added to one and not the other is caught here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fujo.db import schema


def test_migrations_match_the_declared_schema(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(ctx, schema.metadata)
    # alembic_version is Alembic's own table, not part of the schema
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diff == []
