"""Who may take which job line, and who gets a job alert: eligible workers, ranked, with
the score's parts kept for agents.

Eligible (`eligible_pairs`, the one rule for alerts and for the offers a caller hears):
the job is open, not started, of a verified employer whose alerts are not held, with a
slot free; the worker is active, registered for the trade, not opted out, available by
the start date, not holding a slot on a job whose days overlap, living within reach and
asking no more than the offer (an unknown wage counts as willing). An alert also goes
only to workers not offered this job before. Ranked by nearness (same town, then
district, then distance), reliability, priority group (就业困难人员 first) and fairness
(days since the last hire).

`match_line` reads few rows however many workers the trade has: a worker's own part of
the score (reliability and priority) is `Worker.match_rank`, kept by the database and
copied with his town to each of his trades, where `ix_worker_trades_match` orders a
trade's workers by town and rank; the rest of the score is at most the town's nearness
plus the fairness cap. The trade's best ranked eligible workers in the job's own town
give a score the K-th best must reach; only the trade's workers whose rank could reach
it, in each town within reach, are then scored. When that town holds too few eligible
workers of the trade, the trade's workers within reach are all scored, read from the same
index."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.listed import InListed
from store.models import Area, Employer, Job, JobLine, Offer, OptOut, Worker, WorkerTrade
from store.repo import Executor, engine_of
from store.statuses import (
    HOLDING_A_SLOT,
    AreaKind,
    Availability,
    Channel,
    JobStatus,
    Verification,
    WorkerStatus,
)

REACH_KM = 60.0
EPOCH = date(1970, 1, 1)
# Points for each part of the score (higher ranks first).
NEAR_POINTS = 40  # minus one a kilometre
SAME_DISTRICT_POINTS = 10
PRIORITY_POINTS = 15
FAIRNESS_CAP_DAYS = 30
NEVER_HIRED_POINTS = 15
FAIRNESS_MOST = max(NEVER_HIRED_POINTS, FAIRNESS_CAP_DAYS * 0.5)
# How far down the trade's ranks in the nearest town the narrowing looks, per worker the
# wave wants: room for the ineligible (not available, asking more, offered before) among
# the best ranked, few enough that the sample costs less than the rows it saves.
SAMPLE_PER_WORKER = 6
# Below float rounding of scores near 100, far below the 0.1 the score is rounded to.
ROUNDING = 1e-6


@dataclass(frozen=True)
class Match:
    worker_id: int
    phone: str
    alert_channel: Channel | None
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


# Towns within reach, per database and (town, km). A market's towns are stored with the
# market, in one transaction (market.seed.ensure_market), and never change afterwards, so
# each town's reach is measured once a process, not on every accept and every wave.
_reach_known: WeakKeyDictionary[Engine, dict[tuple[int, float], dict[int, tuple[float, bool]]]] = (
    WeakKeyDictionary())


async def towns_within_reach(executor: Executor, town_id: int,
                             reach_km: float = REACH_KM) -> dict[int, tuple[float, bool]]:
    """town id -> (km from the job's town, same district) for towns within reach."""
    known = _reach_known.setdefault(engine_of(executor), {})
    reach = known.get((town_id, reach_km))
    if reach is None:
        reach = known[town_id, reach_km] = await _measure_reach(executor, town_id, reach_km)
    return dict(reach)  # the caller's own: the kept one stays as measured


async def _measure_reach(executor: Executor, town_id: int,
                         reach_km: float) -> dict[int, tuple[float, bool]]:
    areas = Area.__table__
    place = (await executor.execute(select(areas).where(areas.c.id == town_id))).one()
    towns = await executor.execute(select(areas).where(
        areas.c.market_id == place.market_id, areas.c.kind == AreaKind.TOWN))
    reach = {}
    for town in towns:
        km = 0.0 if town.id == place.id else km_between(place, town)
        if km <= reach_km:
            reach[town.id] = (round(km, 1), town.parent_id == place.parent_id)
    return reach


def _smaller(a, b):
    return case((a < b, a), else_=b)


def _nearness(reach: dict[int, tuple[float, bool]]) -> dict[int, float]:
    return {town: NEAR_POINTS - km + (SAME_DISTRICT_POINTS if same else 0)
            for town, (km, same) in reach.items()}


def _score_parts(reach: dict[int, tuple[float, bool]], today: date) -> dict:
    nearness = case(_nearness(reach), value=Worker.town_id, else_=0)
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


def open_to_workers(now: datetime) -> ColumnElement[bool]:
    """The job's side of `eligible_pairs` (over Job and its Employer): a job any worker
    may be offered. The hall's board shows the same jobs the hotline offers."""
    return and_(
        Job.status == JobStatus.OPEN,
        Job.start_at > now,
        Employer.verification == Verification.VERIFIED,
        Employer.alerts_held.is_(False),
    )


def has_free_slot() -> ColumnElement[bool]:
    """A line with a slot not yet taken (an accepted or confirmed offer counts in `filled`)."""
    return JobLine.filled < JobLine.headcount


def eligible_pairs(*columns, now: datetime, reach: ColumnElement[bool],
                   available: ColumnElement[bool], slots_and_days: bool = True) -> Select:
    """(worker, job line) pairs where the worker may take the line. The matcher fixes the
    line and the hotline's offer list the worker; `reach` and `available` say the same
    rule from the fixed side (`for_line` / `for_worker`), as only that side is known in
    Python (the distance between towns and the market's calendar day). Without
    `slots_and_days`, a full line or an overlapping hire does not count against the pair:
    a refused worker is then told which of the two stopped them."""
    other = aliased(Job)
    overlapping_hold = (
        select(Offer.id)
        .join(other, other.id == Offer.job_id)
        .where(Offer.worker_id == Worker.id, Offer.status.in_(HOLDING_A_SLOT), other.id != Job.id,
               other.start_at < Job.end_at, other.end_at > Job.start_at)
    )
    query = (
        select(*columns)
        .select_from(Worker)
        # The trade is the selective condition: join through it, so the planner drives
        # from the trade index (a line's workers) or the worker's trades (a worker's lines).
        .join(WorkerTrade, WorkerTrade.worker_id == Worker.id)
        .join(JobLine, JobLine.trade_id == WorkerTrade.trade_id)
        .join(Job, Job.id == JobLine.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .where(
            open_to_workers(now),
            Worker.status == WorkerStatus.ACTIVE,
            reach,
            available,
            ~exists().where(OptOut.phone == Worker.phone, OptOut.opted_out),
            or_(Worker.availability.is_(None), Worker.availability != Availability.NOT_NOW),
            or_(Worker.day_wage_fen.is_(None), Worker.day_wage_fen <= JobLine.day_wage_fen),
        )
    )
    if slots_and_days:
        query = query.where(has_free_slot(), ~overlapping_hold.exists())
    return query


def for_line(line: JobLine, reach: dict[int, tuple[float, bool]], start_day: date,
             lives: ColumnElement[bool] | None = None) -> dict[str, ColumnElement[bool]]:
    """`eligible_pairs`' reach and availability seen from one job line; `lives` narrows
    where the worker lives to part of the reach."""
    return {
        "reach": and_(JobLine.id == line.id,
                      Worker.town_id.in_(list(reach)) if lives is None else lives),
        "available": or_(Worker.available_from.is_(None), Worker.available_from <= start_day),
    }


def for_worker(worker: Worker, reach: dict[int, tuple[float, bool]],
               timezone: str) -> dict[str, ColumnElement[bool]]:
    """`eligible_pairs`' reach and availability seen from one worker: available from a
    day means the job starts on or after that day's midnight in the market."""
    available = true()
    if worker.available_from is not None:
        midnight = datetime.combine(worker.available_from, datetime.min.time(),
                                    ZoneInfo(timezone))
        available = Job.start_at >= midnight
    return {"reach": and_(Worker.id == worker.id, Job.town_id.in_(list(reach))),
            "available": available}


def for_a_worker() -> dict[str, ColumnElement[bool]]:
    """`for_worker` with the worker left as bound parameters, for a statement built once:
    `worker_id`, `towns` (ids within reach of where they live) and `available_from`
    (`for_worker_params`)."""
    midnight = bindparam("available_from", type_=Job.start_at.type)
    return {"reach": and_(Worker.id == bindparam("worker_id"),
                          InListed(Job.town_id, "towns")),
            # A worker available any day leaves the parameter empty.
            "available": Job.start_at >= func.coalesce(midnight, Job.start_at)}


def for_worker_params(worker, reach: dict[int, tuple[float, bool]], timezone: str) -> dict:
    """The parameters of `for_a_worker` for one worker (anything with a worker's `id` and
    `available_from`)."""
    midnight = None
    if worker.available_from is not None:
        midnight = datetime.combine(worker.available_from, datetime.min.time(),
                                    ZoneInfo(timezone))
    return {"worker_id": worker.id, "towns": list(reach), "available_from": midnight}


async def match_line(session: AsyncSession, job: Job, line: JobLine, *, limit: int,
                     now: datetime, today: date, start_day: date,
                     reach: dict[int, tuple[float, bool]],
                     narrow: bool = True) -> list[Match]:
    """The `limit` best eligible workers for the line, best first (ties: the lower id).
    `narrow` only chooses how they are found (see the module's doc), never who: False
    scores every eligible worker of the trade within reach."""
    parts = _score_parts(reach, today)
    total = sum(parts.values())

    def pairs(*columns, lives: ColumnElement[bool] | None = None) -> Select:
        return (
            eligible_pairs(*columns, now=now, **for_line(line, reach, start_day, lives))
            .where(~exists().where(and_(Offer.job_id == job.id, Offer.worker_id == Worker.id)))
        )

    lives = None
    if narrow and limit > 0 and reach:
        lives = await _who_could_be_among_the_best(session, pairs, total, line, reach, limit)
    query = (
        pairs(Worker.id, Worker.phone, Worker.alert_channel, total.label("score"),
              *(expr.label(name) for name, expr in parts.items()), lives=lives)
        .order_by(total.desc(), Worker.id)
        .limit(limit)
    )
    return [
        Match(row.id, row.phone, row.alert_channel, line.id, round(float(row.score), 1),
              {name: round(float(getattr(row, name)), 1) for name in parts})
        for row in await session.execute(query)
    ]


async def _who_could_be_among_the_best(session: AsyncSession, pairs, total, line: JobLine,
                                      reach: dict[int, tuple[float, bool]],
                                      limit: int) -> ColumnElement[bool]:
    """The workers of the line's trade who could be among the `limit` best, as a condition
    on their `WorkerTrade` row: each a range of `ix_worker_trades_match` (trade, town,
    rank), so the rows read are bounded by the trade and the reach, not the register.

    The `limit` best of any eligible workers score at least `floor` (the lowest of them),
    so the `limit` best of all do too: here, the eligible among the trade's best ranked in
    the nearest town. A worker scores at most his town's nearness + `match_rank` +
    `FAIRNESS_MOST`: one whose rank keeps that below `floor` cannot be among the best.
    Too few eligible in that sample (a thin trade there): the trade within reach."""
    nearness = _nearness(reach)
    nearest = max(nearness, key=nearness.__getitem__)
    trade = WorkerTrade.trade_id == line.trade_id
    within_reach = and_(trade, WorkerTrade.town_id.in_(list(reach)))
    # The rank of the sample's last worker, read first so that each statement below is a
    # range of the index with its bounds written in, which both planners walk as such.
    lowest = await session.scalar(
        select(WorkerTrade.match_rank).where(trade, WorkerTrade.town_id == nearest)
        .order_by(WorkerTrade.match_rank.desc())
        .offset(SAMPLE_PER_WORKER * limit - 1).limit(1))
    sample = and_(trade, WorkerTrade.town_id == nearest)
    if lowest is not None:
        sample = and_(sample, WorkerTrade.match_rank >= lowest)
    scores = list(await session.scalars(
        pairs(total.label("score"), lives=sample).order_by(total.desc()).limit(limit)))
    if len(scores) < limit:
        return within_reach
    floor = float(min(scores))
    # The trade inside each term: SQLite walks an OR of ranges only if each term is one.
    return or_(*(
        and_(trade, WorkerTrade.town_id == town,
             WorkerTrade.match_rank >= floor - near - FAIRNESS_MOST - ROUNDING)
        for town, near in nearness.items()))
