"""Two answers to one prompt on PostgreSQL, where a turn's effects run while another
answer may take the turn (hotline.calls): the first to write the call's row keeps its
turn, the other's writes are rolled back and it is answered as the first was, even when
its effects failed. A turn's effects in a transaction write the call last; an answer to
a profile question writes it first, in the statement that writes the answer."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from gigline.app import create_app
from gigline.keys import DESK, SESSIONS
from hotline import calls
from ivr_flows.inputs import Answer
from store.db import make_engine
from store.models import CallSession, Worker, WorkerTrade
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.test_webhooks import post
from tests.twilio_signing import voice_params

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                                reason="answers that run side by side: PostgreSQL only")

CALLER = "+8613800000001"


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    app = create_app(make_settings(database_url, 8080), clock=clock)
    return await aiohttp_client(app)


@pytest.fixture
async def other_connection(database_url):
    """A connection of the test's own, as an agent's console or another process has."""
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        yield conn
    await engine.dispose()


async def at_the_trades_menu(client) -> None:
    await post(client, "/twilio/voice", voice_params("CA1"))
    await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))


async def holding_the_worker(conn) -> None:
    """Locks the caller's row, as an agent saving their profile does until it commits."""
    await conn.begin()
    await conn.execute(text("SELECT id FROM workers WHERE phone = :phone FOR UPDATE"),
                       {"phone": CALLER})


async def refusing(conn, table: str, when: str = "true") -> None:
    """The database refuses the rows the app inserts into `table` (`when`: which), once
    the insert has waited for what it waits for (the foreign key's check, which waits,
    comes before triggers named after it)."""
    await conn.execute(text(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"))
    await conn.execute(text(
        f"CREATE TRIGGER zz_refuse AFTER INSERT ON {table} "
        f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION refuse()"))
    await conn.commit()


async def registering_the_callers_phone(conn) -> None:
    """Inserts a worker with the caller's phone and holds it uncommitted, as an agent's
    console registering them does until it commits: a consent waits for it."""
    await conn.begin()
    await conn.execute(text(
        "INSERT INTO workers (market_id, phone, status, created_at, demo, priority_group, "
        "jobs_completed, no_shows) SELECT id, :phone, 'registering', now(), false, false, 0, 0 "
        "FROM markets LIMIT 1"), {"phone": CALLER})


async def until_waiting_for_locks(conn, count: int = 1) -> None:
    """Until `count` of the app's statements wait for a lock. Asked on a connection of
    its own, each time in a transaction of its own: asked inside the transaction `conn`
    holds, PostgreSQL's view of the activity missed a connection the app opened after
    that transaction began."""
    async with conn.engine.connect() as watcher:
        watcher = await watcher.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(500):
            waiting = await watcher.scalar(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"))
            if waiting >= count:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"{count} answers never waited for a lock")


async def the_call(client) -> tuple[CallSession, list]:
    async with client.app[SESSIONS]() as session:
        call = await session.get(CallSession, "CA1")
        trades = list(await session.scalars(
            select(WorkerTrade.trade_id).join(Worker).where(Worker.phone == CALLER)))
    return call, trades


@pytest.mark.parametrize("consent_fails", [False, True],
                         ids=["consent-kept-back", "consent-fails"])
async def test_an_answer_whose_effects_wait_loses_its_turn_to_a_quicker_one(
        client, other_connection, consent_fails):
    """"1" consents (a worker's row to insert, which waits for an agent registering the
    same phone); "2" declines meanwhile and moves the call on. The consent is rolled
    back and answered as "2" was, also when the database then refuses it."""
    await post(client, "/twilio/voice", voice_params("CA1"))
    if consent_fails:
        await refusing(other_connection, "workers", "NEW.consent_at IS NOT NULL")
    await registering_the_callers_phone(other_connection)
    consenting = asyncio.create_task(
        post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1")))
    await until_waiting_for_locks(other_connection)
    declining = await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="2"))
    await other_connection.rollback()
    consented = await consenting
    assert declining.status == consented.status == 200
    assert await consented.text() == await declining.text()
    assert "<Hangup" in await declining.text()
    call, _ = await the_call(client)
    async with client.app[SESSIONS]() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert call.turn == 2
    assert worker is None, "the consent given too late was not kept"


async def test_an_answer_that_writes_the_call_first_keeps_its_turn_while_it_waits(
        client, other_connection):
    """"1" picks a trade: the call's row and the pick are one statement, which waits for
    the worker's row held by an agent. "4", paging the menu meanwhile, waits for the
    call's row, and is answered as the pick was once it is made."""
    await at_the_trades_menu(client)
    await holding_the_worker(other_connection)
    picking = asyncio.create_task(
        post(client, "/twilio/voice/gather?t=2", voice_params("CA1", Digits="1")))
    await until_waiting_for_locks(other_connection)
    paging = asyncio.create_task(
        post(client, "/twilio/voice/gather?t=2", voice_params("CA1", Digits="4")))
    await until_waiting_for_locks(other_connection, 2)
    await other_connection.rollback()
    picked, paged = await picking, await paging
    assert picked.status == paged.status == 200
    assert await paged.text() == await picked.text()
    call, trades = await the_call(client)
    assert (call.turn, call.state["step"], call.state["draft"]["trades"]) == (
        3, "trades_more", ["welder"])
    assert len(trades) == 1


async def test_an_answer_whose_effects_fail_with_nobody_else_answering_fails(
        client, other_connection):
    """The failure is not hidden when the turn is still the caller's: nothing moved on."""
    await at_the_trades_menu(client)
    await refusing(other_connection, "worker_trades")
    with pytest.raises(Exception, match="refused"):
        await calls.take_turn(client.app[DESK], call_sid="CA1", caller=CALLER, turn=2,
                              event=Answer("1"))
    call, trades = await the_call(client)
    assert (call.turn, call.state["step"], trades) == (2, "trades", [])


async def answered_in_order(client, conn, turn: int, keys: list[str]) -> list:
    """The responses to `keys` answering one prompt, each sent once the one before waits
    for the call's row, held by `conn` (as a turn moving the call on holds it) until
    all wait: they take it in that order."""
    await conn.begin()
    await conn.execute(text("SELECT turn FROM call_sessions WHERE call_sid = 'CA1' FOR UPDATE"))
    answers = []
    for waiting, digits in enumerate(keys, start=1):
        answers.append(asyncio.create_task(
            post(client, f"/twilio/voice/gather?t={turn}", voice_params("CA1", Digits=digits))))
        await until_waiting_for_locks(conn, waiting)
    await conn.rollback()
    return [await answer for answer in answers]


async def test_of_two_wages_keyed_at_once_the_caller_keeps_the_one_the_call_took(
        client, other_connection):
    """A wage is written with the call's move-on, in one statement: the answer that
    loses the turn writes nothing, so the caller keeps the wage of the answer that
    moved the call on, which both were answered by."""
    await at_the_trades_menu(client)
    for turn, keys in enumerate(["3", "2", "1", "2"], start=2):  # 钢筋工, done, district, town
        await post(client, f"/twilio/voice/gather?t={turn}", voice_params("CA1", Digits=keys))
    first, second = await answered_in_order(client, other_connection, 6, ["350", "280"])
    assert first.status == second.status == 200
    assert await first.text() == await second.text()
    call, _ = await the_call(client)
    async with client.app[SESSIONS]() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert call.turn == 7
    assert call.state["draft"]["day_wage_fen"] in (35000, 28000)
    assert worker.day_wage_fen == call.state["draft"]["day_wage_fen"]


async def test_a_trade_picked_after_the_menu_was_paged_is_not_kept(client, other_connection):
    """"4" pages the menu and "1" picks a trade, in that order, both waiting for the
    call's row: the pick, which would write with the move-on, writes nothing."""
    await at_the_trades_menu(client)
    paged, picked = await answered_in_order(client, other_connection, 2, ["4", "1"])
    assert await picked.text() == await paged.text()
    call, trades = await the_call(client)
    assert (call.turn, call.state["step"], call.state["page"]) == (3, "trades", 1)
    assert trades == [], "the trade picked too late was not kept"


async def test_an_answer_ended_by_a_deadlock_is_taken_again(client, other_connection):
    """PostgreSQL ends a profile answer's statement to break a deadlock (as with another
    answer locking the worker, then the call): nothing was written, and the caller
    hears the next question with the wage kept, not an error."""
    await at_the_trades_menu(client)
    for turn, keys in enumerate(["3", "2", "1", "2"], start=2):  # 钢筋工, done, district, town
        await post(client, f"/twilio/voice/gather?t={turn}", voice_params("CA1", Digits=keys))
    await other_connection.execute(text("CREATE SEQUENCE deadlocks"))
    await other_connection.execute(text(
        "CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF nextval('deadlocks') = 1 THEN "
        "RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END IF; "
        "RETURN NEW; END $$"))
    await other_connection.execute(text(
        "CREATE TRIGGER zz_deadlock BEFORE UPDATE ON workers "
        "FOR EACH ROW EXECUTE FUNCTION deadlock_once()"))
    await other_connection.commit()
    answered = await post(client, "/twilio/voice/gather?t=6", voice_params("CA1", Digits="350"))
    assert answered.status == 200
    assert "gather?t=7" in await answered.text()
    call, _ = await the_call(client)
    async with client.app[SESSIONS]() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert (call.turn, worker.day_wage_fen) == (7, 35000)
    assert await other_connection.scalar(text("SELECT last_value FROM deadlocks")) == 2


async def test_a_first_webhook_whose_call_another_process_opens_meanwhile_is_answered(
        client, other_connection):
    """A call's first webhook and its retry, at two processes: both find no row; the one
    whose insert comes second (waiting for the first's) reads the row it found inserted
    and answers from it."""
    fresh = await (await post(client, "/twilio/voice", voice_params("CA0"))).text()
    await other_connection.begin()
    await other_connection.execute(text(
        "INSERT INTO call_sessions (call_sid, phone, direction, status, state, turn, "
        "last_response, started_at, updated_at) VALUES ('CA1', :phone, 'inbound', "
        "'in-progress', '{}', 0, '', now(), now())"), {"phone": CALLER})
    opening = asyncio.create_task(post(client, "/twilio/voice", voice_params("CA1")))
    await until_waiting_for_locks(other_connection)
    await other_connection.commit()
    answer = await opening
    assert answer.status == 200
    assert (await answer.text()).replace("CA1", "CA0") == fresh, "greeted as any new call"
    call, _ = await the_call(client)
    assert call.turn == 1
