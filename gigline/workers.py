"""`gigline serve --workers N`: N processes, each a whole Gigline (webhooks, console,
scheduler and sender), answering on one port.

Each process has its own listening socket on the port (SO_REUSEPORT: the kernel spreads
new connections among them) and shares nothing with the others but PostgreSQL: a call's
state, the outbox and everything due live there, and the sweeps claim rows with
`FOR UPDATE SKIP LOCKED`, so a turn, redirect or media stream may land on any process
and nothing is sent twice. This parent process makes the sockets, runs the local carrier
once (the processes reach it over REST, as they would reach Twilio), and restarts a
process that dies; it serves nothing itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext, ForkServerProcess
from multiprocessing.synchronize import Event

from gigline.logs import configure_logging
from gigline.runtime import listen, run, start_hotline, start_local_carrier
from gigline.settings import Settings, SettingsError
from store.db import ensure_migrated, make_engine

log = logging.getLogger(__name__)

START_SECONDS = 120  # loading a speech model takes seconds; a database that hangs, longer
STOP_SECONDS = 30  # a send in flight is finished before a process stops
# A process that dies this soon after it started failed to start; after this many such
# deaths in a row the same would happen again: stop rather than restart for ever.
FAILED_START_SECONDS = 10
FAILED_STARTS = 3


class WorkerFailed(RuntimeError):
    """A worker process could not start, or kept dying as it started."""


def check_can_share(settings: Settings, count: int) -> None:
    if count > 1 and not settings.database_url.startswith("postgresql"):
        raise SettingsError(
            f"--workers {count} needs PostgreSQL (set GIGLINE_DATABASE_URL): SQLite is one "
            "process's database")


def share_of(settings: Settings, count: int) -> Settings:
    """What one of `count` processes may do of what the carrier allows the whole."""
    return settings.model_copy(
        update={"sms_rate_per_second": settings.sms_rate_per_second / count})


def port_group(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port. Binding it once without SO_REUSEPORT first
    fails if anything listens there already, a `gigline serve` of one process or of
    several, rather than joining its group."""
    listen(host, port, "the hotline").close()
    return [listen(host, port, "the hotline", reuse_port=True) for _ in range(count)]


async def _still_migrated(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        await ensure_migrated(engine)
    finally:
        await engine.dispose()


@dataclass
class Worker:
    number: int
    listener: socket.socket
    process: ForkServerProcess | None = None
    ready: Event | None = None
    started: float = 0.0
    failed_starts: int = field(default=0)


class WorkerGroup:
    """The processes, each on its own socket of the port group. The parent keeps every
    socket open, so connections waiting on a dead process's socket are served by the
    process that replaces it."""

    def __init__(self, settings: Settings, listeners: list[socket.socket]):
        self.settings = share_of(settings, len(listeners))
        # forkserver: each process starts from a clean server process, never from this
        # one's threads and event loop.
        self.context: ForkServerContext = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["gigline.workers"])
        self.workers = [Worker(number, listener) for number, listener in enumerate(listeners)]

    def start(self, worker: Worker) -> None:
        worker.ready = self.context.Event()
        worker.process = self.context.Process(
            target=run_worker, args=(self.settings, worker.listener, worker.ready),
            name=f"gigline-worker-{worker.number}", daemon=False)
        worker.process.start()
        worker.started = time.monotonic()

    async def start_all(self) -> None:
        """Returns once every process answers on the port."""
        for worker in self.workers:
            self.start(worker)
        await asyncio.to_thread(self._wait_ready, START_SECONDS)

    def _wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for worker in self.workers:
            while not worker.ready.wait(0.1):
                if not worker.process.is_alive():
                    raise WorkerFailed(f"worker process {worker.number} exited with "
                                       f"{worker.process.exitcode} while starting")
                if time.monotonic() > deadline:
                    raise WorkerFailed(f"worker process {worker.number} did not start "
                                       f"within {seconds} s")

    async def watch(self, stop: asyncio.Event) -> None:
        """Restarts each process that dies, until `stop` is set; raises WorkerFailed when
        one keeps dying as it starts."""
        while not stop.is_set():
            for worker in self.workers:
                if not worker.process.is_alive():
                    self._restart(worker)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)

    def _restart(self, worker: Worker) -> None:
        exitcode = worker.process.exitcode
        if time.monotonic() - worker.started < FAILED_START_SECONDS:
            worker.failed_starts += 1
        else:
            worker.failed_starts = 0
        if worker.failed_starts >= FAILED_STARTS:
            raise WorkerFailed(f"worker process {worker.number} exited with {exitcode} "
                               f"{FAILED_STARTS} times within {FAILED_START_SECONDS} s of "
                               "starting: stopping")
        log.error("worker process %d (pid %d) exited with %s: starting another",
                  worker.number, worker.process.pid, exitcode)
        self.start(worker)

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        running = [w.process for w in self.workers if w.process and w.process.is_alive()]
        for process in running:
            process.terminate()  # SIGTERM: the process finishes what is in flight
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker process %d did not stop in %d s: killed", process.pid,
                          STOP_SECONDS)
                process.kill()
                process.join()
        for worker in self.workers:
            worker.listener.close()


def run_worker(settings: Settings, listener: socket.socket, ready: Event) -> None:
    """One worker process: Gigline on `listener` until SIGTERM or SIGINT."""
    configure_logging(logging.INFO)
    run(_serve_one(settings, listener, ready))


async def _serve_one(settings: Settings, listener: socket.socket, ready: Event) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hotline = await start_hotline(settings, listener=listener)
    ready.set()
    try:
        await stop.wait()
    finally:
        await hotline.close()


async def serve_workers(settings: Settings, count: int, *, announce) -> int:
    """Runs `count` processes until SIGINT or SIGTERM (0), or until one keeps failing to
    start (1). `announce(carrier)` prints where the hotline listens, once all answer."""
    check_can_share(settings, count)
    await _still_migrated(settings)  # refuse now, not in each process
    listeners = port_group(settings.listen_host, settings.listen_port, count)
    carrier = http = None
    group = WorkerGroup(settings, listeners)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if settings.uses_local_carrier:
            carrier, http = await start_local_carrier(settings)
        await group.start_all()
        announce(carrier)
        await group.watch(stop)
        return 0
    except WorkerFailed as exc:
        log.error("%s", exc)
        print(f"gigline: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        await group.stop()
        if carrier is not None:
            await carrier.close_streams()
            await carrier.close()
            await http.close()

