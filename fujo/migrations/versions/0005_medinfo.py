"""薬剤情報等 (issue 11): medinfo records, disaster openings, the viewing restriction of recipients

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('recipients', sa.Column('restricted', sa.Boolean(), server_default='0', nullable=False))
    op.create_table(
        'medinfo_records',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('recipient_id', ID, nullable=False),
        sa.Column('category', sa.String(length=12), nullable=False),
        sa.Column('on_date', sa.Date(), nullable=False),
        sa.Column('facility_code', sa.String(length=10), nullable=True),
        sa.Column('facility_name', sa.String(length=80), nullable=True),
        sa.Column('code', sa.String(length=12), nullable=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('ingredient', sa.String(length=100), nullable=True),
        sa.Column('dose', sa.String(length=100), nullable=True),
        sa.Column('days', sa.Integer(), nullable=True),
        sa.Column('quantity', sa.String(length=20), nullable=True),
        sa.Column('disease_name', sa.String(length=100), nullable=True),
        sa.Column('icd10', sa.String(length=8), nullable=True),
        sa.Column('value', sa.String(length=40), nullable=True),
        sa.Column('unit', sa.String(length=20), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', ID, nullable=True),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'],
                                name=op.f('fk_medinfo_records_recipient_id_recipients')),
        sa.ForeignKeyConstraint(['created_by'], ['organisations.id'],
                                name=op.f('fk_medinfo_records_created_by_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_medinfo_records')),
    )
    op.create_index('ix_medinfo_records_recipient', 'medinfo_records', ['recipient_id', 'category', 'on_date'],
                    unique=False)
    op.create_table(
        'disaster_openings',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('prefectures', sa.String(length=200), nullable=False),
        sa.Column('municipalities', sa.Text(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('opened_by', sa.String(length=100), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disaster_openings')),
    )


def downgrade() -> None:
    op.drop_table('disaster_openings')
    op.drop_index('ix_medinfo_records_recipient', table_name='medinfo_records')
    op.drop_table('medinfo_records')
    op.drop_column('recipients', 'restricted')
