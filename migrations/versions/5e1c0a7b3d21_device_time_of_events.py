"""the device's own time of each event, beside the corrected occurred_at

Revision ID: 5e1c0a7b3d21
Revises: 2d77d6ab65da
Create Date: 2026-11-30 14:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.database


# revision identifiers, used by Alembic.
revision = '5e1c0a7b3d21'
down_revision = '2d77d6ab65da'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_occurred_at', app.database.UTCDateTime(),
                                      nullable=True))
    # Events stored before the trust rules were never corrected: both times are the device's.
    op.execute("UPDATE event SET device_occurred_at = occurred_at")
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('device_occurred_at', existing_type=app.database.UTCDateTime(),
                              nullable=False)


def downgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('device_occurred_at')
