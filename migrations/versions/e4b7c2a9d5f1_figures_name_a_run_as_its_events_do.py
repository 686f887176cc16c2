"""figure_subject names a checklist run's kind as its events do: checklist_run, not run

Revision ID: e4b7c2a9d5f1
Revises: b1e5a7c3d911
Create Date: 2026-11-30 18:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e4b7c2a9d5f1'
down_revision = 'b1e5a7c3d911'
branch_labels = None
depends_on = None


def upgrade():
    # The projection now takes a subject's kind from the event registry (app/events/registry.py).
    op.execute("UPDATE figure_subject SET kind = 'checklist_run' WHERE kind = 'run'")


def downgrade():
    op.execute("UPDATE figure_subject SET kind = 'run' WHERE kind = 'checklist_run'")
