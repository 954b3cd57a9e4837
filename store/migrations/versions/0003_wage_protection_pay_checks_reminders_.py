"""wage protection: pay checks, reminders, rights cases, ratings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('worker_trades', schema=None) as batch_op:
        batch_op.create_index('ix_worker_trades_trade_worker', ['trade_id', 'worker_id'],
                              unique=False)
    op.create_table('rights_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_by', sa.String(length=16), nullable=False),
    sa.Column('assigned_to', sa.String(length=64), nullable=True),
    sa.Column('owed_fen', sa.BigInteger(), nullable=False),
    sa.Column('recovered_fen', sa.BigInteger(), nullable=False),
    sa.Column('referred_to', sa.String(length=32), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_rights_cases_employer_id_employers')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_rights_cases_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_cases'))
    )
    with op.batch_alter_table('rights_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_cases_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_cases_job_id'), ['job_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['rights_cases.id'], name=op.f('fk_case_events_case_id_rights_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_workers',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('hire_id', sa.Integer(), nullable=True),
    sa.Column('owed_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['rights_cases.id'], name=op.f('fk_case_workers_case_id_rights_cases')),
    sa.ForeignKeyConstraint(['hire_id'], ['hires.id'], name=op.f('fk_case_workers_hire_id_hires')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_case_workers_worker_id_workers')),
    sa.PrimaryKeyConstraint('case_id', 'worker_id', name=op.f('pk_case_workers'))
    )
    op.create_table('pay_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hire_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('owed_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('asks', sa.Integer(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_via', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['hire_id'], ['hires.id'], name=op.f('fk_pay_checks_hire_id_hires')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pay_checks')),
    sa.UniqueConstraint('hire_id', 'period_start', name=op.f('uq_pay_checks_hire_id'))
    )
    with op.batch_alter_table('pay_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pay_checks_hire_id'), ['hire_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hire_id', sa.Integer(), nullable=False),
    sa.Column('rater', sa.String(length=16), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=True),
    sa.Column('no_show', sa.Boolean(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['hire_id'], ['hires.id'], name=op.f('fk_ratings_hire_id_hires')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('hire_id', 'rater', name=op.f('uq_ratings_hire_id'))
    )
    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('hire_id', sa.Integer(), nullable=False),
    sa.Column('pay_check_id', sa.Integer(), nullable=True),
    sa.Column('rater', sa.String(length=16), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['hire_id'], ['hires.id'], name=op.f('fk_reminders_hire_id_hires')),
    sa.ForeignKeyConstraint(['pay_check_id'], ['pay_checks.id'], name=op.f('fk_reminders_pay_check_id_pay_checks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_hire_id'), ['hire_id'], unique=False)

    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerts_held', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('rating_avg', sa.Double(), nullable=True))

    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('day_wage_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('days_worked', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('owed_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('paid_fen', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('started_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_hires_job_id'), ['job_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_hires_job_id_jobs'), 'jobs', ['job_id'], ['id'])
    # Hires made before this knew their job only through their line.
    op.execute("UPDATE hires SET job_id = (SELECT job_id FROM job_lines "
               "WHERE job_lines.id = hires.job_line_id)")



def downgrade() -> None:
    with op.batch_alter_table('worker_trades', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_trades_trade_worker')
    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_hires_job_id_jobs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_hires_job_id'))
        batch_op.drop_column('finished_at')
        batch_op.drop_column('started_by')
        batch_op.drop_column('started_at')
        batch_op.drop_column('paid_fen')
        batch_op.drop_column('owed_fen')
        batch_op.drop_column('days_worked')
        batch_op.drop_column('day_wage_fen')
        batch_op.drop_column('job_id')

    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.drop_column('rating_avg')
        batch_op.drop_column('alerts_held')

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminders_hire_id'))
        batch_op.drop_index('ix_reminders_due')

    op.drop_table('reminders')
    op.drop_table('ratings')
    with op.batch_alter_table('pay_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pay_checks_hire_id'))

    op.drop_table('pay_checks')
    op.drop_table('case_workers')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('rights_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rights_cases_job_id'))
        batch_op.drop_index(batch_op.f('ix_rights_cases_employer_id'))

    op.drop_table('rights_cases')
