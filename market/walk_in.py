"""A worker registered or corrected at the window, by an agent, for someone who walked in:
the same checks as on the phone (a real mobile number, the market's trades and towns, a
day wage in the hotline's range, a valid ID number), the same profile written the same
way (market.workers), and the same registration SMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from basics.identity import is_valid_id_number
from basics.phones import InvalidPhoneNumber, to_e164
from basics.profile_limits import NAME_MAX, WAGE_MAX_YUAN, WAGE_MIN_YUAN
from market.jobs import Conflict, MarketError, NotFound
from market.workers import complete_registration, save_profile, store_id_number, worker_number
from prompts.catalogue import Catalogue
from store.models import Area, AuditEntry, Trade, Worker
from store.statuses import AreaKind, Availability, Channel, WorkerStatus


@dataclass(frozen=True)
class Profile:
    """What the window's form holds; None leaves a field as it is (when editing)."""

    name: str | None = None
    trades: tuple[str, ...] | None = None  # trade codes
    town_id: int | None = None
    day_wage_yuan: int | None = None
    availability: str | None = None
    alert_channel: str | None = None
    id_number: str | None = None  # in clear only here; kept as a keyed hash


async def register(session: AsyncSession, phone: str, profile: Profile, *, market_id: int,
                   id_hash_key: str, catalogue: Catalogue, hotline: str, agent: str,
                   now: datetime, today: date) -> Worker:
    """A new worker, active at once, told their worker number by SMS. The worker agreed
    at the window: the consent is the agent's, recorded in the audit log."""
    try:
        phone = to_e164(phone)
    except InvalidPhoneNumber:
        raise MarketError("phone", "not_mobile") from None
    existing = await session.scalar(select(Worker).where(Worker.phone == phone))
    if existing is not None:
        raise Conflict("phone", "worker_exists", number=worker_number(existing))
    missing = [name for name in ("trades", "town_id", "day_wage_yuan", "availability")
               if getattr(profile, name) is None]
    if missing:
        raise MarketError(missing[0], "needed_for_worker")
    worker = Worker(market_id=market_id, phone=phone, status=WorkerStatus.REGISTERING,
                    created_at=now, consent_at=now, trades=[])
    session.add(worker)
    await session.flush()
    session.add(AuditEntry(at=now, actor=agent, action="consent_given", subject=phone,
                           detail={"at": "window"}))
    await _apply(session, worker, profile, market_id=market_id, id_hash_key=id_hash_key,
                 today=today)
    await complete_registration(session, worker, catalogue=catalogue, hotline=hotline,
                                now=now)
    return worker


async def correct(session: AsyncSession, worker_id: int, profile: Profile, *, market_id: int,
                  id_hash_key: str, agent: str, now: datetime, today: date) -> Worker:
    worker = await session.scalar(
        select(Worker).options(selectinload(Worker.trades))
        .where(Worker.id == worker_id, Worker.market_id == market_id))
    if worker is None:
        raise NotFound("worker", worker_id)
    changed = await _apply(session, worker, profile, market_id=market_id,
                           id_hash_key=id_hash_key, today=today)
    session.add(AuditEntry(at=now, actor=agent, action="worker_corrected",
                           subject=f"worker:{worker.id}", detail={"fields": changed}))
    return worker


async def _apply(session: AsyncSession, worker: Worker, profile: Profile, *, market_id: int,
                 id_hash_key: str, today: date) -> list[str]:
    """Checks every given field first, then writes them: a form with one bad field
    changes nothing. Returns the names of the fields written."""
    fields: dict = {}
    if profile.name is not None:
        name = profile.name.strip()
        if not name or len(name) > NAME_MAX:
            raise MarketError("name", "name_length", most=NAME_MAX)
    if profile.trades is not None:
        known = set(await session.scalars(select(Trade.code).where(
            Trade.market_id == market_id, Trade.code.in_(profile.trades))))
        unknown = [code for code in profile.trades if code not in known]
        if not profile.trades or unknown:
            raise (MarketError("trades", "unknown_trade", trade=unknown[0]) if unknown
                   else MarketError("trades", "at_least_one_trade"))
        fields["trades"] = list(profile.trades)
    if profile.town_id is not None:
        town = await session.get(Area, profile.town_id)
        if town is None or town.kind != AreaKind.TOWN or town.market_id != market_id:
            raise MarketError("town_id", "no_town_here", ident=profile.town_id)
        fields["town_id"], fields["district_id"] = town.id, town.parent_id
    if profile.day_wage_yuan is not None:
        if not WAGE_MIN_YUAN <= profile.day_wage_yuan <= WAGE_MAX_YUAN:
            raise MarketError("day_wage_yuan", "day_wage_range",
                              low=WAGE_MIN_YUAN, high=WAGE_MAX_YUAN)
        fields["day_wage_fen"] = profile.day_wage_yuan * 100
    if profile.availability is not None:
        if profile.availability not in set(Availability):
            raise MarketError("availability", "one_of", choices=", ".join(Availability))
        fields["availability"] = profile.availability
    if profile.alert_channel is not None:
        if profile.alert_channel not in set(Channel):
            raise MarketError("alert_channel", "one_of", choices=", ".join(Channel))
        fields["alert_channel"] = profile.alert_channel
    if profile.id_number is not None and not is_valid_id_number(profile.id_number):
        raise MarketError("id_number", "id_number")

    await save_profile(session, worker, fields, market_id=market_id, today=today)
    written = sorted(fields.keys() - {"district_id"})
    if profile.name is not None:
        worker.name = profile.name.strip()
        written.append("name")
    if profile.id_number is not None:
        store_id_number(worker, profile.id_number, id_hash_key)
        written.append("id_number")
    return written
