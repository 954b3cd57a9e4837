"""The phone network's side, over HTTP: a simulated phone calls the hotline, acts for its
caller, texts the hotline and reads its SMS. Not Twilio's API (Twilio has no such thing): it
lets `gigline call` in another process, and the browser phone (browser_phone.py), use the
phones of a running hotline's local carrier.

No account credentials: calling a number takes a phone, not the hotline's account, and the
carrier listens on loopback only (like the inbox page). Answers are JSON; a caller's
mistake is {"message"} with 400 (bad input) or 409 (not what the call waits for), an
unknown call Twilio's 404.
"""

from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .call import CallStateError, ScriptedCall
from .errors import not_found
from .ids import to_e164
from .phone_line import CallView, LocalLine
from .sms_center import MAX_BODY
from .streams import FRAME_BYTES

if TYPE_CHECKING:
    from .carrier import LocalCarrier

PHONE_ROUTE = "phone"  # route names start with this: no credentials, no injected faults


def add_phone_routes(app: web.Application, carrier: "LocalCarrier") -> None:
    phones = PhonesApi(carrier)
    app.router.add_get("/phones", phones.about, name=f"{PHONE_ROUTE}-about")
    app.router.add_post("/phones/{phone}/calls", phones.place_call, name=f"{PHONE_ROUTE}-call")
    app.router.add_post("/phones/{phone}/calls/{sid}", phones.act, name=f"{PHONE_ROUTE}-act")
    app.router.add_get("/phones/{phone}/calls/{sid}", phones.look, name=f"{PHONE_ROUTE}-look")
    app.router.add_get("/phones/{phone}/calls/{sid}/microphone", phones.microphone,
                       name=f"{PHONE_ROUTE}-microphone")
    app.router.add_get("/phones/{phone}/sms", phones.inbox, name=f"{PHONE_ROUTE}-sms")
    app.router.add_post("/phones/{phone}/sms", phones.text, name=f"{PHONE_ROUTE}-text")
    app.router.add_get("/phones/{phone}/messages", phones.conversation,
                       name=f"{PHONE_ROUTE}-messages")


def _mistake(status: int, error: Exception | str) -> web.Response:
    return web.json_response({"message": str(error)}, status=status)


class PhonesApi:
    def __init__(self, carrier: "LocalCarrier") -> None:
        self._carrier = carrier
        self._line = LocalLine(carrier)

    async def about(self, request: web.Request) -> web.Response:
        """What a client checks before using these phones: which hotline they call, and
        where its webhooks go (the hotline's own address)."""
        return web.json_response({
            "hotline_number": self._carrier.hotline_number,
            "webhook_base": self._carrier.webhook_base,
        })

    async def place_call(self, request: web.Request) -> web.Response:
        try:
            view = await self._line.place_call(request.match_info["phone"])
        except ValueError as error:
            return _mistake(400, error)
        return web.json_response(view.as_json(), status=201)

    def _call(self, request: web.Request) -> ScriptedCall:
        call = self._carrier.call(request.match_info["sid"])
        if (call is None or call.direction != "inbound"
                or call.from_ != to_e164(request.match_info["phone"])):
            raise not_found(request.path)
        return call

    async def look(self, request: web.Request) -> web.Response:
        call = self._call(request)
        await call.settled()
        return web.json_response(CallView.of(call).as_json())

    async def act(self, request: web.Request) -> web.Response:
        call = self._call(request)
        form = await request.post()
        try:
            view: CallView = await LocalLine.act_on(
                call, str(form.get("action", "")), str(form.get("argument", "")))
        except CallStateError as error:
            return _mistake(409, error)
        except ValueError as error:
            return _mistake(400, error)
        return web.json_response(view.as_json())

    async def microphone(self, request: web.Request) -> web.StreamResponse:
        """A WebSocket of the caller's voice: binary messages of 8 kHz μ-law, any length.
        Media Streams carry whole 20 ms frames, and a part frame would be padded with
        silence mid-word, so what does not fill a frame waits for the next message. The
        socket closes when the call ends."""
        call = self._call(request)
        if call.ended:
            return _mistake(409, f"call {call.sid} already ended ({call.status})")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        heard = bytearray()
        async for message in socket:
            if message.type != WSMsgType.BINARY:
                await socket.close(code=1003, message=b"8 kHz mu-law audio in binary messages")
                break
            heard += message.data
            whole = len(heard) - len(heard) % FRAME_BYTES
            if call.ended:
                await socket.close(message=b"the call ended")
                break
            if whole:
                await call.stream_audio(bytes(heard[:whole]))
                del heard[:whole]
        return socket

    async def inbox(self, request: web.Request) -> web.Response:
        phone = to_e164(request.match_info["phone"])
        if phone is None:
            return _mistake(400, f"not a valid phone number: {request.match_info['phone']!r}")
        return web.json_response([{"from": sms.from_, "body": sms.body}
                                  for sms in await self._line.inbox(phone)])

    async def text(self, request: web.Request) -> web.Response:
        """The phone texts the hotline (form field "body"); answers once the hotline has
        answered the webhook. Its replies arrive in the phone's inbox like any SMS."""
        phone = to_e164(request.match_info["phone"])
        if phone is None:
            return _mistake(400, f"not a valid phone number: {request.match_info['phone']!r}")
        body = str((await request.post()).get("body", "")).strip()
        if not body:
            return _mistake(400, "an SMS needs a body")
        if len(body) > MAX_BODY:
            return _mistake(400, f"an SMS holds at most {MAX_BODY} characters, not {len(body)}")
        result = await self._carrier.send_sms(phone, body)
        return web.json_response({"delivered": result.ok}, status=201)

    async def conversation(self, request: web.Request) -> web.Response:
        """What the phone sent the hotline and got from it, oldest first: the thread a
        phone's messaging app shows (GET .../sms is only what it got)."""
        phone = to_e164(request.match_info["phone"])
        if phone is None:
            return _mistake(400, f"not a valid phone number: {request.match_info['phone']!r}")
        thread = []
        for record in reversed(self._carrier.messages()):
            if record.direction == "inbound" and record.from_ == phone:
                way = "sent"
            elif record.to == phone and record.status == "delivered":
                way = "received"
            else:
                continue  # someone else's, or not on the phone (yet)
            thread.append({"sid": record.sid, "way": way, "from": record.from_,
                           "to": record.to, "body": record.body,
                           "at": record.date_created.isoformat()})
        return web.json_response(thread)
