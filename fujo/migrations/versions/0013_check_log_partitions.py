"""check_log partitioned by month on PostgreSQL (issue 12; fujo.db.partitions), audit_archive

On PostgreSQL the table is rebuilt as a partitioned one (RANGE of ``at``, JST months): a partition
for every month from its oldest entry to three months ahead and a DEFAULT one; its rows are copied
with their ids and the id sequence goes on. Unique indexes hold the partition key: the primary key
becomes (id, at) and ``ix_check_log_seq`` (seq, at) — on SQLite too, so that both keep one schema.
``audit_archive`` records where the chain starts once old months are detached.

Revision ID: 0013
Revises: 0012
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JST = dt.timezone(dt.timedelta(hours=9))
AHEAD = 3
INDEXES = (
    ("ix_check_log_person", "person_id, at", False),
    ("ix_check_log_recipient", "recipient_id, at", False),
    ("ix_check_log_org_at", "organisation_id, at", False),
    ("ix_check_log_seq", "seq, at", True),
)


def _next(ym: tuple[int, int]) -> tuple[int, int]:
    return (ym[0] + 1, 1) if ym[1] == 12 else (ym[0], ym[1] + 1)


def _partition(ym: tuple[int, int]) -> None:
    lo, hi = dt.datetime(*ym, 1, tzinfo=JST), dt.datetime(*_next(ym), 1, tzinfo=JST)
    op.execute(
        f"CREATE TABLE check_log_y{ym[0]:04d}m{ym[1]:02d} PARTITION OF check_log "
        f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
    )


def _indexes(table: str, seq_with_at: bool) -> None:
    for name, cols, unique in INDEXES:
        if name == "ix_check_log_seq" and not seq_with_at:
            cols = "seq"
        op.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {table} ({cols})")


def upgrade() -> None:
    op.create_table(
        "audit_archive",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("up_to_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("before_month", sa.String(length=6), nullable=False),
        sa.Column("tables", sa.Text(), nullable=False),
        sa.Column("detached_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_archive")),
    )
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        op.drop_index("ix_check_log_seq", table_name="check_log")
        op.create_index("ix_check_log_seq", "check_log", ["seq", "at"], unique=True)
        return
    oldest = conn.execute(sa.text("SELECT min(at) FROM check_log")).scalar()
    now = dt.datetime.now(JST)
    first = oldest.astimezone(JST) if oldest is not None else now
    ym, last = (first.year, first.month), (now.year, now.month)
    for _ in range(AHEAD):
        last = _next(last)
    op.execute("ALTER TABLE check_log RENAME TO check_log_unpartitioned")
    op.execute("ALTER TABLE check_log_unpartitioned RENAME CONSTRAINT pk_check_log TO pk_check_log_unpartitioned")
    for name, _, _ in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("CREATE TABLE check_log (LIKE check_log_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    op.execute("ALTER TABLE check_log ADD CONSTRAINT pk_check_log PRIMARY KEY (id, at)")
    _indexes("check_log", seq_with_at=True)
    op.execute("CREATE TABLE check_log_default PARTITION OF check_log DEFAULT")
    while ym <= last:
        _partition(ym)
        ym = _next(ym)
    op.execute("INSERT INTO check_log SELECT * FROM check_log_unpartitioned")
    op.execute("ALTER SEQUENCE check_log_id_seq OWNED BY check_log.id")
    op.execute("DROP TABLE check_log_unpartitioned")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE check_log RENAME TO check_log_partitioned")
        op.execute("ALTER TABLE check_log_partitioned RENAME CONSTRAINT pk_check_log TO pk_check_log_partitioned")
        for name, _, _ in INDEXES:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_partitioned")
        op.execute("CREATE TABLE check_log (LIKE check_log_partitioned INCLUDING DEFAULTS)")
        op.execute("ALTER TABLE check_log ADD CONSTRAINT pk_check_log PRIMARY KEY (id)")
        _indexes("check_log", seq_with_at=False)
        op.execute("INSERT INTO check_log SELECT * FROM check_log_partitioned")
        op.execute("ALTER SEQUENCE check_log_id_seq OWNED BY check_log.id")
        op.execute("DROP TABLE check_log_partitioned CASCADE")
    else:
        op.drop_index("ix_check_log_seq", table_name="check_log")
        op.create_index("ix_check_log_seq", "check_log", ["seq"], unique=True)
    op.drop_table("audit_archive")
