"""What one spoken consent turn costs alone: the work every new caller's first answer
does while it holds the embedded SQLite's one connection.

    .venv/bin/python bench/consent_turn.py [--turns 400] [--rounds 3] [--profile]

Builds the hotline as `gigline serve` does (embedded SQLite in a temporary folder, demo
data, speech on with the Korean test model), starts N calls, then answers each call's
consent prompt by speech ("예", key 1) through `hotline.calls.take_turn`, one after the
other, and prints the wall and CPU time per turn (CPU: all threads, so aiosqlite's
included). `--profile` adds cProfile's top entries by cumulative time."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from aiohttp import web  # noqa: E402
from speech_raw import model_path  # noqa: E402  (bench/ is the script's folder)

from gigline.app import create_app  # noqa: E402
from gigline.keys import CHANNEL, DESK  # noqa: E402
from gigline.settings import Settings  # noqa: E402
from hotline import calls  # noqa: E402
from ivr_flows.inputs import Answer, CallStarted  # noqa: E402
from tests.hotline_settings import free_port  # noqa: E402


async def measure(turns: int, rounds: int, profile: bool) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings.from_env({
            "GIGLINE_DATA_DIR": data_dir, "GIGLINE_PORT": str(port),
            "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "GIGLINE_LOCAL_CARRIER_TOKEN": "bench-token-0123456789", "GIGLINE_SCHEDULER": "0",
            "GIGLINE_SPEECH_LANGUAGE": "ko",
            "VOSK_MODEL_PATH": model_path(),
        }))
        runner = web.AppRunner(app)
        await runner.setup()  # the app's start-up: migrate, demo market, speech
        try:
            desk, channel = app[DESK], app[CHANNEL]
            for round_ in range(rounds):
                sids = [f"CA{round_:02d}{i:030d}" for i in range(turns)]
                for i, sid in enumerate(sids):
                    await calls.take_turn(desk, call_sid=sid, caller=_phone(round_, i),
                                          turn=None, event=CallStarted())
                profiler = cProfile.Profile() if profile and round_ == rounds - 1 else None
                wall, cpu = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                for i, sid in enumerate(sids):
                    done = await calls.take_turn(
                        desk, call_sid=sid, caller=_phone(round_, i), turn=1,
                        event=Answer("1", "speech", 0.95, "예"))
                    assert done.taken, "the consent turn was not taken"
                    channel.render(done.reply)  # the carrier's answer is part of the turn
                if profiler:
                    profiler.disable()
                print(f"round {round_ + 1}: {turns} consent turns, "
                      f"{1000 * (time.perf_counter() - wall) / turns:.2f} ms wall and "
                      f"{1000 * (time.process_time() - cpu) / turns:.2f} ms CPU per turn"
                      + (" (profiled)" if profiler else ""))
                if profiler:
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        finally:
            await runner.cleanup()


def _phone(round_: int, i: int) -> str:
    return f"+86138{round_:02d}{i:06d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the last round")
    args = parser.parse_args()
    asyncio.run(measure(args.turns, args.rounds, args.profile))


if __name__ == "__main__":
    main()
