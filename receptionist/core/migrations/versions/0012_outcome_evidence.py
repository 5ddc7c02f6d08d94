"""the outcome's evidence still to come: what a call's recording is known to have done, and until when it is waited for

Revision ID: 0012_outcome_evidence
Revises: 0008_call_handling
"""
import sqlalchemy as sa
from alembic import op


revision = "0012_outcome_evidence"
down_revision = "0008_call_handling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("recording_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_calls_recording_due_at", ["recording_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_recording_due_at")
        batch_op.drop_column("recording_due_at")
        batch_op.drop_column("recording_state")
