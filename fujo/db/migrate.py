"""Create or migrate the schema with Alembic (``fujo init``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .database import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> None:
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def differences(db: Database, *, compare_server_default: bool = False) -> list:
    """What Alembic finds between the database's schema and the declared one (fujo/db/schema.py),
    leaving out Alembic's own table and check_log's monthly partitions (made by fujo.db.partitions)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from .partitions import include_name
    from .schema import metadata

    opts = {"compare_type": True, "compare_server_default": compare_server_default, "include_name": include_name}
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
