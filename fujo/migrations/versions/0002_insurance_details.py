"""insurance details (issue 7): the fields of a health-insurance result that clinics import

Adds to insurance_qualifications the card dates, 一部負担金割合, 未就学区分, the 高齢受給者証,
限度額適用認定証 and 特定疾病療養受療証 (one per qualification, as columns), and widens
check_log.consent for the optional 5th/6th consent bits (限度額, 特定疾病) of a card proof.
Kept identical to fujo/db/schema.py.

Data: InsuredCardClassification used to be read as the kind of insurer (02 国保, 03 後期高齢); it is the
kind of card (02 被保険者証（退職）, 03 短期被保険者証（一般）…), and the kind of insurance now follows
from the 保険者番号. Rows written with the old 02/03 become 01 被保険者証（一般）, the card those
insurers issue (the old meaning never said 退職 or 短期).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

NEW_COLUMNS = [
    ("insured_name", lambda: sa.String(length=60)),
    ("name_of_other", lambda: sa.String(length=60)),
    ("name_of_other_kana", lambda: sa.String(length=60)),
    ("card_issuance_date", sa.Date),
    ("card_valid_from", sa.Date),
    ("card_valid_to", sa.Date),
    ("contribution_ratio", lambda: sa.String(length=3)),
    ("preschool", lambda: sa.String(length=1)),
    ("elderly_certificate_date", sa.Date),
    ("elderly_valid_from", sa.Date),
    ("elderly_valid_to", sa.Date),
    ("elderly_contribution_ratio", lambda: sa.String(length=3)),
    ("limit_classification", lambda: sa.String(length=2)),
    ("limit_bracket", lambda: sa.String(length=3)),
    ("limit_certificate_date", sa.Date),
    ("limit_valid_from", sa.Date),
    ("limit_valid_to", sa.Date),
    ("limit_long_term_date", sa.Date),
    ("specific_disease_category", lambda: sa.String(length=1)),
    ("specific_disease_certificate_date", sa.Date),
    ("specific_disease_valid_from", sa.Date),
    ("specific_disease_valid_to", sa.Date),
    ("specific_disease_self_pay", sa.Integer),
]


def upgrade() -> None:
    with op.batch_alter_table('insurance_qualifications', schema=None) as batch_op:
        for name, typ in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, typ(), nullable=True))
    with op.batch_alter_table('check_log', schema=None) as batch_op:
        batch_op.alter_column('consent', existing_type=sa.String(length=4), type_=sa.String(length=8),
                              existing_nullable=True)
    op.execute("UPDATE insurance_qualifications SET insured_card_classification = '01' "
               "WHERE insured_card_classification IN ('02', '03')")


def downgrade() -> None:
    with op.batch_alter_table('check_log', schema=None) as batch_op:
        batch_op.alter_column('consent', existing_type=sa.String(length=8), type_=sa.String(length=4),
                              existing_nullable=True)
    with op.batch_alter_table('insurance_qualifications', schema=None) as batch_op:
        for name, _ in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
