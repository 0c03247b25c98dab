"""Alembic environment: the URL comes from the caller (fujo.db.migrate), never from a file."""

from alembic import context

from fujo.db.partitions import include_name
from fujo.db.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set (fujo.db.migrate sets it)")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()


run()
