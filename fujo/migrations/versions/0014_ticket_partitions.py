"""tickets partitioned by treatment month on PostgreSQL (issue 12; fujo.db.partitions)

On PostgreSQL the table is rebuilt as a partitioned one (LIST of ``treatment_month``, 診療年月
``YYYYMM``): a partition for every month from the oldest ticket's to three months ahead and a DEFAULT
one; its rows are copied with their ids and the id sequence goes on. Unique keys hold the partition
key: the primary key becomes (id, treatment_month), and (ticket_key, revision) and (seq) gain the
month — on SQLite too (a rebuild of the table there), so that both keep one schema.

Revision ID: 0014
Revises: 0013
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JST = dt.timezone(dt.timedelta(hours=9))
AHEAD = 3
INDEXES = (
    ("ix_tickets_ticket_key", "ticket_key"),
    ("ix_tickets_current_by_recipient", "recipient_id, treatment_month, superseded_by"),
    ("ix_tickets_current_by_facility", "designated_facility_code, treatment_month, superseded_by"),
    ("ix_tickets_changes_by_facility", "designated_facility_code, seq"),
    ("ix_tickets_changes_by_previous", "previous_facility_code, seq"),
    ("ix_tickets_issue_number", "issue_number, treatment_month"),
)
UNIQUE_OLD = (("uq_tickets_ticket_key_revision", "ticket_key, revision"), ("uq_tickets_seq", "seq"))
UNIQUE_NEW = (
    ("uq_tickets_ticket_key_revision_treatment_month", "ticket_key, revision, treatment_month"),
    ("uq_tickets_seq_treatment_month", "seq, treatment_month"),
)
FOREIGN_KEYS = (
    ("fk_tickets_recipient_id_recipients", "recipient_id", "recipients"),
    ("fk_tickets_changed_by_organisations", "changed_by", "organisations"),
)


def _next(ym: tuple[int, int]) -> tuple[int, int]:
    return (ym[0] + 1, 1) if ym[1] == 12 else (ym[0], ym[1] + 1)


def _rebuild(source: str, partitioned: bool) -> None:
    """``tickets`` anew (partitioned or not) from the renamed ``source``, with every key and index."""
    by = " PARTITION BY LIST (treatment_month)" if partitioned else ""
    op.execute(f"CREATE TABLE tickets (LIKE {source} INCLUDING DEFAULTS){by}")
    pk = "id, treatment_month" if partitioned else "id"
    op.execute(f"ALTER TABLE tickets ADD CONSTRAINT pk_tickets PRIMARY KEY ({pk})")
    for name, cols in UNIQUE_NEW if partitioned else UNIQUE_OLD:
        op.execute(f"ALTER TABLE tickets ADD CONSTRAINT {name} UNIQUE ({cols})")
    for name, col, other in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE tickets ADD CONSTRAINT {name} FOREIGN KEY ({col}) REFERENCES {other} (id)")
    for name, cols in INDEXES:
        op.execute(f"CREATE INDEX {name} ON tickets ({cols})")


def _set_aside(new_name: str) -> None:
    """Rename ``tickets`` out of the way, its constraints and indexes with it (their names are reused)."""
    conn = op.get_bind()
    op.execute(f"ALTER TABLE tickets RENAME TO {new_name}")
    names = conn.execute(
        sa.text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t)"), {"t": new_name}
    ).scalars()
    for name in list(names):
        op.execute(f"ALTER TABLE {new_name} RENAME CONSTRAINT {name} TO {name}_{new_name[8:]}")
    for name, _ in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_{new_name[8:]}")


def _sqlite(new: tuple[tuple[str, str], ...], old: tuple[tuple[str, str], ...]) -> None:
    with op.batch_alter_table("tickets", recreate="always") as b:
        for name, _ in old:
            b.drop_constraint(name, type_="unique")
        for name, cols in new:
            b.create_unique_constraint(name, [c.strip() for c in cols.split(",")])


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        _sqlite(UNIQUE_NEW, UNIQUE_OLD)
        return
    oldest = conn.execute(sa.text("SELECT min(treatment_month) FROM tickets")).scalar()
    now = dt.datetime.now(JST)
    ym = (int(oldest[:4]), int(oldest[4:6])) if oldest else (now.year, now.month)
    last = (now.year, now.month)
    for _ in range(AHEAD):
        last = _next(last)
    ym = min(ym, (now.year, now.month))
    _set_aside("tickets_unpartitioned")
    _rebuild("tickets_unpartitioned", partitioned=True)
    op.execute("CREATE TABLE tickets_default PARTITION OF tickets DEFAULT")
    while ym <= last:
        op.execute(
            f"CREATE TABLE tickets_y{ym[0]:04d}m{ym[1]:02d} PARTITION OF tickets FOR VALUES IN ('{ym[0]:04d}{ym[1]:02d}')"
        )
        ym = _next(ym)
    op.execute("INSERT INTO tickets SELECT * FROM tickets_unpartitioned")
    op.execute("ALTER SEQUENCE tickets_id_seq OWNED BY tickets.id")
    op.execute("DROP TABLE tickets_unpartitioned")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        _sqlite(UNIQUE_OLD, UNIQUE_NEW)
        return
    _set_aside("tickets_partitioned")
    _rebuild("tickets_partitioned", partitioned=False)
    op.execute("INSERT INTO tickets SELECT * FROM tickets_partitioned")
    op.execute("ALTER SEQUENCE tickets_id_seq OWNED BY tickets.id")
    op.execute("DROP TABLE tickets_partitioned CASCADE")
