"""registry integrity (issue 8): facility registry, roles, 初回ひも付け cross-check, 保護停止・廃止 reasons

Revision ID: 0003
Revises: 0002

Only operations SQLite does natively (ADD/DROP/RENAME COLUMN, CREATE INDEX): recreating a table
that others reference (organisations, recipients, persons, users) would fail with foreign keys on.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_OLD_REASONS = {"01": "死亡", "02": "生活保護受給開始", "03": "医療保険等の資格取得", "99": "その他"}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    # 「医療扶助」 starts as 利用しない for a new facility. Existing facilities keep their setting.
    if _sqlite():
        op.add_column('organisations', sa.Column('medical_assistance_enabled_new', sa.Boolean(), server_default='0',
                                                 nullable=False))
        op.execute("UPDATE organisations SET medical_assistance_enabled_new = medical_assistance_enabled")
        op.execute("ALTER TABLE organisations DROP COLUMN medical_assistance_enabled")
        op.execute("ALTER TABLE organisations RENAME COLUMN medical_assistance_enabled_new TO medical_assistance_enabled")
    else:
        op.alter_column('organisations', 'medical_assistance_enabled', server_default='0')

    # roles inside each organisation; what existed before keeps the full rights it had
    op.add_column('credentials', sa.Column('role', sa.String(length=20), server_default='manager', nullable=False))
    op.add_column('users', sa.Column('role', sa.String(length=20), server_default='manager', nullable=False))

    # the card holder as the card issuer knows them
    op.add_column('persons', sa.Column('individual_number_hash', sa.String(length=64), nullable=True))
    op.add_column('persons', sa.Column('name', sa.String(length=60), nullable=True))
    op.add_column('persons', sa.Column('birthdate', sa.Date(), nullable=True))
    op.add_column('persons', sa.Column('sex', sa.String(length=1), nullable=True))
    op.add_column('persons', sa.Column('address', sa.String(length=200), nullable=True))
    op.create_index('ix_persons_individual_number_hash', 'persons', ['individual_number_hash'], unique=True)

    # 保護停止・廃止: 停止/廃止 with the office's reason text instead of the insurance ReasonOfLoss table
    op.add_column('recipients', sa.Column('disqualification_kind', sa.String(length=1), nullable=True))
    op.add_column('recipients', sa.Column('disqualification_reason', sa.String(length=200), nullable=True))
    op.execute("UPDATE recipients SET disqualification_kind = '2' WHERE disqualification_date IS NOT NULL")
    for code, text in _OLD_REASONS.items():
        op.execute(sa.text("UPDATE recipients SET disqualification_reason = :t WHERE reason_of_loss = :c")
                   .bindparams(t=text, c=code))
    op.drop_column('recipients', 'reason_of_loss')

    op.create_index('ix_tickets_issue_number', 'tickets', ['issue_number', 'treatment_month'], unique=False)

    op.create_table(
        'facilities',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('code', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('score_table', sa.String(length=1), nullable=False),
        sa.Column('prefecture', sa.String(length=2), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=True),
        sa.Column('phone', sa.String(length=30), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_facilities')),
        sa.UniqueConstraint('code', name=op.f('uq_facilities_code')),
    )
    # every facility that already uses fujo is a registered facility
    op.execute("INSERT INTO facilities (code, name, score_table, prefecture, address, phone, created_at, updated_at) "
               "SELECT code, substr(name, 1, 80), substr(code, 3, 1), substr(code, 1, 2), address, phone, created_at, "
               "created_at FROM organisations WHERE kind = 'facility'")

    op.create_table(
        'setting_changes',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('organisation_id', ID, nullable=False),
        sa.Column('setting', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=20), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', ID, nullable=True),
        sa.Column('credential_id', ID, nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_setting_changes_organisation_id_organisations')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_setting_changes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setting_changes')),
    )
    op.create_index('ix_setting_changes_org', 'setting_changes', ['organisation_id', 'changed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_setting_changes_org', table_name='setting_changes')
    op.drop_table('setting_changes')
    op.drop_table('facilities')
    op.drop_index('ix_tickets_issue_number', table_name='tickets')
    op.add_column('recipients', sa.Column('reason_of_loss', sa.String(length=2), nullable=True))
    op.execute("UPDATE recipients SET reason_of_loss = '99' WHERE disqualification_date IS NOT NULL")
    op.drop_column('recipients', 'disqualification_reason')
    op.drop_column('recipients', 'disqualification_kind')
    op.drop_index('ix_persons_individual_number_hash', table_name='persons')
    for c in ('address', 'sex', 'birthdate', 'name', 'individual_number_hash'):
        op.drop_column('persons', c)
    op.drop_column('users', 'role')
    op.drop_column('credentials', 'role')
    if _sqlite():
        op.add_column('organisations', sa.Column('medical_assistance_enabled_old', sa.Boolean(), server_default='1',
                                                 nullable=False))
        op.execute("UPDATE organisations SET medical_assistance_enabled_old = medical_assistance_enabled")
        op.execute("ALTER TABLE organisations DROP COLUMN medical_assistance_enabled")
        op.execute("ALTER TABLE organisations RENAME COLUMN medical_assistance_enabled_old TO medical_assistance_enabled")
    else:
        op.alter_column('organisations', 'medical_assistance_enabled', server_default='1')
