"""The SMS a job's people get: alerts, changes, cancellations. Facts are read once per
job and rendered from the catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.outbox import PRIORITY_ALERT, PRIORITY_NOTICE, Sms, enqueue_sms
from prompts.catalogue import Catalogue
from store.models import Area, Employer, Hire, Job, JobLine, Offer, Trade, Worker
from store.statuses import HOLDING_A_SLOT, Channel, HireStatus, OfferStatus


@dataclass(frozen=True)
class LineFacts:
    code: str
    trade: str
    wage_fen: int
    days: int
    place: str  # the town
    address: str
    start: str  # as read: 11月25日 07:00
    daily_pay: bool
    employer: str
    employer_phone: str


def worker_label(worker: Worker) -> str:
    return worker.name or f"工号{worker.id:06d}"


def start_text(start_at: datetime, timezone: str, catalogue: Catalogue) -> str:
    local = start_at.astimezone(ZoneInfo(timezone))
    day = catalogue.text("date", month=local.month, day=local.day)
    return f"{day}{local:%H:%M}"


async def line_facts(session: AsyncSession, line_id: int, *, timezone: str,
                     catalogue: Catalogue) -> LineFacts:
    """Read once per transaction: a wave alerting 30 workers words 30 SMS from it."""
    cache = session.info.setdefault("line_facts", {})
    key = (line_id, timezone, catalogue.language)
    if key not in cache:
        row = (await session.execute(_FACTS.where(JobLine.id == line_id))).one()
        cache[key] = facts_of(row, timezone=timezone, catalogue=catalogue)
    return cache[key]


async def lines_facts(session: AsyncSession, line_ids: Iterable[int], *, timezone: str,
                      catalogue: Catalogue) -> dict[int, LineFacts]:
    """`line_facts` of many lines by line id, those not read in this transaction yet in
    one query: a sweep words a batch's SMS about a hundred jobs from it."""
    cache = session.info.setdefault("line_facts", {})
    wanted = set(line_ids)
    missing = [n for n in wanted if (n, timezone, catalogue.language) not in cache]
    if missing:
        for row in await session.execute(_FACTS_BY_ID.where(JobLine.id.in_(missing))):
            cache[(row.id, timezone, catalogue.language)] = facts_of(
                row[1:], timezone=timezone, catalogue=catalogue)
    return {n: cache[(n, timezone, catalogue.language)] for n in wanted}


def facts_read(*columns) -> Select:
    """`columns`, then a line's facts (as `facts_of` takes them), from the line joined to
    its job, trade, town and employer."""
    return (select(*columns, Job.code, Trade.name.label("trade"), JobLine.day_wage_fen,
                   Job.days, Area.name.label("town"), Job.address, Job.start_at, Job.daily_pay,
                   Employer.name.label("employer"), Employer.phone.label("employer_phone"))
            .select_from(JobLine)
            .join(Job, Job.id == JobLine.job_id)
            .join(Trade, Trade.id == JobLine.trade_id)
            .join(Area, Area.id == Job.town_id)
            .join(Employer, Employer.id == Job.employer_id))


_FACTS, _FACTS_BY_ID = facts_read(), facts_read(JobLine.id)


def facts_of(values: Sequence, *, timezone: str, catalogue: Catalogue) -> LineFacts:
    """The facts of `facts_read`'s columns."""
    code, trade, wage_fen, days, town, address, start_at, daily_pay, employer, phone = values
    return LineFacts(code, trade, wage_fen, days, town, address,
                     start_text(start_at, timezone, catalogue), daily_pay, employer, phone)


async def enqueue_alert(session: AsyncSession, offer: Offer, phone: str, *,
                        preference: Channel | None, catalogue: Catalogue, timezone: str,
                        now: datetime) -> None:
    """The alert for one offer: an SMS, or an automated call for workers who cannot read
    (their preference); workers who never chose get an SMS."""
    facts = await line_facts(session, offer.job_line_id, timezone=timezone,
                             catalogue=catalogue)
    message = alert_message(offer.id, phone, preference, facts, catalogue)
    await enqueue_sms(session, dedupe_key=message.dedupe_key, phone=phone, body=message.body,
                      kind=message.kind, priority=message.priority, now=now,
                      channel=message.channel)
    offer.alerted_at, offer.alert_hold_until = now, None


def alert_message(offer_id: int, phone: str, preference: Channel | None, facts: LineFacts,
                  catalogue: Catalogue) -> Sms:
    """The outbox message alerting a worker to an offer (`enqueue_alert`'s, for a batch)."""
    channel = Channel.CALL if preference == Channel.CALL else Channel.SMS
    if channel == Channel.CALL:
        body = f"alert?offer={offer_id}"  # the call's subject: the carrier rings about it
    else:
        body = catalogue.text("sms_alert", trade=facts.trade, wage=catalogue.yuan(facts.wage_fen),
                              days=facts.days, place=facts.place, start=facts.start,
                              code=facts.code)
    return Sms(f"alert:{offer_id}", phone, body, "alert", PRIORITY_ALERT, channel)


async def tell_holders(session: AsyncSession, job: Job, prompt_id: str, *,
                       catalogue: Catalogue, timezone: str, now: datetime, release: bool,
                       dedupe: str = "") -> int:
    """SMS every worker holding a slot on the job; with `release`, their slots end too."""
    holders = list(await session.execute(
        select(Offer, Worker.phone).join(Worker, Worker.id == Offer.worker_id)
        .where(Offer.job_id == job.id, Offer.status.in_(HOLDING_A_SLOT))
    ))
    for offer, phone in holders:
        facts = await line_facts(session, offer.job_line_id, timezone=timezone,
                                 catalogue=catalogue)
        body = catalogue.text(prompt_id, code=facts.code, trade=facts.trade, start=facts.start,
                              address=facts.address)
        await enqueue_sms(session, dedupe_key=f"{prompt_id}:{offer.id}{dedupe}", phone=phone,
                          body=body, kind=prompt_id, priority=PRIORITY_NOTICE, now=now)
        if release:
            offer.status, offer.decided_at = OfferStatus.CANCELLED, now
            await session.execute(update(Hire).where(Hire.offer_id == offer.id)
                                  .values(status=HireStatus.CANCELLED))
    return len(holders)
