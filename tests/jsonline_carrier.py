"""A JSON Line carrier for tests (the protocol: telephony/jsonline/): its REST API on a
real local server, and simulated phones that call and text the hotline over signed JSON
webhooks. It offers the phones what the local carrier offers (place_call, answered_call,
send_sms, wait_for_sms), so the end-to-end tests run unchanged over either carrier."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from telephony.jsonline.signing import SIGNATURE_HEADER, signature

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):030d}"


@dataclass
class Message:
    id: str
    from_: str
    to: str
    body: str
    created: datetime
    state: str = "queued"


class JsonLineCall:
    """A call as the phone lives it: what it heard, and the step it waits at."""

    def __init__(self, carrier: JsonLineStandIn, *, phone: str, outbound: bool):
        self.carrier, self.phone, self.outbound = carrier, phone, outbound
        self.sid = new_id("JL")
        self.created = datetime.now(UTC)
        self.prompts: list[str] = []
        self._new: list[str] = []
        self.dialed: list[str] = []
        self.state = "ringing"
        self.waiting: dict | None = None  # the ask or record step waited at
        self._lock = asyncio.Lock()

    @property
    def ended(self) -> bool:
        return self.state in ("completed", "failed")

    def new_prompts(self) -> list[str]:
        prompts, self._new = self._new, []
        return prompts

    def _fields(self) -> dict:
        hotline = self.carrier.hotline_number
        return {"call": self.sid, "from": hotline if self.outbound else self.phone,
                "to": self.phone if self.outbound else hotline}

    async def fetch(self, url: str, extra: dict | None = None) -> None:
        self.state = "in-progress"
        reply = await self.carrier.post_signed(url, self._fields() | (extra or {}))
        await self.run(reply["steps"])

    async def run(self, steps: list[dict]) -> None:
        self.waiting = None
        for step in steps:
            (verb, args), = step.items()
            if verb == "say":
                self._heard(args)
            elif verb in ("ask", "record"):
                for text in args["say"]:
                    self._heard(text)
                self.waiting = {"verb": verb, **args}
                return
            elif verb == "dial":
                self.dialed.extend(args)
            elif verb == "hangup":
                return await self._end()
        await self._end()  # the steps ran out: the carrier hangs up

    def _heard(self, text: str) -> None:
        self.prompts.append(text)
        self._new.append(text)

    async def press(self, keys: str) -> None:
        async with self._lock:
            ask = self._waiting_at("ask")
            self._new = []
            await self.fetch(ask["next"], {"keys": _collected(keys, ask)})

    async def silence(self) -> None:
        await self.press("")

    async def record(self, seconds: int = 3, *, finish_key: str = "#") -> None:
        async with self._lock:
            step = self._waiting_at("record")
            self._new = []
            await self.fetch(step["next"], {"recording": {
                "url": f"{self.carrier.rest_base}/recordings/{new_id('RE')}",
                "seconds": seconds, "ended_by": finish_key}})

    async def hang_up(self) -> None:
        if self.ended:
            raise RuntimeError(f"call {self.sid} already ended")
        await self._end()

    def _waiting_at(self, verb: str) -> dict:
        if self.waiting is None or self.waiting["verb"] != verb:
            raise RuntimeError(f"call {self.sid} is not at an {verb} step: {self.waiting}")
        return self.waiting

    async def _end(self) -> None:
        self.waiting, self.state = None, "completed"
        await self.carrier.post_signed(self.carrier.status_url,
                                       {"call": self.sid, "state": "completed"})


def _collected(keys: str, ask: dict) -> str:
    """What the carrier sends for the keys pressed at an ask: up to its end key (not
    sent) or its number of keys, whichever comes first."""
    collected = ""
    for key in keys:
        if key == ask["end_key"]:
            break
        collected += key
        if len(collected) == ask["keys"]:
            break
    return collected


@dataclass
class JsonLineStandIn:
    webhook_base: str  # the hotline's public URL
    secret: str
    hotline_number: str
    http: aiohttp.ClientSession | None = None
    rest_base: str = ""
    messages: list[Message] = field(default_factory=list)
    inbox_: list[Message] = field(default_factory=list)
    calls: dict[str, JsonLineCall] = field(default_factory=dict)
    _delivered: dict[str, list[Message]] = field(default_factory=dict)
    _claimed: set[str] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set = field(default_factory=set)
    _runner: web.AppRunner | None = None

    @property
    def status_url(self) -> str:
        return f"{self.webhook_base}/jsonline/status"

    async def start(self, port: int) -> None:
        self.http = aiohttp.ClientSession()
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/messages", self._send)
        app.router.add_get("/messages", self._list_messages)
        app.router.add_get("/messages/{id}", self._message)
        app.router.add_get("/inbox", self._inbox)
        app.router.add_post("/calls", self._place)
        app.router.add_get("/calls", self._list_calls)
        app.router.add_get("/calls/{id}", self._call)
        app.router.add_post("/calls/{id}/steps", self._steps)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.rest_base = f"http://127.0.0.1:{port}"

    async def close_streams(self) -> None:
        """Nothing streams on JSON Line (the local carrier's shutdown step)."""

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.http is not None:
            await self.http.close()

    async def post_signed(self, url: str, fields: dict) -> dict:
        body = json.dumps(fields, ensure_ascii=False).encode()
        async with self.http.post(url, data=body, headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self.secret, url, body)}) as response:
            text = await response.text()
            if response.status >= 400:
                raise AssertionError(f"{url} answered {response.status}: {text}")
            return json.loads(text) if text else {}

    # --- the phones ------------------------------------------------------------------
    async def place_call(self, from_phone: str) -> JsonLineCall:
        call = JsonLineCall(self, phone=from_phone, outbound=False)
        self.calls[call.sid] = call
        await call.fetch(f"{self.webhook_base}/jsonline/voice")
        return call

    async def answered_call(self, phone: str, timeout: float = 5.0) -> JsonLineCall:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                call = next((c for c in self.calls.values() if c.outbound and c.phone == phone
                             and c.sid not in self._claimed and c.state != "ringing"), None)
                if call is not None:
                    self._claimed.add(call.sid)
                    return call
                await self._wait_for_change()

    async def send_sms(self, from_phone: str, body: str) -> None:
        message = Message(new_id("JM"), from_phone, self.hotline_number, body,
                          datetime.now(UTC), "received")
        self.inbox_.append(message)
        await self.post_signed(f"{self.webhook_base}/jsonline/sms", {
            "id": message.id, "from": from_phone, "to": self.hotline_number, "text": body})

    async def wait_for_sms(self, phone: str, timeout: float = 5.0,  # noqa: ASYNC109
                           predicate=None) -> Message:
        """The next SMS delivered to `phone` (each one is handed out once)."""
        async with asyncio.timeout(timeout):
            while True:
                waiting = self._delivered.get(phone, [])
                found = next((m for m in waiting if predicate is None or predicate(m)), None)
                if found is not None:
                    waiting.remove(found)
                    return found
                await self._wait_for_change()

    async def _wait_for_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def _later(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the REST API ----------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if request.headers.get("Authorization") != f"Bearer {self.secret}":
            return web.json_response({"error": "bad token", "retry": False}, status=401)
        return await handler(request)

    async def _send(self, request: web.Request) -> web.Response:
        asked = await request.json()
        message = Message(new_id("JM"), self.hotline_number, asked["to"], asked["text"],
                          datetime.now(UTC))
        self.messages.append(message)
        self._later(self._deliver(message, asked["status_url"]))
        return web.json_response({"id": message.id}, status=201)

    async def _deliver(self, message: Message, status_url: str) -> None:
        await asyncio.sleep(0)  # the answer to the send goes first, as on a real network
        message.state = "delivered"
        self._delivered.setdefault(message.to, []).append(message)
        self._changed.set()
        await self.post_signed(status_url, {"message": message.id, "state": "delivered"})

    async def _list_messages(self, request: web.Request) -> web.Response:
        since = datetime.fromisoformat(request.query["since"])
        return web.json_response([
            {"id": m.id, "to": m.to, "text": m.body, "created": m.created.isoformat()}
            for m in self.messages if m.to == request.query["to"] and m.created >= since])

    async def _message(self, request: web.Request) -> web.Response:
        message = next((m for m in self.messages if m.id == request.match_info["id"]), None)
        if message is None:
            return web.json_response({"error": "no such message", "retry": False}, status=404)
        return web.json_response({"id": message.id, "state": message.state, "error": None})

    async def _inbox(self, request: web.Request) -> web.Response:
        since = datetime.fromisoformat(request.query["since"])
        return web.json_response([
            {"id": m.id, "from": m.from_, "to": m.to, "text": m.body,
             "received": m.created.isoformat()} for m in self.inbox_ if m.created >= since])

    async def _place(self, request: web.Request) -> web.Response:
        asked = await request.json()
        call = JsonLineCall(self, phone=asked["to"], outbound=True)
        self.calls[call.sid] = call
        self._later(self._answer(call, asked["url"]))
        return web.json_response({"id": call.sid}, status=201)

    async def _answer(self, call: JsonLineCall, url: str) -> None:
        await asyncio.sleep(0)
        await call.fetch(url)
        self._changed.set()

    async def _list_calls(self, request: web.Request) -> web.Response:
        since = datetime.fromisoformat(request.query["since"])
        return web.json_response([
            {"id": c.sid, "to": c.phone, "created": c.created.isoformat()}
            for c in self.calls.values()
            if c.outbound and c.phone == request.query["to"] and c.created >= since])

    async def _call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return web.json_response({"error": "no such call", "retry": False}, status=404)
        return web.json_response({"id": call.sid, "state": call.state})

    async def _steps(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None or call.ended:
            return web.json_response({"error": "no live call", "retry": False}, status=404)
        self._later(call.run((await request.json())["steps"]))
        return web.json_response({"id": call.sid})
