"""Twilio's webhooks: form fields in, domain inputs to the market, TwiML out."""

from __future__ import annotations

import logging

from aiohttp import web

from basics.phones import caller_number
from gigline.keys import DESK, NUDGE_OUTBOX, RENDERER
from hotline import calls, sender, sms
from ivr_flows.inputs import Answer, CallStarted, Recorded
from telephony.twilio.signature import TWILIO_PARAMS
from telephony.twilio.twiml import empty_messaging_response

log = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 2000
# What the columns that keep these fields hold (Twilio's sids are 34 characters, E.164
# numbers at most 16): longer is not Twilio, and refused the same on every database.
FIELD_LENGTHS = {"CallSid": 64, "MessageSid": 64, "To": 20, "From": 32}
MAX_ID = 2**31 - 1  # the store's keys are PostgreSQL integers


def add_routes(app: web.Application) -> None:
    app.router.add_post("/twilio/voice", incoming_call)
    app.router.add_post("/twilio/voice/gather", gathered)
    app.router.add_post("/twilio/voice/record", recorded)
    app.router.add_post("/twilio/voice/alert", alert_answered)
    app.router.add_post("/twilio/voice/pay", pay_call_answered)
    app.router.add_post("/twilio/voice/hired", hired_call_answered)
    app.router.add_post("/twilio/sms", incoming_sms)
    app.router.add_post("/twilio/status", status_callback)


def _field(request: web.Request, name: str, *, required: bool = True) -> str:
    value = request[TWILIO_PARAMS].get(name, "")
    if (not isinstance(value, str) or len(value) > FIELD_LENGTHS.get(name, MAX_FIELD_LENGTH)
            or "\x00" in value):
        raise web.HTTPBadRequest(text=f"{name} is not a short text field")
    if required and not value:
        raise web.HTTPBadRequest(text=f"missing {name}")
    return value


def _turn(request: web.Request) -> int:
    return _query_int(request, "t", what="turn")


async def _voice_turn(request: web.Request, turn: int | None, event, *,
                      caller: str | None = None, direction: str = "inbound") -> web.Response:
    app = request.app
    _field(request, "To", required=False)  # the number called: refused if malformed
    turn_done = await calls.take_turn(
        app[DESK],
        call_sid=_field(request, "CallSid"),
        caller=caller if caller is not None else caller_number(_field(request, "From",
                                                                 required=False)),
        turn=turn,
        event=event,
        render=app[RENDERER].render,
        direction=direction,
    )
    if turn_done.queued_messages:
        app[NUDGE_OUTBOX]()
    return web.Response(text=turn_done.twiml, content_type="text/xml")


async def incoming_call(request: web.Request) -> web.Response:
    return await _voice_turn(request, None, CallStarted())


async def gathered(request: web.Request) -> web.Response:
    digits = _field(request, "Digits", required=False)
    return await _voice_turn(request, _turn(request), Answer(digits))


def _query_int(request: web.Request, name: str, *, what: str = "") -> int:
    what = what or name
    try:
        value = int(request.query[name])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text=f"the URL lost its {what} number") from None
    if not 0 <= value <= MAX_ID:
        raise web.HTTPBadRequest(text=f"the URL's {what} number is out of range")
    return value


async def _outbound_answered(request: web.Request, load, started) -> web.Response:
    """A worker answered a call we placed (`To` is the worker). What the call is about
    is loaded for that phone; if it is gone, the worker gets their usual menu."""
    phone = caller_number(_field(request, "To"))
    subject = await load(phone) if phone else None
    event = started(subject) if subject is not None else CallStarted()
    return await _voice_turn(request, None, event, caller=phone, direction="outbound")


async def alert_answered(request: web.Request) -> web.Response:
    """The alert call about a job offer: the offer is read, 1 takes it."""
    offer_id = _query_int(request, "offer")
    return await _outbound_answered(
        request, lambda phone: calls.alert_offer(request.app[DESK], offer_id, phone),
        lambda offer: CallStarted(alert=offer))


async def pay_call_answered(request: web.Request) -> web.Response:
    """The "were you paid?" call about one pay period."""
    check_id = _query_int(request, "check")
    return await _outbound_answered(
        request, lambda phone: calls.pay_question(request.app[DESK], check_id, phone),
        lambda pay: CallStarted(pay=pay))


async def hired_call_answered(request: web.Request) -> web.Response:
    """The call telling a worker who cannot read that they are hired: the contract read."""
    hire_id = _query_int(request, "hire")
    return await _outbound_answered(
        request, lambda phone: calls.hire_call(request.app[DESK], hire_id, phone),
        lambda hire: CallStarted(hired=hire))


async def recorded(request: web.Request) -> web.Response:
    url = _field(request, "RecordingUrl", required=False)
    try:
        duration = int(_field(request, "RecordingDuration", required=False) or 0)
    except ValueError:
        raise web.HTTPBadRequest(text="RecordingDuration is not a number") from None
    finished_on = _field(request, "Digits", required=False)
    return await _voice_turn(request, _turn(request), Recorded(url, duration, finished_on))


async def incoming_sms(request: web.Request) -> web.Response:
    phone = caller_number(_field(request, "From"))
    if not phone:
        raise web.HTTPBadRequest(text="From is not a phone number")
    await sms.receive_sms(
        request.app[DESK],
        message_sid=_field(request, "MessageSid"),
        phone=phone,
        to=_field(request, "To", required=False),
        body=_field(request, "Body", required=False),
    )
    request.app[NUDGE_OUTBOX]()
    return web.Response(text=empty_messaging_response(), content_type="text/xml")


async def status_callback(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    message_status = _field(request, "MessageStatus", required=False)
    if message_status:
        error = _field(request, "ErrorCode", required=False)
        known = await sender.record_delivery_status(
            desk.sessions, _field(request, "MessageSid"), message_status,
            int(error) if error.isdigit() else None, desk.clock(),
        )
    else:
        call_status = _field(request, "CallStatus")
        known = call_status not in calls.ENDED_CALL_STATUSES or await calls.end_call(
            desk, _field(request, "CallSid"), call_status
        )
    if not known:
        sid = request[TWILIO_PARAMS].get("MessageSid") or request[TWILIO_PARAMS].get("CallSid")
        log.info("status callback for something we never saw: %s %s", sid,
                 message_status or request[TWILIO_PARAMS].get("CallStatus"))
    return web.Response(status=204)
