"""A simulated phone's line to the hotline, as the terminal phone uses it: place a call, act
for the caller, read what the call did and the SMS the phone got.

LocalLine drives a LocalCarrier in this process; RemoteLine drives the local carrier of a
hotline already running (`gigline serve`) through its phone routes (rest_phones.py), so
`gigline call` can call that hotline instead of starting its own.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

import aiohttp

from .call import CallStateError, ScriptedCall

if TYPE_CHECKING:
    from .carrier import LocalCarrier

# What the caller can do, and the argument each takes ("" for none).
ACTIONS = ("press", "speak", "record", "silence", "hang_up")


@dataclass(frozen=True)
class CallView:
    """A call as the caller's side sees it at one moment."""

    sid: str
    status: str
    ended: bool
    duration: int
    waiting_for: str | None  # see ScriptedCall.waiting_for
    hears_speech: bool  # the current prompt takes spoken answers
    # How the current Gather takes keys (num_digits, finish_on_key, timeout), or None: a
    # phone whose keys go out one at a time (the browser phone) needs them to know when the
    # carrier would stop collecting and post the digits, as Twilio does.
    keypad: dict[str, object] | None
    listening: bool  # a media stream is open: what the caller says now reaches the hotline
    prompts: tuple[str, ...]  # every <Say> heard so far
    dialed: tuple[str, ...]
    errors: tuple[dict[str, object], ...]

    @classmethod
    def of(cls, call: ScriptedCall) -> "CallView":
        gather = call.gather
        return cls(
            sid=call.sid,
            status=call.status,
            ended=call.ended,
            duration=call.duration,
            waiting_for=call.waiting_for,
            hears_speech=gather is not None and "speech" in gather["input"],
            keypad=None if gather is None or "dtmf" not in gather["input"] else {
                key: gather[key] for key in ("num_digits", "finish_on_key", "timeout")},
            listening=bool(call.open_streams),
            prompts=tuple(call.prompts),
            dialed=tuple(call.dialed),
            errors=tuple(call.errors),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "sid": self.sid, "status": self.status, "ended": self.ended,
            "duration": self.duration, "waiting_for": self.waiting_for,
            "hears_speech": self.hears_speech, "keypad": self.keypad,
            "listening": self.listening,
            "prompts": list(self.prompts),
            "dialed": list(self.dialed), "errors": list(self.errors),
        }

    @classmethod
    def from_json(cls, data: dict) -> "CallView":
        return cls(
            sid=data["sid"], status=data["status"], ended=data["ended"],
            duration=data["duration"], waiting_for=data["waiting_for"],
            hears_speech=data["hears_speech"], keypad=data.get("keypad"),
            listening=data.get("listening", False),
            prompts=tuple(data["prompts"]),
            dialed=tuple(data["dialed"]), errors=tuple(data["errors"]),
        )


@dataclass(frozen=True)
class PhoneSms:
    from_: str
    body: str


class PhoneLine(Protocol):
    hotline_number: str

    async def place_call(self, from_phone: str) -> CallView:
        """Call the hotline; answers once the call waits for the caller or has ended."""
        ...

    async def act(self, sid: str, action: str, argument: str = "") -> CallView:
        """One of ACTIONS for the caller, answered once the call has settled again.
        Raises CallStateError (not what the call waits for) or ValueError (bad input)."""
        ...

    async def look(self, sid: str) -> CallView:
        """The call as it is now (a REST update may have moved it on)."""
        ...

    async def inbox(self, phone: str) -> list[PhoneSms]:
        """Every SMS delivered to the phone, oldest first."""
        ...


class LocalLine:
    def __init__(self, carrier: "LocalCarrier") -> None:
        self._carrier = carrier
        self.hotline_number = carrier.hotline_number

    async def place_call(self, from_phone: str) -> CallView:
        call = await self._carrier.place_call(from_phone)
        await call.settled()
        return CallView.of(call)

    async def act(self, sid: str, action: str, argument: str = "") -> CallView:
        return await self.act_on(self._call(sid), action, argument)

    async def look(self, sid: str) -> CallView:
        call = self._call(sid)
        await call.settled()
        return CallView.of(call)

    def _call(self, sid: str) -> ScriptedCall:
        call = self._carrier.call(sid)
        if call is None or call.direction != "inbound":
            raise CallStateError(f"no call {sid} from a phone")
        return call

    @staticmethod
    async def act_on(call: ScriptedCall, action: str, argument: str = "") -> CallView:
        match action:
            case "press":
                await call.press(argument)
            case "speak":
                await call.speak(argument)
            case "record":
                await call.record(int(argument) if argument.strip() else 3)
            case "silence":
                await call.stay_silent()
            case "hang_up":
                await call.hang_up()
            case _:
                raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        await call.settled()
        return CallView.of(call)

    async def inbox(self, phone: str) -> list[PhoneSms]:
        return [PhoneSms(sms.from_, sms.body) for sms in self._carrier.inbox(phone)]


class RemoteLine:
    """The phone routes of a local carrier at `base` (e.g. http://127.0.0.1:8081)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, *, hotline_number: str,
                 webhook_base: str) -> None:
        self._http = http
        self._base = base.rstrip("/")
        self.hotline_number = hotline_number
        self.webhook_base = webhook_base  # the hotline its calls go to
        self._phones: dict[str, str] = {}  # the calling phone by call sid

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, base: str) -> "RemoteLine":
        """Raises aiohttp.ClientError (or KeyError, ValueError) when nothing answers
        there as a local carrier."""
        async with http.get(f"{base.rstrip('/')}/phones") as response:
            response.raise_for_status()
            about = await response.json()
        return cls(http, base, hotline_number=about["hotline_number"],
                   webhook_base=about["webhook_base"])

    async def place_call(self, from_phone: str) -> CallView:
        call = await self._post(f"{self._phone(from_phone)}/calls", {})
        self._phones[call.sid] = from_phone
        return call

    async def act(self, sid: str, action: str, argument: str = "") -> CallView:
        return await self._post(self._call_url(sid), {"action": action, "argument": argument})

    async def look(self, sid: str) -> CallView:
        async with self._http.get(self._call_url(sid)) as response:
            return await self._view(response)

    async def inbox(self, phone: str) -> list[PhoneSms]:
        async with self._http.get(f"{self._phone(phone)}/sms") as response:
            response.raise_for_status()
            return [PhoneSms(m["from"], m["body"]) for m in await response.json()]

    def _phone(self, phone: str) -> str:
        return f"{self._base}/phones/{quote(phone, safe='')}"

    def _call_url(self, sid: str) -> str:
        if sid not in self._phones:
            raise CallStateError(f"no call {sid} from this line")
        return f"{self._phone(self._phones[sid])}/calls/{quote(sid)}"

    async def _post(self, url: str, form: dict[str, str]) -> CallView:
        async with self._http.post(url, data=form) as response:
            return await self._view(response)

    @staticmethod
    async def _view(response: aiohttp.ClientResponse) -> CallView:
        if response.status in (400, 404, 409):
            message = (await response.json())["message"]
            raise ValueError(message) if response.status == 400 else CallStateError(message)
        response.raise_for_status()
        return CallView.from_json(await response.json())
