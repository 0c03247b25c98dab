"""claims_reports (issue 12): the claims pre-check reports of the screens live in the database, so
any server process serves a report's page and downloads

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claims_reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_claims_reports_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_claims_reports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims_reports")),
    )
    op.create_index("ix_claims_reports_expires_at", "claims_reports", ["expires_at"])
    op.create_index("ix_claims_reports_user_id_created_at", "claims_reports", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_claims_reports_user_id_created_at", table_name="claims_reports")
    op.drop_index("ix_claims_reports_expires_at", table_name="claims_reports")
    op.drop_table("claims_reports")
