"""The announcement that what a principal carries has changed (a credential revoked, 「医療扶助」
switched): every server process's listener (fujo.orgs.auth_listener) empties its token cache."""

from __future__ import annotations

from sqlalchemy import Connection, text

CHANNEL = "fujo_auth"


def announce(conn: Connection) -> None:
    """In the transaction of a change to what principals carry: tell every process's listener (sent
    when the transaction commits, not at all if it rolls back). Nothing to do on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"NOTIFY {CHANNEL}"))
