"""The server processes the benchmark drives, each started as its own process:

    python bench/servers.py gigline        # Gigline from GIGLINE_* settings in the environment
    python bench/servers.py gigline-workers N  # the same as `gigline serve --workers N`
    python bench/servers.py bare PORT      # the baseline: constant answers, nothing else

With BENCH_GC_PAUSES=<file> set, the Gigline process records its collector pauses there.

The bare handler neither parses the form nor checks the signature nor touches a
database: it is what one aiohttp process can answer at best, the yardstick for Gigline."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


class GcPauses:
    """Collector pauses in this process: a stop-the-world pause delays every request in
    flight, so they matter for tail latencies. Written as JSON at exit; times are
    perf_counter (CLOCK_MONOTONIC, the same in every process) so the generator can
    pick those inside its windows."""

    def __init__(self, out: Path, keep_from_ms: float = 1.0):
        self.out, self.keep_from = out, keep_from_ms / 1000
        self.started = 0.0
        self.pauses: list[tuple[float, int, float]] = []  # (end, generation, seconds)

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self.started = now
        elif now - self.started >= self.keep_from or info["generation"] == 2:
            self.pauses.append((now, info["generation"], now - self.started))

    def write(self) -> None:
        self.out.write_text(json.dumps(self.pauses))


def gc_pauses_in(path: Path, start: float, end: float) -> dict:
    """Summary of the pauses of 1 ms or more (and every full collection) in a window."""
    if not path.exists():
        return {}
    inside = [(g, d) for t, g, d in json.loads(path.read_text()) if start <= t < end]
    return {
        "count": len(inside),
        "full_collections": sum(g == 2 for g, _ in inside),
        "total_ms": round(1000 * sum(d for _, d in inside), 1),
        "max_ms": round(1000 * max((d for _, d in inside), default=0), 1),
    }


async def serve_gigline() -> None:
    from gigline.runtime import start_hotline
    from gigline.settings import Settings

    pauses = GcPauses(Path(os.environ["BENCH_GC_PAUSES"])) \
        if os.environ.get("BENCH_GC_PAUSES") else None
    if pauses:
        pauses.install()
    hotline = await start_hotline(Settings.from_env(os.environ))
    try:
        await _until_stopped()
    finally:
        await hotline.close()
        if pauses:
            pauses.write()


def bare_twiml(public_url: str) -> str:
    """Gigline's own main-menu response, byte for byte the size of a real turn."""
    from ivr_flows.commands import Ask
    from prompts.catalogue import load_catalogue
    from telephony.twilio.twiml import VoiceRenderer

    catalogue = load_catalogue("zh-CN")
    renderer = VoiceRenderer(public_url, catalogue.say_language, "Polly.Zhiyu")
    return renderer.render([Ask((catalogue.text("main_menu"),))], 1)


async def serve_bare(port: int) -> None:
    from telephony.twilio.twiml import empty_messaging_response

    twiml = bare_twiml(f"http://127.0.0.1:{port}")
    empty = empty_messaging_response()  # Gigline's answer to an SMS webhook

    async def turn(request: web.Request) -> web.Response:
        return web.Response(text=twiml, content_type="text/xml")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def sms(request: web.Request) -> web.Response:
        return web.Response(text=empty, content_type="text/xml")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    for path in ("/twilio/voice", "/twilio/voice/gather", "/twilio/voice/record"):
        app.router.add_post(path, turn)
    app.router.add_post("/twilio/status", status)
    app.router.add_post("/twilio/sms", sms)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await _until_stopped()
    finally:
        await runner.cleanup()


class ServerProcess:
    """The parent's handle on one server process: start, wait until healthy, stop."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], base_url: str,
                 log_path: Path):
        self.name, self.args, self.env = name, args, env
        self.base_url, self.log_path = base_url, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(HERE), *self.args],
                                         env=self.env, stdout=log, stderr=log)

    async def start(self, timeout_s: float = 60) -> None:
        """Launches the server and returns once it answers /healthz."""
        self.launch()
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} server exited:\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.base_url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} server not healthy in {timeout_s}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def first_traceback(self, lines: int = 40) -> str:
        """The first traceback the server logged, verbatim (the counts hide the detail)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        start = text.find("Traceback (most recent call last)")
        return "" if start < 0 else "\n".join(text[start:].splitlines()[:lines])

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def problems(self) -> dict[str, int]:
        """What the server logged (at WARNING and above), counted by message with its
        time stamp dropped and digits masked, so a repeated warning is one entry."""
        if not self.log_path.exists():
            return {}
        found: Counter = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            if " ERROR " in line or " WARNING " in line or line.startswith("Traceback"):
                message = line.split(" ", 2)[-1] if line[:4].isdigit() else line
                found[re.sub(r"\d", "#", message)[:200]] += 1
        return dict(found.most_common())


def main(argv: list[str]) -> None:
    # Gigline's event loop for both servers: the bare handler is held to the same rules.
    from gigline.logs import configure_logging
    from gigline.runtime import run

    # Gigline logs as `gigline serve` does (INFO, phone numbers masked): its cost is
    # part of a turn's.
    configure_logging(logging.INFO if argv[:1] != ["bare"] else logging.WARNING)
    if argv[:1] == ["gigline"]:
        run(serve_gigline())
    elif argv[:1] == ["gigline-workers"] and len(argv) == 2:
        from gigline.cli import main as gigline_main

        sys.exit(gigline_main(["serve", "--workers", argv[1]]))
    elif argv[:1] == ["bare"] and len(argv) == 2:
        run(serve_bare(int(argv[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
