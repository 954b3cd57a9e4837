"""A job followed live line by line, and an employer's file, as the staff's pages read
them: waves, offers by status, slots left; verification, jobs, hires and cases."""

from __future__ import annotations

from market import job_files
from tests.market_world import EMPLOYER_PHONE
from tests.test_wage_loop import WORKER, hired


async def test_a_job_s_lines_show_waves_offers_and_slots_left(market):
    employer = await market.employer()
    for n in range(3):
        await market.worker(f"+861380000000{n}", ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 2, 500), ("cook", 1, 200)])
    await market.waves()
    assert await market.reply("+8613800000000", job.code) is None
    async with market.sessions() as session:
        state = await job_files.job_state(session, job.id, market_id=market.market_id)
    welders, cooks = state.lines
    assert (state.code, state.waves_sent, state.town) == (job.code, 1, "北城街道")
    assert welders.offers == {"offered": 2, "accepted": 1} and welders.by_wave == {1: 3}
    assert (welders.filled, welders.remaining) == (1, 1)
    assert (cooks.offers, cooks.remaining) == ({}, 1), "no cook registered: none alerted"


async def test_no_state_for_another_market_s_job(market):
    job = await market.job(await market.employer(), [("welder", 1, 500)])
    async with market.sessions() as session:
        assert await job_files.job_state(session, job.id, market_id=market.market_id + 1) \
            is None


async def test_an_employer_s_file_and_finding_it(market):
    hire = await hired(market, days=1)
    async with market.sessions() as session:
        [found] = await job_files.search_employers(session, "安居", market_id=market.market_id)
        by_code = await job_files.search_employers(session, "91140802ma0k000005",
                                                   market_id=market.market_id)
        by_phone = await job_files.search_employers(session, EMPLOYER_PHONE[3:],
                                                    market_id=market.market_id)
        file = await job_files.employer_file(session, found.employer_id,
                                             market_id=market.market_id)
    assert [e.employer_id for e in by_code] == [e.employer_id for e in by_phone] \
        == [found.employer_id]
    assert file.verification == "verified" and file.verification_note == "营业执照原件"
    assert file.hires == 1 and file.cases == ()
    [job] = file.jobs
    assert (job.job_id, job.headcount, job.filled) == (hire.job_id, 1, 1)
    assert WORKER not in str(file), "an employer's file holds no worker's phone"
