"""Gigline with speech on, alone in its own process, for `bench/speech_streams.py`:

    python bench/speech_server.py        # settings from GIGLINE_* / VOSK_* in the environment

It is `create_app(Settings.from_env(os.environ))` on aiohttp, as `gigline serve` runs it
but without the local carrier beside it: the benchmark process plays Twilio, and
GIGLINE_TWILIO_API_BASE points the app's REST calls at it.

Before the app is built, `speech.recognizer.Model` (vosk's) and `KaldiRecognizer` are
wrapped to count how many are made, and `speech.service`'s decoding calls are timed. The
counts are served at GET /_bench/stats (a route this runner adds, not Gigline's) and
printed to stderr at exit: `model loads: 1` is the proof that the model is loaded once
per process. GET /_bench/stats?reset=1 starts a new window for the timings and the
event-loop lag (how late a 10 ms timer on the loop fires).

The what-if switches of the first runs (Result() instead of FinalResult(), a 300 ms
settle) are now how the app works (docs/speech_benchmarks.md keeps their numbers)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

LAG_TICK_S = 0.010


class Counters:
    """What the wrapped speech code reports; read by /_bench/stats."""

    def __init__(self) -> None:
        self.model_loads = 0
        self.recognizers_made = 0
        self._lock = threading.Lock()  # decoding threads add to the window at once
        self.reset()

    def reset(self) -> None:
        self.window_started = time.perf_counter()
        self.decode_s: list[float] = []  # time in the decoding thread per 100 ms chunk
        self.hear_s: list[float] = []  # the loop's wait for a chunk: queue + decode + wake
        self.heard_s: list[float] = []  # the same, for the chunks that ended an utterance
        self.answer_s: list[float] = []  # a spoken answer: take the turn + REST redirect
        self.redirect_s: list[float] = []  # the REST redirect alone
        self.turn_s: list[float] = []  # calls.take_turn alone (database transaction)
        self.sql_statements = 0
        self.hold_s: list[float] = []  # a pooled connection checked out, until checked in
        self.loop_lag_s: list[float] = []
        # call sid -> time.perf_counter() when the app's HTTP client was handed its redirect
        # (CLOCK_MONOTONIC: the benchmark process reads the same clock).
        self.redirect_issued: dict[str, float] = {}

    def add(self, samples: list[float], value: float) -> None:
        with self._lock:
            samples.append(value)


COUNTERS = Counters()


def instrument_speech() -> None:
    """Counts vosk models and recognisers made, times every chunk decoded."""
    import speech.recognizer as recognizer
    import speech.service as service

    vosk_model, kaldi_recognizer = recognizer.Model, recognizer.KaldiRecognizer

    def counting_model(*args, **kwargs):
        COUNTERS.model_loads += 1
        return vosk_model(*args, **kwargs)

    def counting_recognizer(*args, **kwargs):
        COUNTERS.recognizers_made += 1
        return kaldi_recognizer(*args, **kwargs)

    recognizer.Model, recognizer.KaldiRecognizer = counting_model, counting_recognizer

    accept = recognizer.GrammarRecognizer.accept

    def timed_accept(rec, mulaw):
        started = time.perf_counter()
        try:
            return accept(rec, mulaw)
        finally:
            COUNTERS.add(COUNTERS.decode_s, time.perf_counter() - started)

    recognizer.GrammarRecognizer.accept = timed_accept
    hear = service.Speech.hear

    async def timed_hear(self, rec, mulaw):
        started = time.perf_counter()
        heard = await hear(self, rec, mulaw)
        COUNTERS.hear_s.append(time.perf_counter() - started)
        if heard is not None:
            COUNTERS.heard_s.append(time.perf_counter() - started)
        return heard

    service.Speech.hear = timed_hear
    _time_coroutine("telephony.stream_socket", "_Listener", "_answer", "answer_s")
    _time_coroutine("telephony.twilio.rest", "TwilioCarrier", "redirect_call", "redirect_s")
    _time_coroutine("hotline", "calls", "take_turn", "turn_s")
    _note_redirects_issued()
    _count_statements()


def _note_redirects_issued() -> None:
    """When each call's redirect request leaves Gigline for the carrier: twilio-python
    has built it and hands it to its HTTP client (a POST to .../Calls/{sid}.json)."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    request = AsyncTwilioHttpClient.request

    async def noting(self, method, url, *args, **kwargs):
        if method.upper() == "POST" and "/Calls/CA" in url:
            sid = url.rsplit("/", 1)[1].removesuffix(".json")
            COUNTERS.redirect_issued[sid] = time.perf_counter()
        return await request(self, method, url, *args, **kwargs)

    AsyncTwilioHttpClient.request = noting


def _count_statements() -> None:
    """Every SQL statement the app's engine runs (gigline.app makes it with make_engine)."""
    from sqlalchemy import event

    import gigline.app

    make_engine = gigline.app.make_engine

    def counting_engine(*args, **kwargs):
        engine = make_engine(*args, **kwargs)

        def count(*_):
            COUNTERS.sql_statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        held = {}

        def checkout(dbapi_conn, record, proxy):
            held[id(dbapi_conn)] = time.perf_counter()

        def checkin(dbapi_conn, record):
            started = held.pop(id(dbapi_conn), None)
            if started is not None:
                COUNTERS.hold_s.append(time.perf_counter() - started)

        event.listen(engine.sync_engine.pool, "checkout", checkout)
        event.listen(engine.sync_engine.pool, "checkin", checkin)
        return engine

    gigline.app.make_engine = counting_engine


def _time_coroutine(module: str, owner_name: str, method: str, samples: str) -> None:
    """Times every await of `module.owner_name.method` (a class's method or, when
    owner_name is a submodule, a module's function)."""
    import importlib

    owner = getattr(importlib.import_module(module), owner_name, None) or \
        importlib.import_module(f"{module}.{owner_name}")
    original = getattr(owner, method)

    async def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            getattr(COUNTERS, samples).append(time.perf_counter() - started)

    setattr(owner, method, timed)


async def watch_loop_lag() -> None:
    """How late the event loop wakes a 10 ms timer: > a few ms means the loop is busy."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_TICK_S
        await asyncio.sleep(LAG_TICK_S)
        COUNTERS.loop_lag_s.append(max(0.0, loop.time() - due))


def _summary_ms(samples: list[float]) -> dict:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"count": len(ordered), "mean": round(1000 * sum(ordered) / len(ordered), 2),
            "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0),
            "total_s": round(sum(ordered), 3)}


async def stats(request: web.Request) -> web.Response:
    from gigline.keys import SPEECH

    speech = request.app.get(SPEECH)
    window = time.perf_counter() - COUNTERS.window_started
    body = {
        "pid": os.getpid(),
        "model_loads": COUNTERS.model_loads,
        "recognizers_made": COUNTERS.recognizers_made,
        "open_recognizers": speech.open_recognizers if speech else None,
        "window_s": round(window, 3),
        "decode_ms": _summary_ms(COUNTERS.decode_s),
        "hear_ms": _summary_ms(COUNTERS.hear_s),
        "heard_ms": _summary_ms(COUNTERS.heard_s),
        "answer_ms": _summary_ms(COUNTERS.answer_s),
        "redirect_ms": _summary_ms(COUNTERS.redirect_s),
        "turn_ms": _summary_ms(COUNTERS.turn_s),
        "sql_statements": COUNTERS.sql_statements,
        "hold_ms": _summary_ms(COUNTERS.hold_s),
        "loop_lag_ms": _summary_ms(COUNTERS.loop_lag_s),
        "redirect_issued": COUNTERS.redirect_issued,
    }
    if request.query.get("reset"):
        COUNTERS.reset()
    return web.json_response(body)


async def serve() -> None:
    from gigline.app import create_app
    from gigline.settings import Settings

    settings = Settings.from_env(os.environ)
    app = create_app(settings)
    app.router.add_get("/_bench/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.listen_host, settings.listen_port).start()
    gc.freeze()  # as gigline.runtime.start_hotline does after start-up
    lag = asyncio.get_running_loop().create_task(watch_loop_lag())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        lag.cancel()
        await runner.cleanup()
        print(f"model loads: {COUNTERS.model_loads}; recognizers made: "
              f"{COUNTERS.recognizers_made}", file=sys.stderr, flush=True)


def main() -> None:
    from gigline.logs import configure_logging

    configure_logging(logging.INFO)  # as `gigline serve` logs: its cost is part of a turn's
    instrument_speech()
    from gigline.runtime import run  # Gigline's event loop, as `gigline serve` runs

    run(serve())


if __name__ == "__main__":
    main()
