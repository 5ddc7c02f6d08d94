"""the words a call's own TwiML spoke after the relay (transfer, take a message, goodbye), for its transcript

Revision ID: 0014_spoken_words
Revises: 0013_screening
"""
import sqlalchemy as sa
from alembic import op


revision = "0014_spoken_words"
down_revision = "0013_screening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("said", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("said")
