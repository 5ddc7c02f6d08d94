"""an account's text-to-speech voice; the relay session that owns a call's live conversation

Revision ID: 0005_voice_relay_session
Revises: 0004_token_expiry
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_voice_relay_session"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voice", sa.String(length=100), nullable=True))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay_session", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("relay_attempt", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("relay_attempt")
        batch_op.drop_column("relay_session")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("voice")
