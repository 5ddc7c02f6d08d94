"""a recording's runs abandoned by a worker that died whole, counted apart from its attempts; an
erasure's deletions outside the database still pending, for the reconciler

Revision ID: 0015_abandoned_runs
Revises: 0014_spoken_words
"""
import sqlalchemy as sa
from alembic import op


revision = "0015_abandoned_runs"
down_revision = "0014_spoken_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("abandoned_runs", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deletions_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_tombstones_deletions_pending", ["deletions_pending"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_tombstones_deletions_pending")
        batch_op.drop_column("deletions_pending")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("abandoned_runs")
