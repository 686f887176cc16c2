"""branch.settings_version: moved by every change to a branch's lobby settings

Revision ID: f3a9d1c7b2e8
Revises: e4b7c2a9d5f1
Create Date: 2026-12-01 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "f3a9d1c7b2e8"
down_revision = "e4b7c2a9d5f1"
branch_labels = None
depends_on = None


def upgrade():
    # app/models/settings_version.py moves it; the lobby page renders its settings-driven
    # parts again only when it has.
    with op.batch_alter_table("branch") as batch_op:
        batch_op.add_column(
            sa.Column("settings_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("branch") as batch_op:
        batch_op.drop_column("settings_version")
