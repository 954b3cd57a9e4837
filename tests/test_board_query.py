"""The hall board's numbers (market.board), read from a real database through the
market's own rules: taking a slot, confirming a hire, cancelling a job."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from market import jobs
from market.board import Counts, read_board
from tests.market_world import CATALOGUE, EMPLOYER_PHONE, TZ


async def board(market):
    async with market.sessions() as session:
        return await read_board(session, market_id=market.market_id, timezone=TZ,
                                now=market.clock())


async def test_remaining_headcount_drops_as_slots_are_taken_and_full_lines_leave(market):
    employer = await market.employer()
    welders = await market.job(employer, [("welder", 3, 500), ("labourer", 1, 200)])
    await market.worker("+8613800000001", ["welder"], "北城街道")
    await market.worker("+8613800000002", ["labourer"], "北城街道")
    assert [(line.trade, line.remaining) for line in (await board(market)).lines] == [
        ("焊工", 3), ("小工", 1)]
    await market.reply("+8613800000001", welders.code)
    await market.reply("+8613800000002", welders.code)
    seen = await board(market)
    assert [(line.trade, line.remaining) for line in seen.lines] == [("焊工", 2)], \
        "the labourers' line is full"
    line = seen.lines[0]
    assert (line.job_code, line.day_wage_fen, line.town, line.days) == (
        welders.code, 50000, "北城街道", 5)
    assert line.start_date == date(2026, 11, 24), "tomorrow in Shanghai"
    assert (seen.open_lines, seen.open_slots) == (1, 2)


async def test_cancelled_started_and_unverified_employers_jobs_are_not_shown(market):
    employer = await market.employer()
    unverified = await market.employer(verification="unverified",
                                       credit_code="91350100M000100Y43")
    cancelled = await market.job(employer, [("welder", 2, 500)])
    await market.job(employer, [("porter", 2, 200)], start_in=timedelta(minutes=30))
    await market.job(unverified, [("welder", 2, 500)])
    async with market.sessions() as session, session.begin():
        await jobs.cancel_job(session, cancelled.id, agent="alice", now=market.clock(),
                              catalogue=CATALOGUE, timezone=TZ)
    assert [line.trade for line in (await board(market)).lines] == ["搬运装卸"]
    market.clock.advance(minutes=31)
    assert (await board(market)).lines == (), "started: no longer offered"


async def test_counts_by_day_and_month_in_the_markets_time_zone(market):
    at = market.clock  # 2026-11-23 09:30 in Shanghai
    registered = {
        "+8613800000001": datetime(2026, 11, 22, 17, 0, tzinfo=UTC),  # 23 Nov 01:00 Shanghai
        "+8613800000002": datetime(2026, 11, 22, 15, 30, tzinfo=UTC),  # 22 Nov 23:30
        "+8613800000003": datetime(2026, 10, 31, 17, 0, tzinfo=UTC),  # 1 Nov 01:00
        "+8613800000004": datetime(2026, 10, 31, 15, 0, tzinfo=UTC),  # 31 Oct 23:00
    }
    for phone, when in registered.items():
        await market.worker(phone, ["welder"], "北城街道", registered_at=when)
    employer = await market.employer()
    at.now = datetime(2026, 11, 22, 15, 59, tzinfo=UTC)  # 22 Nov 23:59 in Shanghai
    yesterday = await market.job(employer, [("welder", 1, 500)], start_in=timedelta(days=2))
    at.now = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    await market.job(employer, [("welder", 2, 500)])
    await market.reply("+8613800000001", yesterday.code)
    offer = (await market.offers(yesterday.id))[0]
    assert "已录用" in await market.reply(EMPLOYER_PHONE, f"是{offer.id}")
    seen = await board(market)
    assert seen.day == date(2026, 11, 23)
    assert seen.today == Counts(registrations=1, jobs=1, hires=1)
    assert seen.month == Counts(registrations=3, jobs=2, hires=1)
    at.now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 Dec 00:00 in Shanghai
    assert (await board(market)).month == Counts(registrations=0, jobs=0, hires=0)
