"""case_workers.recovered_fen: each worker's share of what a case recovered, as each was
told it by SMS

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _shares(total_fen: int, owed_fen: list[int]) -> list[int]:
    # market.cases.shares as it was at this revision: in proportion to what each is owed
    # (equally if nothing was recorded), the rounding's fen to the largest remainders.
    weights = owed_fen if sum(owed_fen) > 0 else [1] * len(owed_fen)
    whole = sum(weights)
    if not whole:
        return []
    exact = [total_fen * w for w in weights]
    amounts = [e // whole for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in by_remainder[:total_fen - sum(amounts)]:
        amounts[i] += 1
    return amounts


def upgrade() -> None:
    with op.batch_alter_table('case_workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovered_fen', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    # Cases recovered before: their sum split among today's members as the SMS split it.
    bind = op.get_bind()
    recovered = bind.execute(sa.text(
        "SELECT id, recovered_fen FROM rights_cases WHERE recovered_fen > 0")).all()
    for case_id, total in recovered:
        members = bind.execute(sa.text(
            "SELECT worker_id, owed_fen FROM case_workers WHERE case_id = :case"
            " ORDER BY worker_id"), {"case": case_id}).all()
        for (worker_id, _), share in zip(members, _shares(total, [o for _, o in members])):
            bind.execute(sa.text(
                "UPDATE case_workers SET recovered_fen = :share"
                " WHERE case_id = :case AND worker_id = :worker"),
                {"share": share, "case": case_id, "worker": worker_id})


def downgrade() -> None:
    with op.batch_alter_table('case_workers', schema=None) as batch_op:
        batch_op.drop_column('recovered_fen')
