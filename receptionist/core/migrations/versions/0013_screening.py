"""robocall screening: each account's blocklist and screening setting, and what screening decided on a call

Revision ID: 0013_screening
Revises: 0012_outcome_evidence
"""
import sqlalchemy as sa
from alembic import op


revision = "0013_screening"
down_revision = "0012_outcome_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocked_numbers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "number", name="uq_blocked_number"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spam_screening", sa.String(length=8), nullable=False, server_default="flag"))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("flags")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("spam_screening")
    op.drop_table("blocked_numbers")
