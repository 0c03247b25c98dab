"""audit chain (issue 11): check_log entries are hash-chained; who (user, role), category, channel, flags

Revision ID: 0004
Revises: 0003

Only operations SQLite does natively (ADD COLUMN, CREATE INDEX, CREATE TABLE). The rows already in
check_log are chained in id order (seq 1, 2, …) with the same hash as new entries get
(fujo.audit.chain.entry_hash), so ``fujo audit verify`` passes right after the upgrade.
"""

import sqlalchemy as sa
from alembic import op

from fujo.audit.chain import GENESIS, HASHED, entry_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 5000


def upgrade() -> None:
    op.add_column("check_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("check_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("check_log", sa.Column("hash", sa.String(length=64), nullable=True))
    op.add_column("check_log", sa.Column("user_id", ID, nullable=True))
    op.add_column("check_log", sa.Column("role", sa.String(length=20), nullable=True))
    op.add_column("check_log", sa.Column("category", sa.String(length=20), nullable=True))
    op.add_column("check_log", sa.Column("channel", sa.String(length=10), nullable=True))
    op.add_column("check_log", sa.Column("flags", sa.String(length=40), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )

    # chain what is already there, in id order
    bind = op.get_bind()
    cl = sa.table(
        "check_log",
        sa.column("id", ID),
        sa.column("at", sa.DateTime(timezone=True)),
        *(sa.column(c) for c in HASHED if c not in ("id", "at")),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    upd = (
        sa.update(cl)
        .where(cl.c.id == sa.bindparam("b_id"))
        .values(seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    )
    seq, prev, last_at, after = 0, GENESIS, None, None
    while True:
        q = sa.select(cl).order_by(cl.c.id).limit(_BATCH)
        if after is not None:
            q = q.where(cl.c.id > after)
        rows = bind.execute(q).all()
        if not rows:
            break
        params = []
        for r in rows:
            seq += 1
            values = dict(r._mapping)
            values["seq"] = seq
            h = entry_hash(values, prev)
            params.append({"b_id": r.id, "b_seq": seq, "b_prev": prev, "b_hash": h})
            prev, last_at, after = h, r.at, r.id
        bind.execute(upd, params)
    head = sa.table(
        "audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"), sa.column("at", sa.DateTime(timezone=True))
    )
    bind.execute(sa.insert(head).values(id=1, seq=seq, hash=prev, at=last_at))

    op.create_index("ix_check_log_seq", "check_log", ["seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_check_log_seq", table_name="check_log")
    op.drop_table("audit_head")
    for c in ("flags", "channel", "category", "role", "user_id", "hash", "prev_hash", "seq"):
        op.drop_column("check_log", c)
