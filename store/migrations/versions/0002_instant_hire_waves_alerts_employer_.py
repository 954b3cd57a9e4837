"""instant hire: waves, alerts, employer confirmation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from datetime import datetime, timedelta

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_note', sa.Text(), nullable=True))

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('next_wave_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waves_sent', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('end_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_next_wave_at'), ['next_wave_at'], unique=False)
    jobs = sa.table('jobs', sa.column('id', sa.Integer()), sa.column('days', sa.Integer()),
                    sa.column('start_at', sa.DateTime(timezone=True)),
                    sa.column('end_at', sa.DateTime(timezone=True)))
    connection = op.get_bind()
    for job_id, start_at, days in connection.execute(
            sa.select(jobs.c.id, jobs.c.start_at, jobs.c.days)).all():
        if isinstance(start_at, str):  # SQLite hands back text here
            start_at = datetime.fromisoformat(start_at)
        connection.execute(jobs.update().where(jobs.c.id == job_id)
                           .values(end_at=start_at + timedelta(days=days)))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('end_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    # Offers existing before waves came from calling in: their job is their line's job.
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
    op.execute("UPDATE offers SET job_id = (SELECT job_id FROM job_lines "
               "WHERE job_lines.id = offers.job_line_id)")
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.alter_column('job_id', existing_type=sa.Integer(), nullable=False)
        batch_op.add_column(sa.Column('wave', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('score', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('alert_hold_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('employer_asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('employer_reminded_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_offers_employer_wait', ['status', 'employer_asked_at'],
                              unique=False)
        batch_op.create_index('ix_offers_hold', ['status', 'alert_hold_until'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_offers_job_id'), ['job_id', 'worker_id'])
        batch_op.create_foreign_key(batch_op.f('fk_offers_job_id_jobs'), 'jobs', ['job_id'], ['id'])

    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False,
                                      server_default='sms'))

    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jobs_completed', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('no_shows', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('rating_avg', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('last_hired_day', sa.Integer(), nullable=True))
        batch_op.alter_column('alert_channel', existing_type=sa.String(length=8), nullable=True)
        # Matching filters on these; the trade join has its own index already.
        batch_op.create_index('ix_workers_match', ['status', 'town_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index('ix_workers_match')
        batch_op.alter_column('alert_channel', existing_type=sa.String(length=8), nullable=False)
        batch_op.drop_column('last_hired_day')
        batch_op.drop_column('rating_avg')
        batch_op.drop_column('no_shows')
        batch_op.drop_column('jobs_completed')

    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_column('channel')

    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_offers_job_id_jobs'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_offers_job_id'), type_='unique')
        batch_op.drop_index('ix_offers_hold')
        batch_op.drop_index('ix_offers_employer_wait')
        for column in ('decided_at', 'employer_reminded_at', 'employer_asked_at', 'alerted_at',
                       'alert_hold_until', 'score', 'wave', 'job_id'):
            batch_op.drop_column(column)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_next_wave_at'))
        batch_op.drop_column('end_at')
        batch_op.drop_column('waves_sent')
        batch_op.drop_column('next_wave_at')
        batch_op.drop_column('created_by')

    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.drop_column('verification_note')
