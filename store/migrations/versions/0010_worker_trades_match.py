"""worker_trades.town_id and match_rank: the worker's town and rank copied to each of his
trades by triggers, and the (trade_id, town_id, match_rank, worker_id) index matching
walks; workers' (town_id, match_rank) index, which matching no longer reads, dropped

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The columns match_rank is computed from (store.models.MATCH_RANK_SQL at this revision),
# and town_id: a change to any of them is copied to the worker's trades.
WATCHED = 'town_id, jobs_completed, no_shows, rating_avg, priority_group'

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION worker_trades_copy_match() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT town_id, match_rank INTO NEW.town_id, NEW.match_rank
        FROM workers WHERE id = NEW.worker_id;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER worker_trades_copy_match BEFORE INSERT OR UPDATE OF worker_id
    ON worker_trades
    FOR EACH ROW EXECUTE FUNCTION worker_trades_copy_match()""",
    """CREATE FUNCTION workers_match_to_trades() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE worker_trades SET town_id = NEW.town_id, match_rank = NEW.match_rank
        WHERE worker_id = NEW.id;
    RETURN NULL;
END $$""",
    # AFTER: the stored match_rank is computed by then.
    f"""CREATE TRIGGER workers_match_to_trades AFTER UPDATE OF {WATCHED} ON workers
    FOR EACH ROW WHEN (OLD.town_id IS DISTINCT FROM NEW.town_id
                       OR OLD.match_rank IS DISTINCT FROM NEW.match_rank)
    EXECUTE FUNCTION workers_match_to_trades()""",
]
# A trade row added or moved to another worker takes that worker's town and rank.
_COPY_MATCH = """
BEGIN
    UPDATE worker_trades
        SET (town_id, match_rank) = (SELECT town_id, match_rank FROM workers
                                     WHERE id = NEW.worker_id)
        WHERE worker_id = NEW.worker_id AND trade_id = NEW.trade_id;
END"""
SQLITE_TRIGGERS = [
    # SQLite's triggers cannot change the row being written: the row is updated after.
    "CREATE TRIGGER worker_trades_copy_match AFTER INSERT ON worker_trades" + _COPY_MATCH,
    "CREATE TRIGGER worker_trades_copy_match_moved AFTER UPDATE OF worker_id ON worker_trades"
    + _COPY_MATCH,
    f"""CREATE TRIGGER workers_match_to_trades AFTER UPDATE OF {WATCHED} ON workers
    WHEN OLD.town_id IS NOT NEW.town_id OR OLD.match_rank IS NOT NEW.match_rank
BEGIN
    UPDATE worker_trades SET town_id = NEW.town_id, match_rank = NEW.match_rank
        WHERE worker_id = NEW.id;
END""",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('worker_trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('town_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('match_rank', sa.Double(), nullable=True))
    op.execute(
        "UPDATE worker_trades SET (town_id, match_rank) = (SELECT town_id, match_rank"
        " FROM workers WHERE workers.id = worker_trades.worker_id)")
    for statement in POSTGRESQL_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    with op.batch_alter_table('worker_trades', schema=None) as batch_op:
        batch_op.create_index('ix_worker_trades_match',
                              ['trade_id', 'town_id', 'match_rank', 'worker_id'], unique=False)
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index('ix_workers_town_rank')


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index('ix_workers_town_rank', ['town_id', 'match_rank'], unique=False)
    op.execute("DROP TRIGGER workers_match_to_trades ON workers" if postgres
               else "DROP TRIGGER workers_match_to_trades")
    if postgres:
        op.execute("DROP TRIGGER worker_trades_copy_match ON worker_trades")
        op.execute("DROP FUNCTION workers_match_to_trades()")
        op.execute("DROP FUNCTION worker_trades_copy_match()")
    else:
        op.execute("DROP TRIGGER worker_trades_copy_match")
        op.execute("DROP TRIGGER worker_trades_copy_match_moved")
    with op.batch_alter_table('worker_trades', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_trades_match')
        batch_op.drop_column('match_rank')
        batch_op.drop_column('town_id')
