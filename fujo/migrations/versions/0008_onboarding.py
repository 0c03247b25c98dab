"""onboarding (issue 15): each facility's introduction checklist (見積り … 運用開始)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "onboarding_steps",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_by", sa.String(length=100), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("credential_id", ID, nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_onboarding_steps_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_onboarding_steps_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_steps")),
        sa.UniqueConstraint("organisation_id", "step", name=op.f("uq_onboarding_steps_organisation_id_step")),
    )


def downgrade() -> None:
    op.drop_table("onboarding_steps")
