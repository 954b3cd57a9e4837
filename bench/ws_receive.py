"""What receiving Twilio-shaped Media Streams messages costs an aiohttp server by itself:
the floor under the speech socket's own cost.

    .venv/bin/python bench/ws_receive.py [--streams 40] [--seconds 8] [--parse]

A bare aiohttp server (its own process) receives from N WebSockets one media message
every 20 ms each, as Twilio sends them (160 bytes of μ-law, base64, in the JSON envelope);
`--parse` also runs Gigline's `telephony.twilio.media_stream.parse` on each. Prints the server's
CPU per message and as a share of one core."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web
from servers import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from tests.hotline_settings import free_port  # noqa: E402


def serve(port: int, parse_messages: bool) -> None:
    from telephony.twilio.media_stream import parse

    received = 0

    async def socket(request: web.Request) -> web.WebSocketResponse:
        nonlocal received
        ws = web.WebSocketResponse(max_msg_size=64 * 1024, timeout=2)
        await ws.prepare(request)
        while (message := await ws.receive()).type == WSMsgType.TEXT:
            received += 1
            if parse_messages:
                parse(message.data)
        return ws

    async def stats(_request: web.Request) -> web.Response:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return web.json_response({"received": received,
                                  "cpu_s": usage.ru_utime + usage.ru_stime})

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def stream(http: aiohttp.ClientSession, base: str, seconds: float) -> None:
    payload = base64.b64encode(b"\xff" * 160).decode("ascii")
    async with http.ws_connect(f"{base}/ws") as ws:
        started = time.monotonic()
        frame = 0
        while time.monotonic() - started < seconds:
            frame += 1
            await ws.send_str(json.dumps({
                "event": "media", "sequenceNumber": str(frame), "streamSid": "MZ" + "0" * 32,
                "media": {"track": "inbound", "chunk": str(frame),
                          "timestamp": str(20 * frame), "payload": payload}}))
            await asyncio.sleep(max(0.0, started + 0.02 * frame - time.monotonic()))


class ReceivingServer(ServerProcess):
    """This script's --serve mode as a ServerProcess (start, /healthz, stop)."""

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, __file__, *self.args],
                                         env=self.env, stdout=log, stderr=log)


async def measure(base: str, streams: int, seconds: float) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/stats") as response:
            before = await response.json()
        await asyncio.gather(*(stream(http, base, seconds) for _ in range(streams)))
        async with http.get(f"{base}/stats") as response:
            after = await response.json()
    messages = after["received"] - before["received"]
    cpu = after["cpu_s"] - before["cpu_s"]
    return {"messages": messages, "us_per_message": round(1e6 * cpu / messages),
            "core_pct": round(100 * cpu / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--parse", action="store_true")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.port, args.parse)
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        server = ReceivingServer(
            "ws_receive", ["--serve", "--port", str(port)] + (["--parse"] if args.parse else []),
            dict(os.environ), f"http://127.0.0.1:{port}", Path(log.name))
        try:
            asyncio.run(server.start())
            result = asyncio.run(measure(server.base_url, args.streams, args.seconds))
        finally:
            server.stop()
    print(f"{args.streams} streams, {result['messages']} messages"
          f"{' parsed' if args.parse else ''}: {result['us_per_message']} us of server CPU "
          f"each, {result['core_pct']}% of a core")


if __name__ == "__main__":
    main()
