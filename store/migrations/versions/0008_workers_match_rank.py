"""workers.match_rank: the worker's own part of the match score, computed by the database,
and the (town_id, match_rank) index matching walks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# store.models.MATCH_RANK_SQL as it was at this revision.
MATCH_RANK_SQL = (
    "(CASE WHEN jobs_completed < 10 THEN jobs_completed ELSE 10 END) * 2 - no_shows * 10"
    " + CASE WHEN rating_avg IS NULL THEN 0 ELSE (rating_avg - 3) * 5 END"
    " + CASE WHEN priority_group THEN 15 ELSE 0 END"
)


def upgrade() -> None:
    # Stored on PostgreSQL (before 18 the only kind); virtual on SQLite, whose ALTER TABLE
    # can add no stored column (the index stores the values).
    stored = True if op.get_bind().dialect.name == 'postgresql' else None
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_rank', sa.Double(),
                                      sa.Computed(MATCH_RANK_SQL, persisted=stored),
                                      nullable=False))
        batch_op.create_index('ix_workers_town_rank', ['town_id', 'match_rank'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index('ix_workers_town_rank')
        batch_op.drop_column('match_rank')
