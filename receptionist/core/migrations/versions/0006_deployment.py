"""the deployment this database belongs to (its bucket carries the same id)

Revision ID: 0006_deployment
Revises: 0005_voice_relay_session
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_deployment"
down_revision = "0005_voice_relay_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marker_written_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("slot = 1", name="ck_deployment_one_row"),
        sa.PrimaryKeyConstraint("slot"),
    )


def downgrade() -> None:
    op.drop_table("deployment")
