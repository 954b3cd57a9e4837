"""The carrier's webhooks, the same for every carrier: the channel (hotline.channel) checks
and reads each request and renders each answer; the hotline takes the turn, the SMS or
the status. Nothing here knows a carrier's words."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from hotline import calls, sender, sms
from hotline.app_keys import CHANNEL, DESK, NUDGE_OUTBOX
from hotline.channel import (
    Channel,
    ChannelReply,
    IncomingSms,
    OutboundAnswered,
    RequestRefused,
    VoiceRequest,
    WebhookRequest,
)

log = logging.getLogger(__name__)

# Set once a request is read, so the outage middleware can still answer the carrier in
# its own language when the database is down.
VOICE_REQUEST = web.RequestKey("voice_request", VoiceRequest)
SMS_REQUEST = web.RequestKey("sms_request", IncomingSms)


def add_routes(app: web.Application, channel: Channel) -> None:
    prefix = f"/{channel.name}"
    app.router.add_post(f"{prefix}/voice", voice)
    app.router.add_post(f"{prefix}/voice/{{action}}", voice)
    app.router.add_post(f"{prefix}/sms", incoming_sms)
    app.router.add_post(f"{prefix}/status", status_callback)


async def read(request: web.Request) -> tuple[WebhookRequest, Mapping]:
    """The request as the channel sees it, with its fields once the signature holds: the
    URL the carrier signed is the public one it called (behind a TLS proxy request.url
    differs)."""
    url = request.app[DESK].public_url + request.rel_url.raw_path_qs
    if request.headers.get("Upgrade", "").lower() == "websocket":
        url = websocket_url(url)  # a socket's upgrade is signed as its ws(s):// URL
    public = WebhookRequest(url=url, query=request.query, headers=request.headers,
                            body=await request.read())
    return public, _checked(lambda: request.app[CHANNEL].check(public))


def websocket_url(http_url: str) -> str:
    """The ws(s):// form of an http(s):// URL: where a carrier opens a media stream
    (Twilio requires wss://; ws:// only serves the local carrier on a loopback address)."""
    scheme, rest = http_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


def respond(reply: ChannelReply) -> web.Response:
    return web.Response(text=reply.body, content_type=reply.content_type, status=reply.status)


def _checked(read_it):
    try:
        return read_it()
    except RequestRefused as exc:
        if exc.forbidden:
            raise web.HTTPForbidden(text=exc.reason) from None
        raise web.HTTPBadRequest(text=exc.reason) from None


async def voice(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    public, fields = await read(request)
    action = request.match_info.get("action", "")
    asked = _checked(lambda: channel.voice_request(action, public, fields))
    request[VOICE_REQUEST] = asked
    desk = request.app[DESK]
    event = asked.event
    if isinstance(event, OutboundAnswered):
        event = await calls.outbound_start(desk, event, asked.phone)
    turn = await calls.take_turn(
        desk, call_sid=asked.call_sid, caller=asked.phone, turn=asked.turn, event=event,
        direction="outbound" if asked.outbound else "inbound")
    if turn.queued_messages:
        request.app[NUDGE_OUTBOX]()
    return respond(channel.render(turn.reply))


async def incoming_sms(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    _, fields = await read(request)
    message = _checked(lambda: channel.incoming_sms(fields))
    request[SMS_REQUEST] = message
    await sms.receive_sms(request.app[DESK], message_sid=message.message_sid,
                          phone=message.phone, to=message.to, body=message.body)
    request.app[NUDGE_OUTBOX]()
    return respond(channel.sms_reply())


async def status_callback(request: web.Request) -> web.Response:
    channel, desk = request.app[CHANNEL], request.app[DESK]
    _, fields = await read(request)
    report = _checked(lambda: channel.status(fields))
    if report.delivery is not None:
        known = await sender.record_delivery_status(
            desk.sessions, report.message_sid, report.delivery, report.error_code,
            desk.clock())
    else:
        known = not report.call.ended or await calls.end_call(desk, report.call_sid,
                                                              report.call)
    if not known:
        log.info("status callback for something we never saw: %s %s",
                 report.message_sid or report.call_sid, report.carrier_word)
    return web.Response(status=204)
