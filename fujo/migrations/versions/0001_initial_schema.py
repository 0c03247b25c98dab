"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 09:44:45.190096
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('check_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credential_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recipient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('outcome', sa.String(length=2), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('consent', sa.String(length=4), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_log'))
    )
    with op.batch_alter_table('check_log', schema=None) as batch_op:
        batch_op.create_index('ix_check_log_org_at', ['organisation_id', 'at'], unique=False)
        batch_op.create_index('ix_check_log_person', ['person_id', 'at'], unique=False)
        batch_op.create_index('ix_check_log_recipient', ['recipient_id', 'at'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('idempotency_keys',
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organisation_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('medical_assistance_enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('kind', 'code', name=op.f('uq_organisations_kind_code'))
    )
    op.create_table('persons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('public_id', name=op.f('uq_persons_public_id'))
    )
    op.create_table('card_challenges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_card_challenges_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_challenges')),
    sa.UniqueConstraint('nonce', name=op.f('uq_card_challenges_nonce'))
    )
    op.create_table('cards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_cards_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('serial', name=op.f('uq_cards_serial'))
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cards_person_id'), ['person_id'], unique=False)

    op.create_table('credentials',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_credentials_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_credentials_token_hash'))
    )
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credentials_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('insurance_qualifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('registered_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('insurer_number', sa.String(length=8), nullable=False),
    sa.Column('insurer_name', sa.String(length=80), nullable=False),
    sa.Column('insured_card_classification', sa.String(length=2), nullable=False),
    sa.Column('card_symbol', sa.String(length=40), nullable=True),
    sa.Column('card_number', sa.String(length=40), nullable=False),
    sa.Column('branch_number', sa.String(length=2), nullable=True),
    sa.Column('personal_family', sa.String(length=1), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('name_kana', sa.String(length=60), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birthdate', sa.Date(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('post_number', sa.String(length=8), nullable=True),
    sa.Column('qualification_date', sa.Date(), nullable=False),
    sa.Column('disqualification_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_insurance_qualifications_person_id_persons')),
    sa.ForeignKeyConstraint(['registered_by'], ['organisations.id'], name=op.f('fk_insurance_qualifications_registered_by_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_qualifications'))
    )
    with op.batch_alter_table('insurance_qualifications', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_by_numbers', ['insurer_number', 'card_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_qualifications_person_id'), ['person_id'], unique=False)

    op.create_table('office_payers',
    sa.Column('payer_number', sa.String(length=8), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_office_payers_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('payer_number', name=op.f('pk_office_payers'))
    )
    with op.batch_alter_table('office_payers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_office_payers_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('recipients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('payer_number', sa.String(length=8), nullable=False),
    sa.Column('recipient_number', sa.String(length=7), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('name_kana', sa.String(length=60), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birthdate', sa.Date(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('post_number', sa.String(length=8), nullable=True),
    sa.Column('qualification_date', sa.Date(), nullable=False),
    sa.Column('disqualification_date', sa.Date(), nullable=True),
    sa.Column('reason_of_loss', sa.String(length=2), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_recipients_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipients')),
    sa.UniqueConstraint('payer_number', 'recipient_number', name=op.f('uq_recipients_payer_number_recipient_number'))
    )
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipients_person_id'), ['person_id'], unique=False)

    op.create_table('reference_numbers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('facility_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference_number', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['organisations.id'], name=op.f('fk_reference_numbers_facility_id_organisations')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_reference_numbers_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_numbers')),
    sa.UniqueConstraint('facility_id', 'person_id', name=op.f('uq_reference_numbers_facility_id_person_id'))
    )
    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('login', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_users_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('login', name=op.f('uq_users_login'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('recipient_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('recipient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['organisations.id'], name=op.f('fk_recipient_history_changed_by_organisations')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_recipient_history_recipient_id_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_history'))
    )
    with op.batch_alter_table('recipient_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipient_history_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ticket_key', sa.String(length=36), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('ticket_type', sa.String(length=2), nullable=False),
    sa.Column('treatment_month', sa.String(length=6), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('issue_number', sa.String(length=20), nullable=True),
    sa.Column('designated_facility_code', sa.String(length=10), nullable=False),
    sa.Column('designated_facility_name', sa.String(length=80), nullable=False),
    sa.Column('prescription_issuer_code', sa.String(length=10), nullable=True),
    sa.Column('prescription_issuer_name', sa.String(length=80), nullable=True),
    sa.Column('injury_name1', sa.String(length=80), nullable=True),
    sa.Column('injury_name2', sa.String(length=80), nullable=True),
    sa.Column('injury_name3', sa.String(length=80), nullable=True),
    sa.Column('treatment_type', sa.String(length=2), nullable=False),
    sa.Column('self_pay_amount', sa.Integer(), nullable=True),
    sa.Column('district_contact_name', sa.String(length=40), nullable=True),
    sa.Column('handling_contact_name', sa.String(length=40), nullable=True),
    sa.Column('single_or_combined', sa.String(length=2), nullable=False),
    sa.Column('social_insurance', sa.String(length=2), nullable=True),
    sa.Column('consistency_flag', sa.String(length=1), nullable=True),
    sa.Column('infection_status', sa.String(length=2), nullable=True),
    sa.Column('elderly_care_status', sa.String(length=2), nullable=True),
    sa.Column('prefectural_expense_status', sa.String(length=2), nullable=True),
    sa.Column('remarks1', sa.String(length=200), nullable=True),
    sa.Column('remarks2', sa.String(length=200), nullable=True),
    sa.Column('remarks3', sa.String(length=200), nullable=True),
    sa.Column('previous_facility_code', sa.String(length=10), nullable=True),
    sa.Column('superseded_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('change_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['organisations.id'], name=op.f('fk_tickets_changed_by_organisations')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_tickets_recipient_id_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('seq', name=op.f('uq_tickets_seq')),
    sa.UniqueConstraint('ticket_key', 'revision', name=op.f('uq_tickets_ticket_key_revision'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_changes_by_facility', ['designated_facility_code', 'seq'], unique=False)
        batch_op.create_index('ix_tickets_changes_by_previous', ['previous_facility_code', 'seq'], unique=False)
        batch_op.create_index('ix_tickets_current_by_facility', ['designated_facility_code', 'treatment_month', 'superseded_by'], unique=False)
        batch_op.create_index('ix_tickets_current_by_recipient', ['recipient_id', 'treatment_month', 'superseded_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_ticket_key'), ['ticket_key'], unique=False)

    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_web_sessions_person_id_persons')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    # ### end Alembic commands ###
    # Seed the change counter so concurrent first writers never race to create it.
    op.execute("INSERT INTO counters (name, value) VALUES ('ticket_seq', 0)")


def downgrade() -> None:
    op.drop_table('web_sessions')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_ticket_key'))
        batch_op.drop_index('ix_tickets_current_by_recipient')
        batch_op.drop_index('ix_tickets_current_by_facility')
        batch_op.drop_index('ix_tickets_changes_by_previous')
        batch_op.drop_index('ix_tickets_changes_by_facility')

    op.drop_table('tickets')
    with op.batch_alter_table('recipient_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipient_history_recipient_id'))

    op.drop_table('recipient_history')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_organisation_id'))

    op.drop_table('users')
    op.drop_table('reference_numbers')
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipients_person_id'))

    op.drop_table('recipients')
    with op.batch_alter_table('office_payers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_office_payers_organisation_id'))

    op.drop_table('office_payers')
    with op.batch_alter_table('insurance_qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insurance_qualifications_person_id'))
        batch_op.drop_index('ix_insurance_by_numbers')

    op.drop_table('insurance_qualifications')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credentials_organisation_id'))

    op.drop_table('credentials')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_person_id'))

    op.drop_table('cards')
    op.drop_table('card_challenges')
    op.drop_table('persons')
    op.drop_table('organisations')
    op.drop_table('idempotency_keys')
    op.drop_table('counters')
    with op.batch_alter_table('check_log', schema=None) as batch_op:
        batch_op.drop_index('ix_check_log_recipient')
        batch_op.drop_index('ix_check_log_person')
        batch_op.drop_index('ix_check_log_org_at')

    op.drop_table('check_log')
    # ### end Alembic commands ###
