"""Phone numbers never reach the logs in clear: Gigline's own lines, and twilio-python's,
which log every request it makes (a reconciliation lists a recipient's messages)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from gigline.keys import SENDER
from gigline.logs import MaskPhoneNumbers, configure_logging, mask_phone_numbers
from tests.outbox_fixtures import PHONE, add, outbox_hotline, real_time_clock  # noqa: F401


@pytest.mark.parametrize("line, masked", [
    ("to +8613800138000 now", "to +86138****8000 now"),
    ("GET Request: /Messages.json?To=%2B8613800138000&PageSize=50",
     "GET Request: /Messages.json?To=%2B86138****8000&PageSize=50"),
    ("caller 13800138000.", "caller 138****8000."),
    ("{'to': '+14155550100'}", "{'to': '+14155****0100'}"),
])
def test_numbers_are_masked_wherever_they_stand(line, masked):
    assert mask_phone_numbers(line) == masked


@pytest.mark.parametrize("line", ["offer 1733333333 took 12.5 ms", "SM0123456789abcdef",
                                  "2026-12-04 16:07:07,123"])
def test_ids_times_and_counts_are_left_alone(line):
    assert mask_phone_numbers(line) == line


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPhoneNumbers())
    root, twilio = logging.getLogger(), logging.getLogger("twilio")
    old_levels = root.level, twilio.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    twilio.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_levels[0])
    twilio.setLevel(old_levels[1])


async def test_a_reconciliation_logs_no_number_in_clear(database_url, clock, log_lines):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="50",
                              GIGLINE_OUTBOX_LEASE_SECONDS="2") as hotline:
        await add(hotline, clock, "k1")
        hotline.carrier.delay_next(2.0)  # no answer in time: the carrier will be asked
        assert (await hotline.app[SENDER].send_due()).unknown == 1
        clock.advance(seconds=6)
        assert (await hotline.app[SENDER].send_due()).reconciled == 1
    logged = log_lines.getvalue()
    assert "Messages.json?To=%2B86138****0001" in logged, "twilio's request line, masked"
    assert PHONE not in logged and PHONE.replace("+", "%2B") not in logged


@pytest.fixture
def chatty_loggers():
    loggers = [logging.getLogger(name) for name in ("twilio", "apscheduler.executors")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


async def test_twilio_and_the_scheduler_log_their_warnings_not_every_request_and_run(
        caplog, chatty_loggers):
    """twilio-python's ten INFO lines a REST request (message bodies, a redirect's TwiML)
    cost the event loop 136 µs a request, and APScheduler writes two for every sweep's
    run: a serving Gigline keeps their warnings and errors, and its own INFO lines."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    configure_logging(logging.INFO)
    client = AsyncTwilioHttpClient(pool_connections=False)
    ran, failed = asyncio.Event(), asyncio.Event()

    def sweep():
        ran.set()

    def broken_sweep():
        failed.set()
        raise RuntimeError("the sweep broke")

    scheduler = AsyncIOScheduler()
    with caplog.at_level(logging.INFO):
        client.log_request({"method": "POST", "url": "https://api.twilio.com/x.json",
                            "params": None, "headers": {"Accept": "application/json"}})
        logging.getLogger("twilio.http_client").warning("retrying")
        logging.getLogger("gigline").info("a line of Gigline's own")
        scheduler.add_job(sweep)
        scheduler.add_job(broken_sweep)
        scheduler.start()
        await asyncio.wait_for(asyncio.gather(ran.wait(), failed.wait()), 5)
        await asyncio.sleep(0.05)
        scheduler.shutdown(wait=False)
    logged = [(r.name, r.levelno) for r in caplog.records]
    assert ("twilio.http_client", logging.WARNING) in logged
    assert ("gigline", logging.INFO) in logged
    assert ("apscheduler.executors.default", logging.ERROR) in logged, "a sweep that raised"
    assert not [r.getMessage() for r in caplog.records if r.levelno < logging.WARNING
                and r.name.startswith(("twilio", "apscheduler.executors"))]
