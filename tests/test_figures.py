"""The market's figures day by day, as the supervisors' dashboard charts them: a hire's
alert, acceptance and confirmation land on the market day they happened, wages confirmed
paid or not on the day the worker answered, and a job's time to fill is measured from
its posting to the hire that filled it."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from market import figures
from market.figures import Period, PeriodError
from tests.market_world import EMPLOYER_PHONE, TZ
from tests.test_wage_loop import WORKER, hired, local, sweep

NOV = lambda day: date(2026, 11, day)  # noqa: E731


async def days_of(market, first: date, last: date) -> dict[date, figures.Day]:
    async with market.sessions() as session:
        return {d.day: d for d in await figures.daily(session, Period(first, last, TZ))}


async def test_a_hire_counts_on_the_market_day_it_happened(market):
    market.clock.now = local(24, 0, 30)  # 00:30 on the 24th in Shanghai, the 23rd in UTC
    hire = await hired(market, days=1)
    days = await days_of(market, NOV(23), NOV(25))
    assert [days[NOV(d)].hired for d in (23, 24, 25)] == [0, 1, 0]
    assert (days[NOV(24)].alerted, days[NOV(24)].accepted) == (1, 1)
    assert hire.owed_fen == 30000


async def test_wages_paid_and_unpaid_fall_on_the_day_the_worker_answered(market):
    await hired(market, days=1)
    await sweep(market, local(24, 19, 1))
    assert "谢谢" not in await market.reply(WORKER, "2")  # not paid
    days = await days_of(market, NOV(23), NOV(25))
    assert days[NOV(24)].unpaid_fen == 30000 and days[NOV(24)].paid_fen == 0
    assert sum(d.unpaid_fen for d in days.values()) == 30000


async def test_time_to_fill_runs_from_posting_to_the_filling_hire(market):
    employer = await market.employer()
    await market.worker(WORKER, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 300)])
    await market.waves()
    market.clock.advance(minutes=12)
    assert await market.reply(WORKER, job.code) is None
    offer = (await market.offers(job.id))[0]
    market.clock.advance(minutes=30)
    assert "已录用" in await market.reply(EMPLOYER_PHONE, f"Y{offer.id}")
    async with market.sessions() as session:
        minutes = await figures.fill_minutes(session, Period(NOV(23), NOV(23), TZ))
    assert minutes == [42.0] and figures.median(minutes) == 42.0


async def test_a_job_not_yet_filled_has_no_time_to_fill(market):
    employer = await market.employer()
    await market.job(employer, [("welder", 2, 300)])
    async with market.sessions() as session:
        assert await figures.fill_minutes(session, Period(NOV(23), NOV(23), TZ)) == []
    assert figures.median([]) is None


def test_days_as_csv_give_amounts_in_yuan():
    rows = list(csv.reader(io.StringIO(figures.days_as_csv([
        figures.Day(NOV(23), registrations=2, hired=1, paid_fen=30050)]))))
    assert rows[0][:2] == ["day", "registrations"] and "paid_yuan" in rows[0]
    assert rows[1][0] == "2026-11-23" and rows[1][rows[0].index("paid_yuan")] == "300.50"


@pytest.mark.parametrize(("first", "last", "why"), [
    (NOV(24), NOV(23), "ends before it starts"),
    (NOV(1), NOV(1) + timedelta(days=400), "at most 366 days"),
])
def test_a_period_a_dashboard_cannot_show_is_refused(first, last, why):
    with pytest.raises(PeriodError, match=why):
        Period(first, last, TZ).days()
