"""Who gets a job alert: eligible workers, ranked, with the score's parts kept for agents.

Eligible: active, registered for the trade, not opted out, available by the start date,
not offered this job before, not holding a slot on a job whose days overlap, living
within reach, asking no more than the offer (an unknown wage counts as willing).
Ranked by nearness (same town, then district, then distance), reliability, priority
group (就业困难人员 first) and fairness (days since the last hire)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, exists, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Area, Job, JobLine, Offer, OptOut, Worker, WorkerTrade

REACH_KM = 60.0
HELD = ("accepted", "confirmed")
EPOCH = date(1970, 1, 1)
# Points for each part of the score (higher ranks first).
NEAR_POINTS = 40  # minus one a kilometre
SAME_DISTRICT_POINTS = 10
PRIORITY_POINTS = 15
FAIRNESS_CAP_DAYS = 30
NEVER_HIRED_POINTS = 15


@dataclass(frozen=True)
class Match:
    worker_id: int
    phone: str
    alert_channel: str
    job_line_id: int
    score: float
    parts: dict[str, float]


def day_number(day: date) -> int:
    return (day - EPOCH).days


def km_between(a: Area, b: Area) -> float:
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return 0.0 if a.id == b.id else REACH_KM
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


async def towns_within_reach(session: AsyncSession, town_id: int,
                             reach_km: float = REACH_KM) -> dict[int, tuple[float, bool]]:
    """town id -> (km from the job's town, same district) for towns within reach."""
    place = await session.get(Area, town_id)
    towns = await session.scalars(
        select(Area).where(Area.market_id == place.market_id, Area.kind == "town")
    )
    reach = {}
    for town in towns:
        km = 0.0 if town.id == place.id else km_between(place, town)
        if km <= reach_km:
            reach[town.id] = (round(km, 1), town.parent_id == place.parent_id)
    return reach


def _smaller(a, b):
    return case((a < b, a), else_=b)


def _score_parts(reach: dict[int, tuple[float, bool]], today: date) -> dict:
    nearness = case(
        {town: NEAR_POINTS - km + (SAME_DISTRICT_POINTS if same else 0)
         for town, (km, same) in reach.items()},
        value=Worker.town_id,
        else_=0,
    )
    rating = case((Worker.rating_avg.is_(None), 0), else_=(Worker.rating_avg - 3) * 5)
    reliability = _smaller(Worker.jobs_completed, 10) * 2 - Worker.no_shows * 10 + rating
    priority = case((Worker.priority_group, PRIORITY_POINTS), else_=0)
    fairness = case(
        (Worker.last_hired_day.is_(None), NEVER_HIRED_POINTS),
        else_=_smaller(literal(day_number(today)) - Worker.last_hired_day, FAIRNESS_CAP_DAYS)
        * 0.5,
    )
    return {"nearness": nearness, "reliability": reliability, "priority": priority,
            "fairness": fairness}


async def match_line(session: AsyncSession, job: Job, line: JobLine, *, limit: int,
                     today: date, start_day: date,
                     reach: dict[int, tuple[float, bool]]) -> list[Match]:
    parts = _score_parts(reach, today)
    total = sum(parts.values())
    overlapping_hold = (
        select(Offer.id)
        .join(Job, Job.id == Offer.job_id)
        .where(Offer.worker_id == Worker.id, Offer.status.in_(HELD), Job.id != job.id,
               Job.start_at < job.end_at, Job.end_at > job.start_at)
    )
    query = (
        select(Worker.id, Worker.phone, Worker.alert_channel, total.label("score"),
               *(expr.label(name) for name, expr in parts.items()))
        # The trade is the selective condition: start from its workers (a join, so the
        # planner can drive from the trade index rather than test every worker in reach).
        .join(WorkerTrade, and_(WorkerTrade.worker_id == Worker.id,
                                WorkerTrade.trade_id == line.trade_id))
        .where(
            Worker.status == "active",
            Worker.town_id.in_(list(reach)),
            ~exists().where(OptOut.phone == Worker.phone, OptOut.opted_out),
            or_(Worker.availability.is_(None), Worker.availability != "not_now"),
            or_(Worker.available_from.is_(None), Worker.available_from <= start_day),
            or_(Worker.day_wage_fen.is_(None), Worker.day_wage_fen <= line.day_wage_fen),
            ~exists().where(and_(Offer.job_id == job.id, Offer.worker_id == Worker.id)),
            ~overlapping_hold.exists(),
        )
        .order_by(total.desc(), Worker.id)
        .limit(limit)
    )
    return [
        Match(row.id, row.phone, row.alert_channel, line.id, round(float(row.score), 1),
              {name: round(float(getattr(row, name)), 1) for name in parts})
        for row in await session.execute(query)
    ]
