"""conversation, handoff, sms consents, text-backs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:23:11.512645
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('sms_consents',
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opted_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opted_in_via', sa.String(length=200), nullable=True),
    sa.Column('last_keyword', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('phone')
    )
    op.create_table('text_backs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'caller', 'day', name='uq_text_back_day')
    )
    with op.batch_alter_table('text_backs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_text_backs_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('handoff', sa.JSON(), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('handoff')
        batch_op.drop_column('conversation')

    with op.batch_alter_table('text_backs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_text_backs_account_id'))

    op.drop_table('text_backs')
    op.drop_table('sms_consents')

