"""a call's follow-up by the team: when it was first read and when it was handled, and by whom

Revision ID: 0008_call_handling
Revises: 0007_recording_failures
"""
import sqlalchemy as sa
from alembic import op


revision = "0008_call_handling"
down_revision = "0007_recording_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("read_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=320), nullable=True))
        batch_op.create_index("ix_calls_handled_at", ["handled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_handled_at")
        batch_op.drop_column("handled_by")
        batch_op.drop_column("handled_at")
        batch_op.drop_column("read_by")
        batch_op.drop_column("read_at")
