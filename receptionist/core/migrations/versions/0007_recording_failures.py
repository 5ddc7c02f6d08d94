"""who holds a recording's processing and until when; why a recording was given up; a call's owed job

Revision ID: 0007_recording_failures
Revises: 0005_voice_relay_session
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_recording_failures"
down_revision = "0005_voice_relay_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.String(length=32), nullable=True))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followup", sa.String(length=24), nullable=True))
        batch_op.create_index("ix_calls_followup", ["followup"])
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index("ix_recordings_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_recordings_status")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_followup")
        batch_op.drop_column("followup")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("failure")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
