"""回访: after a hire ends each side rates the other 1-5, or reports a no-show (0).
Ratings and no-shows feed matching's reliability score."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.notices import LineFacts
from prompts.catalogue import Catalogue
from store.models import Employer, Hire, Job, Rating, Worker
from store.repo import dialect_insert
from store.statuses import Rater


async def ask_many(session: AsyncSession, asks: Sequence[tuple[int, str]], *,
                   now: datetime) -> dict[tuple[int, str], int]:
    """The ratings to ask, by (hire, rater): each made once, in the order given, and
    their ids returned (one already made keeps its own)."""
    if not asks:
        return {}
    await session.execute(
        dialect_insert(session, Rating.__table__).on_conflict_do_nothing(),
        [{"hire_id": hire_id, "rater": rater, "no_show": False, "asked_at": now}
         for hire_id, rater in asks])
    made = await session.execute(
        select(Rating.id, Rating.hire_id, Rating.rater)
        .where(Rating.hire_id.in_({hire_id for hire_id, _ in asks})))
    return {(hire_id, rater): rating_id for rating_id, hire_id, rater in made}


def question(rater: str, rating_id: int, facts: LineFacts, worker_phone: str,
             worker: str, catalogue: Catalogue) -> tuple[str, str]:
    """Who is asked to rate and the SMS that asks: the worker rates the employer, the
    employer the worker (named by `worker`, their label)."""
    if rater == Rater.WORKER:
        return worker_phone, catalogue.text("sms_rate_employer", code=facts.code,
                                            rating=rating_id)
    return facts.employer_phone, catalogue.text("sms_rate_worker", code=facts.code,
                                                worker=worker, rating=rating_id)


async def open_ratings(session: AsyncSession, phone: str) -> list[Rating]:
    """Ratings asked of this phone (as worker or as employer) and not yet answered."""
    as_worker = (select(Rating).join(Hire, Hire.id == Rating.hire_id)
                 .join(Worker, Worker.id == Hire.worker_id)
                 .where(Rating.rater == Rater.WORKER, Worker.phone == phone))
    as_employer = (select(Rating).join(Hire, Hire.id == Rating.hire_id)
                   .join(Job, Job.id == Hire.job_id).join(Employer, Employer.id == Job.employer_id)
                   .where(Rating.rater == Rater.EMPLOYER, Employer.phone == phone))
    found = []
    for query in (as_worker, as_employer):
        found += list(await session.scalars(query.where(Rating.answered_at.is_(None))))
    return found


async def answer(session: AsyncSession, rating: Rating, value: int, *, now: datetime) -> bool:
    """1-5 stars, or 0 for a no-show. False for anything else."""
    if not 0 <= value <= 5 or rating.answered_at is not None:
        return False
    rating.answered_at = now
    hire = await session.get(Hire, rating.hire_id)
    worker = await session.get(Worker, hire.worker_id)
    job = await session.get(Job, hire.job_id)
    if value == 0:
        rating.no_show = True
        if rating.rater == Rater.EMPLOYER:  # the worker did not come
            worker.no_shows += 1
            worker.jobs_completed = max(worker.jobs_completed - 1, 0)
        return True
    rating.stars = value
    await session.flush()
    if rating.rater == Rater.EMPLOYER:
        worker.rating_avg = await session.scalar(
            select(func.avg(Rating.stars)).join(Hire, Hire.id == Rating.hire_id)
            .where(Hire.worker_id == worker.id, Rating.rater == Rater.EMPLOYER))
    else:
        employer = await session.get(Employer, job.employer_id)
        employer.rating_avg = await session.scalar(
            select(func.avg(Rating.stars)).join(Hire, Hire.id == Rating.hire_id)
            .join(Job, Job.id == Hire.job_id)
            .where(Job.employer_id == employer.id, Rating.rater == Rater.WORKER))
    return True
