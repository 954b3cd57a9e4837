"""Alerts go out in waves: several times the open slots at once, the next best after a
while if slots are still open, until the job is full, cancelled or started. Quiet hours
hold alerts unless the job starts soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from basics.clock import QuietHours, market_today
from market.matching import Match, match_line, towns_within_reach
from market.notices import alert_message, enqueue_alert, lines_facts
from market.outbox import enqueue_many
from store.models import Employer, Job, JobLine, Offer, Worker
from store.repo import dialect_insert
from store.statuses import Channel, JobStatus, OfferChannel, OfferStatus, Verification

if TYPE_CHECKING:
    from market.context import MarketContext


@dataclass(frozen=True)
class WaveRules:
    multiplier: int = 3  # workers alerted per open slot in a wave
    interval: timedelta = timedelta(minutes=10)
    quiet: QuietHours = QuietHours(time(21), time(7))
    quiet_override: timedelta = timedelta(hours=12)  # sooner jobs are alerted even at night


async def run_waves(ctx: MarketContext, now: datetime, *, max_jobs: int = 50) -> int:
    """Sends every due wave, one job per transaction; returns the offers made."""
    made = 0
    for _ in range(max_jobs):
        async with ctx.sessions() as session, session.begin():
            job = await session.scalar(
                select(Job).where(Job.status == JobStatus.OPEN, Job.next_wave_at <= now)
                .order_by(Job.next_wave_at).limit(1).with_for_update(skip_locked=True)
            )
            if job is None:
                break
            made += await _send_wave(session, ctx, job, now)
    return made


async def _send_wave(session: AsyncSession, ctx: MarketContext, job: Job,
                     now: datetime) -> int:
    rules = ctx.wave_rules
    employer = await session.get(Employer, job.employer_id)
    lines = list(await session.scalars(select(JobLine).where(JobLine.job_id == job.id)))
    open_lines = [line for line in lines if line.filled < line.headcount]
    if (job.start_at <= now or not open_lines or employer.verification != Verification.VERIFIED
            or employer.alerts_held):
        # Started or full: no more waves. Unverified, or held for an open wage case: waves
        # start again when an agent verifies or clears the employer.
        job.next_wave_at = None
        return 0
    wave = job.waves_sent + 1
    hold = rules.quiet.until(now, ctx.timezone)
    if hold is not None and job.start_at - now <= rules.quiet_override:
        hold = None
    matches = await choose_wave(session, ctx, job, open_lines, now)
    made = await _offer_all(session, ctx, job, matches, wave, hold, now)
    job.waves_sent, job.next_wave_at = wave, now + rules.interval
    return made


async def choose_wave(session: AsyncSession, ctx: MarketContext, job: Job,
                      open_lines: list[JobLine], now: datetime) -> list[Match]:
    """Who a wave alerts: for each line, its multiplier times its free slots of the best
    ranked eligible workers, none of them twice across the job's lines."""
    rules = ctx.wave_rules
    reach = await towns_within_reach(session, job.town_id)
    today = market_today(now, ctx.timezone)
    start_day = job.start_at.astimezone(ZoneInfo(ctx.timezone)).date()
    chosen: dict[int, Match] = {}
    for line in open_lines:
        wanted = rules.multiplier * (line.headcount - line.filled)
        matches = await match_line(session, job, line, limit=wanted + len(chosen), now=now,
                                   today=today, start_day=start_day, reach=reach)
        for match in [m for m in matches if m.worker_id not in chosen][:wanted]:
            chosen[match.worker_id] = match
    return list(chosen.values())


async def _offer_all(session: AsyncSession, ctx: MarketContext, job: Job, matches: list[Match],
                     wave: int, hold: datetime | None, now: datetime) -> int:
    """The wave's offers and their alerts as two INSERT statements, whatever its size: a
    50-slot job's 150 offers cost about what one does, so its first alert is not kept
    waiting behind the rest. A worker offered the job before is skipped (the offer's
    unique key); held alerts wait in their offers for the quiet hours to end."""
    if not matches:
        return 0
    rows = [{
        "job_id": job.id, "job_line_id": m.job_line_id, "worker_id": m.worker_id,
        "status": OfferStatus.OFFERED,
        "channel": OfferChannel.ALERT_CALL if m.alert_channel == Channel.CALL
        else OfferChannel.SMS,
        "wave": wave, "score": {"total": m.score, **m.parts}, "created_at": now,
        "alert_hold_until": hold, "alerted_at": now if hold is None else None,
    } for m in matches]
    # One statement run for every row (SQLAlchemy's "insertmanyvalues"); RETURNING
    # names the rows added, none for a worker offered the job before.
    statement = (dialect_insert(session, Offer.__table__)
                 .on_conflict_do_nothing()
                 .returning(Offer.__table__.c.id, Offer.__table__.c.worker_id))
    added = {worker_id: offer_id
             for offer_id, worker_id in await session.execute(statement, rows)}
    if hold is None and added:
        facts = await lines_facts(session, {m.job_line_id for m in matches},
                                  timezone=ctx.timezone, catalogue=ctx.catalogue)
        await enqueue_many(session, [
            alert_message(added[m.worker_id], m.phone, m.alert_channel, facts[m.job_line_id],
                          ctx.catalogue)
            for m in matches if m.worker_id in added], now=now)
    return len(added)


async def release_held_alerts(ctx: MarketContext, now: datetime, *, limit: int = 500) -> int:
    """Alerts held for the quiet hours go out, if the job still wants people, once the
    quiet hours as set now no longer hold them: they ended, or the setting changed since
    the alert was held (a restart with other GIGLINE_QUIET_HOURS, or none). An alert the
    rules still hold gets the end they now give as its release time, which agents see."""
    rules = ctx.wave_rules
    quiet_end = rules.quiet.until(now, ctx.timezone)
    due = Offer.alert_hold_until.is_not(None)
    if quiet_end is not None:
        due = and_(due, Job.start_at <= now + rules.quiet_override)  # starts soon
    async with ctx.sessions() as session, session.begin():
        rows = list(await session.execute(
            select(Offer, Worker.phone, Worker.alert_channel)
            .join(Worker, Worker.id == Offer.worker_id)
            .join(Job, Job.id == Offer.job_id)
            .join(JobLine, JobLine.id == Offer.job_line_id)
            .where(Offer.status == OfferStatus.OFFERED, due,
                   Job.status == JobStatus.OPEN, Job.start_at > now,
                   JobLine.filled < JobLine.headcount)
            .order_by(Offer.alert_hold_until, Offer.id).limit(limit)
            .with_for_update(of=Offer, skip_locked=True)
        ))
        for offer, phone, preference in rows:
            await enqueue_alert(session, offer, phone, preference=preference,
                                catalogue=ctx.catalogue, timezone=ctx.timezone,
                                now=now)
        if quiet_end is not None:
            await session.flush()  # the alerts just released are held no more
            # Two ranges, not !=, so the (status, alert_hold_until) index finds them.
            await session.execute(
                update(Offer)
                .where(Offer.status == OfferStatus.OFFERED,
                       or_(Offer.alert_hold_until < quiet_end, Offer.alert_hold_until > quiet_end))
                .values(alert_hold_until=quiet_end)
                .execution_options(synchronize_session=False))
    return len(rows)
