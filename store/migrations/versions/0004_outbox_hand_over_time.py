"""outbox: when the current attempt was handed to the carrier; a phone's rows in order, the due rows in claiming order

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_sms_outbox_phone_id', ['phone', 'id'], unique=False)
        batch_op.drop_index('ix_sms_outbox_due')
        batch_op.create_index('ix_sms_outbox_due', ['status', 'priority', 'next_attempt_at', 'id'],
                              unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # A fan-out adds thousands of rows at once: statistics follow within a minute,
        # not once a tenth of the table has changed (the claim's plan depends on them).
        op.execute("ALTER TABLE sms_outbox SET (autovacuum_analyze_scale_factor = 0.01, "
                   "autovacuum_analyze_threshold = 200)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE sms_outbox RESET (autovacuum_analyze_scale_factor, "
                   "autovacuum_analyze_threshold)")
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_outbox_phone_id')
        batch_op.drop_index('ix_sms_outbox_due')
        batch_op.create_index('ix_sms_outbox_due', ['status', 'priority', 'next_attempt_at'],
                              unique=False)
        batch_op.drop_column('handed_at')
