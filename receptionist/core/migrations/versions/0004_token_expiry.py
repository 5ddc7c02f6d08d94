"""token expiry: a user's bearer token may carry the moment it stops working

Revision ID: 0004_token_expiry
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_token_expiry"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_expires_at")
