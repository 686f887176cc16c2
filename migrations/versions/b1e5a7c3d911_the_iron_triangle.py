"""the iron triangle: referral assignee, consent, taker and product sold; visit called, pitched at the counter, claimed by a wealth manager; branch take time

Revision ID: b1e5a7c3d911
Revises: c8658ce2d630
Create Date: 2026-11-30 14:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.database


# revision identifiers, used by Alembic.
revision = 'b1e5a7c3d911'
down_revision = 'c8658ce2d630'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referral_take_minutes', sa.Integer(), server_default='3',
                                      nullable=False))

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('consent', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', app.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('accepted_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('product', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key('fk_referral_assignee_id_user', 'user', ['assignee_id'], ['id'])
        batch_op.create_foreign_key('fk_referral_accepted_by_id_user', 'user', ['accepted_by_id'], ['id'])

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('called_at', app.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('called_counter', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('called_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_visit_called_by_id_user', 'user', ['called_by_id'], ['id'])
        batch_op.add_column(sa.Column('claimed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', app.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('wealth_result', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('wealth_amount_band', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('wealth_product', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key('fk_visit_claimed_by_id_user', 'user', ['claimed_by_id'], ['id'])

    with op.batch_alter_table('visit_recommendation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('at_counter', sa.Boolean(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('visit_recommendation', schema=None) as batch_op:
        batch_op.drop_column('at_counter')

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_constraint('fk_visit_claimed_by_id_user', type_='foreignkey')
        batch_op.drop_column('wealth_product')
        batch_op.drop_column('wealth_amount_band')
        batch_op.drop_column('wealth_result')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by_id')
        batch_op.drop_constraint('fk_visit_called_by_id_user', type_='foreignkey')
        batch_op.drop_column('called_by_id')
        batch_op.drop_column('called_counter')
        batch_op.drop_column('called_at')

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint('fk_referral_accepted_by_id_user', type_='foreignkey')
        batch_op.drop_constraint('fk_referral_assignee_id_user', type_='foreignkey')
        batch_op.drop_column('product')
        batch_op.drop_column('accepted_by_id')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('consent')
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.drop_column('referral_take_minutes')
