"""Scenario 3: a crowd accepts one line with 10 slots, all at once.

Direct: 1,000 workers each run reserve_slot in their own session and transaction (as
tests/test_offers.py does), started together with asyncio.gather. HTTP: 1,000 signed
"J<id>" SMS webhooks posted together to /twilio/sms of a running hotline. Either way
exactly 10 must win. A caller's latency is from the common start to its own answer, so
it includes queueing for a pooled connection and for the line's row lock: what a worker
in the crowd would wait."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time as clock
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from twilio.request_validator import RequestValidator

from basics.clock import market_today
from bench.hire_hotline import free_port, hotline_env, serving_hotline
from bench.hire_population import Market
from bench.hire_stats import summary_ms
from bench.procstat import grown, named_cpu, tree_cpu
from bench.servers import ServerProcess
from gigline.settings import Settings
from market import jobs
from market.matching import eligible_pairs, for_line, towns_within_reach
from market.offers import RESERVED, reserve_slot
from market.workers import load_worker
from prompts.catalogue import load_catalogue
from store.models import Job, JobLine, Offer, OutboundSms, Worker, WorkerTrade
from store.statuses import HOLDING_A_SLOT

SLOTS = 10
TRADE = "porter"
CATALOGUE = load_catalogue("zh-CN")


async def crowd_job(sessions: async_sessionmaker, market: Market, now: datetime) -> Job:
    """A 搬运 job with 10 slots tomorrow, out of the wave schedule (no alerts)."""
    zone = ZoneInfo(market.timezone)
    start = datetime.combine(market_today(now, market.timezone) + timedelta(days=1), time(7),
                             zone)
    spec = jobs.JobSpec(employer_id=market.employer_id,
                        lines=(jobs.LineSpec(TRADE, SLOTS, 20000),), start_at=start, days=1,
                        daily_pay=True, town_id=market.towns["东郭镇"][0], address="物流园")
    async with sessions() as session, session.begin():
        job = await jobs.post_job(session, spec, market_id=market.id, agent="bench", now=now)
        job.next_wave_at = None
        return job


async def crowd_phones(sessions: async_sessionmaker, market: Market, count: int) -> list[str]:
    """Active 搬运 workers holding no slot anywhere, so every one of them may take it
    (a later crowd leaves out an earlier one's winners by the same rule)."""
    holds = select(Offer.id).where(Offer.worker_id == Worker.id, Offer.status.in_(HOLDING_A_SLOT))
    async with sessions() as session:
        return list(await session.scalars(
            select(Worker.phone).join(WorkerTrade, WorkerTrade.worker_id == Worker.id)
            .where(WorkerTrade.trade_id == market.trade_ids[TRADE], Worker.status == "active",
                   ~holds.exists())
            .order_by(Worker.id).limit(count)))


async def _outcome(sessions: async_sessionmaker, job_id: int) -> tuple[int, int]:
    async with sessions() as session:
        filled = await session.scalar(select(JobLine.filled).where(JobLine.job_id == job_id))
        accepted = await session.scalar(select(func.count()).select_from(Offer).where(
            Offer.job_id == job_id, Offer.status.in_(HOLDING_A_SLOT)))
    return filled, accepted


async def direct_race(sessions: async_sessionmaker, market: Market, now: datetime,
                      crowd: int) -> dict:
    job = await crowd_job(sessions, market, now)
    async with sessions() as session:
        line_id = await session.scalar(select(JobLine.id).where(JobLine.job_id == job.id))
    phones = await crowd_phones(sessions, market, crowd)
    today = market_today(now, market.timezone)
    start, cpu = clock.perf_counter(), clock.process_time()

    async def accept(phone: str) -> tuple[bool, float]:
        async with sessions() as session, session.begin():
            worker = await load_worker(session, phone)
            took = await reserve_slot(session, worker, line_id, channel="sms", now=now,
                                      today=today, timezone=market.timezone,
                                      catalogue=CATALOGUE)
        return took == RESERVED, clock.perf_counter() - start

    results = await asyncio.gather(*(accept(p) for p in phones), return_exceptions=True)
    total, cpu = clock.perf_counter() - start, clock.process_time() - cpu
    done = [r for r in results if not isinstance(r, BaseException)]
    errors = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    filled, held = await _outcome(sessions, job.id)
    return {
        "crowd": len(phones), "slots": SLOTS, "won": sum(took for took, _ in done),
        "line_filled": filled, "offers_held": held, "errors": dict(errors),
        # Every caller answered, and exactly 10 of them with a slot.
        "exactly_10": sum(took for took, _ in done) == filled == held == SLOTS and not errors,
        "latency": summary_ms(s for _, s in done), "total_s": round(total, 2),
        # CPU this process used meanwhile: near total_s means Python, not the database,
        # set the pace (one event loop; SQLite's driver threads are counted too).
        "process_cpu_s": round(cpu, 2),
        "cpu_ms_per_accept": round(cpu * 1000 / max(len(phones), 1), 2),
    }


CROWDS = ("first", "second")  # after the server starts; then with its connections in use


async def http_race(database_url: str, sessions: async_sessionmaker, market: Market,
                    now: datetime, crowd: int, *, serve_workers: int = 1) -> dict[str, dict]:
    """The same crowd through the front door: signed SMS webhooks to `gigline serve` in its
    own process(es), as a carrier's would reach it; this process only sends them. Two
    crowds, each on a job of its own: one that meets a server just started (its database
    connections opened and PostgreSQL's plans made for it), and one that meets it in
    service. The same crowd also goes to a bare aiohttp handler (`bench/servers.py bare`:
    Gigline's empty answer, nothing read), which measures the host's speed in the same
    run."""
    env = hotline_env(database_url, scheduler=False, outbox_interval=2)
    settings = Settings.from_env(env)
    url = f"{settings.public_url}/twilio/sms"
    races = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     trace_configs=[_sending_times()]) as http:
        races["bare"] = await _bare_crowd(http, settings, crowd)
        async with serving_hotline(env, serve_workers) as server:
            for name in CROWDS:
                races[name] = await _sms_crowd(http, url, settings, server, sessions, market,
                                               now, crowd, serve_workers=serve_workers)
    return races


def _signed_forms(url: str, settings: Settings, phones: list[str], body: str) -> list:
    validator = RequestValidator(settings.auth_token)
    forms = []
    for phone in phones:
        params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": settings.account_sid,
                  "From": phone, "To": settings.sms_from_number, "Body": body,
                  "NumSegments": "1", "ApiVersion": "2010-04-01"}
        forms.append((params, {"X-Twilio-Signature": validator.compute_signature(url, params)}))
    return forms


async def _send_crowd(http: aiohttp.ClientSession, url: str, forms: list,
                      server: int, database: str | None = None) -> tuple[list, dict]:
    """Posts every form at once: each answer's (status, seconds from its request's send,
    its send from the common start), and the timings of the whole crowd. `database`:
    PostgreSQL's database name, whose backends' CPU is counted too (they share the
    cores)."""
    backends = named_cpu("postgres", f" {database} ") if database else {}
    start, cpu, server_cpu = clock.perf_counter(), clock.process_time(), tree_cpu(server)

    async def text_in(params: dict, headers: dict) -> tuple[int, float, float]:
        sent = {}
        async with http.post(url, data=params, headers=headers,
                             trace_request_ctx=sent) as response:
            await response.read()
            answered = clock.perf_counter()
            return response.status, answered - sent["at"], sent["at"] - start

    results = await asyncio.gather(*(text_in(*form) for form in forms), return_exceptions=True)
    total, cpu = clock.perf_counter() - start, clock.process_time() - cpu
    server_cpu = tree_cpu(server) - server_cpu
    database_cpu = grown(backends, named_cpu("postgres", f" {database} ")) if database else None
    done = [r for r in results if not isinstance(r, BaseException)]
    statuses = Counter(str(status) for status, _, _ in done)
    statuses.update(type(r).__name__ for r in results if isinstance(r, BaseException))
    return done, {
        "http_statuses": dict(statuses),
        # From each webhook's request on the wire to its answer read: what a worker waits
        # once the carrier posts their SMS. The sender is one Python process: it prepares,
        # connects and sends 1,000 requests over a few hundred ms, a wait a carrier's many
        # senders would not add. Timed from the common start too, beside it.
        "latency": summary_ms(waited for status, waited, _ in done if status == 200),
        "from_common_start": summary_ms(
            sent + waited for status, waited, sent in done if status == 200),
        "sent_ms": summary_ms(sent for _, _, sent in done),
        "total_s": round(total, 2),
        "server_cpu_s": round(server_cpu, 2),
        "cpu_ms_per_accept": round(server_cpu * 1000 / max(len(forms), 1), 2),
        "client_cpu_s": round(cpu, 2),  # the carrier's side: this process sending them
        **({"database_cpu_s": round(database_cpu, 2)} if database else {}),
    }


async def _bare_crowd(http: aiohttp.ClientSession, settings: Settings, crowd: int) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}/twilio/sms"
    phones = [f"+86139{n:08d}" for n in range(crowd)]
    with tempfile.TemporaryDirectory() as tmp:
        bare = ServerProcess("bare", ["bare", str(port)], dict(os.environ),
                             f"http://127.0.0.1:{port}", Path(tmp) / "bare.log")
        await bare.start()
        try:
            done, timings = await _send_crowd(
                http, url, _signed_forms(url, settings, phones, "J1"), bare.pid)
        finally:
            bare.stop()
    return {"crowd": crowd, "server_processes": 1, **timings,
            "all_answered": len(done) == crowd and timings["http_statuses"] == {"200": crowd}}


async def _sms_crowd(http: aiohttp.ClientSession, url: str, settings: Settings, server: int,
                     sessions: async_sessionmaker, market: Market, now: datetime, crowd: int,
                     *, serve_workers: int) -> dict:
    job = await crowd_job(sessions, market, now)
    phones = await crowd_phones(sessions, market, crowd)
    forms = _signed_forms(url, settings, phones, job.code)
    async with sessions() as session:
        before = await session.scalar(select(func.max(OutboundSms.id))) or 0
    url_of_db = make_url(settings.database_url)
    database = url_of_db.database if url_of_db.get_backend_name() == "postgresql" else None
    _, timings = await _send_crowd(http, url, forms, server, database)
    filled, held = await _outcome(sessions, job.id)
    answers = await _answers(sessions, phones, job, now, market.timezone,
                             after_id=before)
    return {
        "crowd": len(phones), "slots": SLOTS, "line_filled": filled, "offers_held": held,
        "answers": answers,
        # Exact fill, and every caller answered once with the truth: 10 held places, "full"
        # for the other workers the line was open to, "not open" for the rest.
        "exactly_10": filled == held == answers["reserved"] == SLOTS
        and answers["full"] == answers["eligible"] - SLOTS
        and answers["not_open"] == len(phones) - answers["eligible"]
        and answers["phones_answered_once"] and answers["winners_eligible"]
        and timings["http_statuses"] == {"200": len(phones)},
        "server_processes": serve_workers,
        **timings,
    }


def _sending_times() -> aiohttp.TraceConfig:
    """Notes in each request's trace context when its request went on the wire."""

    async def headers_sent(_session, context, _params) -> None:
        context.trace_request_ctx["at"] = clock.perf_counter()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    return trace


async def _answers(sessions: async_sessionmaker, phones: list[str], job: Job, now: datetime,
                   timezone: str, *, after_id: int) -> dict:
    """What the outbox gained for the crowd during the race: held-place SMS, "already
    full" replies, "not open to you" replies, anything else, whether every phone got
    exactly one; and how many of the crowd the line was open to, by the matcher's rule
    (`eligible_pairs`, slots aside), to hold the answers against."""
    full = CATALOGUE.text("sms_already_full", code=job.code)
    # "full; J12 still has places" for a worker alerted to another job meanwhile
    full_next = CATALOGUE.text("sms_already_full_next", code=job.code, next="\0").split("\0")[0]
    # The hotline's number ends the refusal; the words before it say which job and why.
    not_open = CATALOGUE.text("sms_not_open", code=job.code, hotline="\0").split("\0")[0]
    async with sessions() as session:
        rows = (await session.execute(
            select(OutboundSms.phone, OutboundSms.kind, OutboundSms.body)
            .where(OutboundSms.phone.in_(phones), OutboundSms.id > after_id))).all()
        line = await session.scalar(select(JobLine).where(JobLine.job_id == job.id))
        reach = await towns_within_reach(session, job.town_id)
        start_day = job.start_at.astimezone(ZoneInfo(timezone)).date()
        eligible = set(await session.scalars(
            eligible_pairs(Worker.phone, now=now, slots_and_days=False,
                           **for_line(line, reach, start_day))
            .where(Worker.phone.in_(phones))))
    reserved = sum(kind == "offer_reserved" for _, kind, _ in rows)
    said_full = sum(kind == "reply" and (body == full or body.startswith(full_next))
                    for _, kind, body in rows)
    said_not_open = sum(kind == "reply" and body.startswith(not_open) for _, kind, body in rows)
    per_phone = Counter(phone for phone, _, _ in rows)
    return {"eligible": len(eligible), "reserved": reserved, "full": said_full,
            "not_open": said_not_open,
            "other": len(rows) - reserved - said_full - said_not_open,
            "phones_answered_once": len(per_phone) == len(phones)
            and set(per_phone.values()) == {1},
            "other_examples": sorted({body for _, kind, body in rows
                                      if kind != "offer_reserved" and body != full
                                      and not body.startswith((full_next, not_open))})[:3],
            "winners_eligible": all(phone in eligible for phone, kind, _ in rows
                                    if kind == "offer_reserved")}
