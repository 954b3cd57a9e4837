"""Every outbound SMS is a row first: queued once by its dedupe key, sent by the sender."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CTE, Executable, and_, bindparam, case, exists, literal, select, true
from sqlalchemy.dialects import postgresql

from market.optouts import is_opted_out, opted_out_among
from store.driver_statements import DriverStatement
from store.models import InboundSms, OutboundSms
from store.repo import (
    DIALECT_INSERTS,
    Executor,
    dialect_insert,
    dialect_name,
    execute_keyed,
    transaction_info,
)
from store.statuses import Channel, OutboxStatus

PRIORITY_OPT_OUT_ACK = 0  # confirmed at once, not behind a fan-out of alerts
PRIORITY_ALERT = 1
PRIORITY_REPLY = 3
PRIORITY_NOTICE = 5
OPT_OUT_ACK = "opt_out_ack"
QUEUED = "outbox_queued"


async def enqueue_sms(
    executor: Executor,
    *,
    dedupe_key: str,
    phone: str,
    body: str,
    kind: str,
    now: datetime,
    priority: int = PRIORITY_NOTICE,
    channel: Channel = Channel.SMS,
) -> bool:
    """Queues the SMS unless one with the same key exists; True if newly queued.

    A message for an opted-out number is kept, marked suppressed, and never sent (only
    the opt-out confirmation itself goes out)."""
    status = (await execute_keyed(executor, _ENQUEUE[dialect_name(executor)], {
        "dedupe_key": dedupe_key, "channel": channel, "phone": phone, "body": body,
        "kind": kind, "priority": priority, "now": now})).scalar()
    if status == OutboxStatus.PENDING:
        transaction_info(executor)[QUEUED] = True  # the caller wakes the sender once this commits
    return status is not None


def enqueue_statement(insert, *, after: CTE | None = None) -> Executable:
    """One message's row, suppressed if its number opted out, in one statement: the
    opt-out is looked up by the INSERT itself. Returns the status of a row added.
    `after`: a statement of the same INSERT (a WITH) that returns a row only when the
    message is to be queued, such as an inbound SMS stored for the first time."""
    table = OutboundSms.__table__
    opted_out = is_opted_out(bindparam("phone"))
    status = case((and_(bindparam("kind") != OPT_OUT_ACK, opted_out), OutboxStatus.SUPPRESSED),
                  else_=OutboxStatus.PENDING)
    given = ("dedupe_key", "channel", "phone", "body", "kind", "priority")
    at_now = ("next_attempt_at", "created_at", "updated_at")
    row = select(*(bindparam(name, type_=table.c[name].type) for name in given),
                 *(bindparam("now", type_=table.c[name].type) for name in at_now),
                 literal(0).label("attempts"), status.label("status"))
    # SQLite reads ON CONFLICT after an INSERT's SELECT only behind a WHERE clause.
    row = row.where(true() if after is None else exists(select(after)))
    return (insert(table).from_select([*given, *at_now, "attempts", "status"], row)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.status))


# Built once: building it costs more than running it.
_ENQUEUE = {dialect: DriverStatement(enqueue_statement(insert))
            for dialect, insert in DIALECT_INSERTS.items()}


def _inbound_stored_then_enqueued() -> Executable:
    inbox = InboundSms.__table__
    stored = (postgresql.insert(inbox).values(
        message_sid=bindparam("message_sid"), phone=bindparam("phone"),
        to_number=bindparam("to_number"), body=bindparam("inbound_body"),
        intent=bindparam("intent"), received_at=bindparam("now", type_=inbox.c.received_at.type))
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(inbox.c.message_sid).cte("stored"))
    return enqueue_statement(postgresql.insert, after=stored)


_INBOUND_STORED_THEN_ENQUEUED = DriverStatement(_inbound_stored_then_enqueued())


async def store_inbound_and_answer(executor: Executor, inbound: Mapping,
                                   answer: Mapping) -> None:
    """PostgreSQL: an inbound SMS (its `InboundSms` columns) stored unless its MessageSid
    is already, and `answer` (`enqueue_sms`'s arguments) queued only if it was not, in
    one statement (committed as it runs, if nothing began the unit's transaction): a
    webhook retried is answered once."""
    await execute_keyed(executor, _INBOUND_STORED_THEN_ENQUEUED, {
        "channel": Channel.SMS, **answer, "message_sid": inbound["message_sid"],
        "to_number": inbound["to_number"], "inbound_body": inbound["body"],
        "intent": inbound["intent"]}, standalone=True)


@dataclass(frozen=True, slots=True)
class Sms:
    """One message for `enqueue_many`, as `enqueue_sms` takes it."""

    dedupe_key: str
    phone: str
    body: str
    kind: str
    priority: int = PRIORITY_NOTICE
    channel: Channel = Channel.SMS


async def enqueue_many(session: Executor, messages: Sequence[Sms], *, now: datetime,
                       opted_out: set[str] | None = None) -> int:
    """`enqueue_sms` for many messages at once: one query for opt-outs and one INSERT
    statement, the rows in the order given (the sender takes equal priorities in that
    order). A key already queued, or given twice, is queued once. Returns how many were
    newly queued to send. `opted_out`: the messages' opted-out numbers, read in this
    transaction already (`opted_out_among`): the INSERT alone is left."""
    keys: set[str] = set()
    rows = []
    if opted_out is None:
        opted_out = await opted_out_among(
            session, {m.phone for m in messages if m.kind != OPT_OUT_ACK})
    for message in messages:
        if message.dedupe_key in keys:
            continue
        keys.add(message.dedupe_key)
        suppressed = message.kind != OPT_OUT_ACK and message.phone in opted_out
        rows.append(_row(message, suppressed, now))
    if not rows:
        return 0
    # One statement run for every row: SQLAlchemy sends them as few multi-row INSERTs
    # (its "insertmanyvalues"), from a statement compiled once, not once per row count.
    statement = (dialect_insert(session, OutboundSms.__table__)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(OutboundSms.__table__.c.status))
    queued = sum(status == OutboxStatus.PENDING
                 for status in await session.scalars(statement, rows))
    if queued:
        transaction_info(session)[QUEUED] = True  # the caller wakes the sender once this commits
    return queued


def _row(message: Sms, suppressed: bool, now: datetime) -> dict:
    """The outbox row for `message`: a suppressed one is kept and never sent."""
    return {"dedupe_key": message.dedupe_key, "channel": message.channel,
            "phone": message.phone, "body": message.body, "kind": message.kind,
            "priority": message.priority,
            "status": OutboxStatus.SUPPRESSED if suppressed else OutboxStatus.PENDING,
            "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}


def queued_any(executor: Executor) -> bool:
    """Whether this database transaction queued a message to send: the caller then wakes
    the sender."""
    return bool(transaction_info(executor).get(QUEUED))
