"""PostgreSQL goes away for a minute under mixed traffic, and nobody is let down: callers
hear an apology and are booked for a call back, no webhook answers 500, /healthz says
503 and then 200 again, every SMS that came in meanwhile is caught up, and a number
that texted TD during the outage gets nothing more.

    .venv/bin/python -m chaos.db_outage [--outage-seconds 60]

`gigline serve` runs as a real process; its database URL points at a TcpProxy in front
of a throwaway PostgreSQL database, and the proxy is cut (every connection reset, new
ones refused) for `--outage-seconds`. Throughout, a caller rings every second and
presses a key or two, and a phone texts in every half second. A message for one number
is queued straight into the database to fall due a few seconds into the outage; that
number texts TD while the database is away. The carrier reaches Gigline through a small
recording proxy, the stand-in for a load balancer, because the carrier keeps no record
of what its status callbacks were answered."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from chaos.harness import (
    free_port,
    local_carrier,
    start_gigline,
    stop,
    throwaway_database,
    write_result,
)
from chaos.tcp_proxy import TcpProxy
from market.outbox import OPT_OUT_ACK, enqueue_sms
from store.db import make_engine, make_sessionmaker
from store.models import CallbackRequest, CallSession, InboundSms, OutboundSms

OPTS_OUT = "+8613700000000"
CALLERS = [f"+8613900{n:06d}" for n in range(25)]
TEXTERS = [f"+8613600{n:06d}" for n in range(40)]
BODIES = ("有活吗", "1", "你好", "J101")  # none of them an opt-out word
APOLOGY = "故障"  # in the catalogue's "unavailable" prompt
DUE_INTO_OUTAGE = timedelta(seconds=5)
FORWARDED_HEADERS = ("Content-Type", "X-Twilio-Signature", "I-Twilio-Idempotency-Token",
                     "User-Agent")


class WebhookRecorder:
    """Forwards the carrier's webhooks to Gigline and notes (arrival, path, status) of
    each; status 0 means Gigline could not be reached at all."""

    def __init__(self, gigline_port: int):
        self.target = f"http://127.0.0.1:{gigline_port}"
        self.answers: list[tuple[float, str, int]] = []
        self._http: aiohttp.ClientSession

    @contextlib.asynccontextmanager
    async def serving(self, port: int):
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with aiohttp.ClientSession() as self._http:
            try:
                yield self
            finally:
                await runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        sent = {k: request.headers[k] for k in FORWARDED_HEADERS if k in request.headers}
        try:
            async with self._http.request(request.method, self.target + request.path_qs,
                                          data=await request.read(), headers=sent) as got:
                status, body = got.status, await got.read()
                kind = got.headers.get("Content-Type", "text/plain")
        except aiohttp.ClientError as exc:
            status, body, kind = 0, repr(exc).encode(), "text/plain"
        self.answers.append((arrived, request.path, status))
        return web.Response(status=status or 502, body=body, headers={"Content-Type": kind})


class Traffic:
    """Calls, texts and /healthz polls, each noted with monotonic times."""

    def __init__(self, carrier, gigline_port: int):
        self.carrier, self.healthz_url = carrier, f"http://127.0.0.1:{gigline_port}/healthz"
        self.calls: list[dict] = []
        self.health: list[tuple[float, float, int]] = []  # (asked, answered, status)

    async def call_every_second(self, tasks: asyncio.TaskGroup) -> None:
        for n in range(sys.maxsize):
            # Each call in its own task: a slow one must not delay the next caller.
            tasks.create_task(self._call(CALLERS[n % len(CALLERS)]))
            await asyncio.sleep(1)

    async def _call(self, phone: str) -> None:
        began = time.monotonic()
        call = await self.carrier.place_call(phone)
        record = {"sid": call.sid, "phone": phone, "began": began,
                  "answered": time.monotonic(), "call": call}
        self.calls.append(record)
        for keys in ("1", "1"):  # consent, then the first menu: turns past the greeting
            if call.waiting_for != "gather":
                break
            await asyncio.sleep(0.3)
            await call.press(keys)
        if not call.ended:
            await call.hang_up()

    async def text_every_half_second(self) -> None:
        for n in range(sys.maxsize):
            await self.carrier.send_sms(TEXTERS[n % len(TEXTERS)], BODIES[n % len(BODIES)])
            await asyncio.sleep(0.5)

    async def poll_health(self) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                asked = time.monotonic()
                try:
                    async with http.get(self.healthz_url) as response:
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                self.health.append((asked, time.monotonic(), status))
                await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> dict:
    port, front = free_port(), free_port()
    recorder = WebhookRecorder(port)
    async with (throwaway_database("postgresql") as url, recorder.serving(front),
                local_carrier(front) as carrier):
        database = make_url(url)
        proxy = TcpProxy(database.host, database.port)
        proxied = database.set(port=await proxy.start()).render_as_string(hide_password=False)
        gigline = await start_gigline(
            proxied, port, carrier.rest_base, GIGLINE_PUBLIC_URL=f"http://127.0.0.1:{front}",
            GIGLINE_SMS_RATE="20", GIGLINE_OUTBOX_INTERVAL="0.5")
        traffic = Traffic(carrier, port)
        try:
            async with asyncio.TaskGroup() as tasks:
                background = [tasks.create_task(traffic.call_every_second(tasks)),
                              tasks.create_task(traffic.text_every_half_second()),
                              tasks.create_task(traffic.poll_health())]
                await asyncio.sleep(args.warm_up)
                await _queue_for(url, OPTS_OUT, datetime.now(UTC) + DUE_INTO_OUTAGE)
                proxy.cut()
                cut = time.monotonic()
                await asyncio.sleep(2)
                opt_out = await carrier.send_sms(OPTS_OUT, "TD")
                await asyncio.sleep(cut + args.outage_seconds - time.monotonic())
                proxy.restore()
                restored = time.monotonic()
                healthy = await _first_healthy(traffic, restored, args.deadline)
                await asyncio.sleep(args.after)
                for task in background:
                    task.cancel()
            await carrier.drain()  # the deliveries and status callbacks still under way
        finally:
            await stop(gigline)
            await proxy.close()
        return await _checks(args, url, carrier, recorder, traffic, opt_out.status,
                             cut, restored, healthy)


async def _queue_for(url: str, phone: str, due: datetime) -> None:
    """Straight into the database (not through the proxy), due after the cut."""
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await enqueue_sms(session, dedupe_key="chaos:due-in-outage", phone=phone,
                          body="明天7点开工", kind="notice", now=due)
    await engine.dispose()


async def _first_healthy(traffic: Traffic, restored: float, deadline: float) -> float | None:
    while time.monotonic() < restored + deadline:
        ok = [answered for asked, answered, status in traffic.health
              if asked >= restored and status == 200]
        if ok:
            return ok[0]
        await asyncio.sleep(0.1)
    return None


async def _checks(args, url, carrier, recorder, traffic, opt_out_status, cut, restored,
                  healthy) -> dict:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        stored = set(await session.scalars(select(InboundSms.message_sid)))
        booked = dict((await session.execute(
            select(CallbackRequest.phone, func.count())
            .where(CallbackRequest.reason == "database_down")
            .group_by(CallbackRequest.phone))).all())
        acks = set(await session.scalars(
            select(OutboundSms.carrier_sid).where(OutboundSms.kind == OPT_OUT_ACK)))
        queued_for_opt_out = list(await session.scalars(
            select(OutboundSms.status).where(OutboundSms.phone == OPTS_OUT,
                                             OutboundSms.kind != OPT_OUT_ACK)))
        # Not checked, shown: what the status callbacks answered 503 in the outage leave
        # behind (every call has hung up and the carrier delivered every SMS by now).
        outbox = dict((await session.execute(
            select(OutboundSms.status, func.count()).group_by(OutboundSms.status))).all())
        open_calls = await session.scalar(
            select(func.count()).select_from(CallSession).where(CallSession.ended_at.is_(None)))
    await engine.dispose()

    def phase(t: float) -> str:
        if t < cut:
            return "before"
        if t < restored:
            return "outage"
        return "recovering" if healthy is None or t < healthy else "after"

    messages = carrier.messages()
    inbound = [m for m in messages if m.direction == "inbound"]
    [td] = [m for m in inbound if m.from_ == OPTS_OUT and m.body == "TD"]
    after_td = [m.body for m in messages if m.to == OPTS_OUT and m.direction != "inbound"
                and m.date_created >= td.date_created and m.sid not in acks]
    in_outage = [c for c in traffic.calls if c["began"] >= cut and c["answered"] < restored]
    apologised = [c for c in traffic.calls
                  if any(APOLOGY in prompt for prompt in c["call"].prompts)]
    health_in_outage = {s for asked, answered, s in traffic.health
                        if asked >= cut and answered < restored}
    health_after = {s for asked, _, s in traffic.health if healthy and asked >= healthy}
    answers = Counter((phase(t), path, status) for t, path, status in recorder.answers)
    not_200 = {k: n for k, n in answers.items()
               if k[1] in ("/twilio/voice", "/twilio/voice/gather", "/twilio/sms")
               and k[2] != 200}
    checks = {
        "every call in the outage heard the apology and ended": bool(in_outage) and all(
            any(APOLOGY in p for p in c["call"].prompts) and c["call"].ended
            for c in in_outage),
        "voice and SMS webhooks all answered 200": not not_200,
        "no webhook answered 500 (or not at all)": not any(
            s == 0 or s == 500 for _, _, s in recorder.answers),
        "/healthz 503 during the outage": health_in_outage == {503},
        "/healthz 200 after recovery": health_after == {200},
        "no inbound SMS lost": all(m.sid in stored for m in inbound),
        "nothing sent to the opted-out number after TD": not after_td,
        "one call back booked for each caller who heard the apology": (
            set(booked) == {c["call"].from_ for c in apologised}
            and set(booked.values()) == {1}),
    }
    return {
        "outage_seconds": args.outage_seconds, "warm_up_s": args.warm_up, "after_s": args.after,
        "restore_to_healthy_s": None if healthy is None else round(healthy - restored, 2),
        "calls": len(traffic.calls), "calls_in_outage": len(in_outage),
        "apologised_calls": len(apologised),
        "apologised_after_restore": sum(c["began"] >= restored for c in apologised),
        "callers_apologised_to": len({c["call"].from_ for c in apologised}),
        "callbacks_booked": sum(booked.values()),
        "inbound_sms": len(inbound), "inbound_lost": sum(m.sid not in stored for m in inbound),
        "td_webhook_status": opt_out_status,
        "opted_out_number_rows": queued_for_opt_out, "sent_after_td": after_td,
        "healthz_in_outage": sorted(health_in_outage), "healthz_after": sorted(health_after),
        "outbox_rows": outbox, "call_sessions_never_ended": open_calls,
        "webhook_answers": {f"{p} {path} {s}": n for (p, path, s), n in sorted(answers.items())},
        "checks": checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--warm-up", type=float, default=10, help="seconds before the cut")
    parser.add_argument("--after", type=float, default=15,
                        help="seconds of traffic once /healthz is 200 again")
    parser.add_argument("--deadline", type=float, default=120,
                        help="longest wait for /healthz 200 after the restore")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    path = write_result("db-outage", result)
    for key, value in result.items():
        if key not in ("checks", "webhook_answers"):
            print(f"  {key:<28} {value}")
    print("  webhook answers (phase, path, status: count)")
    for key, count in result["webhook_answers"].items():
        print(f"    {key:<40} {count:>5}")
    for check, ok in result["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {check}")
    print(f"  -> {path}")
    passed = all(result["checks"].values())
    print("ALL CHECKS HOLD" if passed else "SOME CHECKS FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
