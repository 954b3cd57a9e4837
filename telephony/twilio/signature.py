"""Every /twilio/* request is signature-checked before anything is parsed or recorded."""

from __future__ import annotations

import logging

from aiohttp import web
from twilio.request_validator import RequestValidator

from telephony.twilio.media_stream import websocket_url

log = logging.getLogger(__name__)

TWILIO_PARAMS = web.RequestKey("twilio_params", object)


def twilio_signature_middleware(auth_token: str, public_url: str, prefix: str = "/twilio/"):
    validator = RequestValidator(auth_token)

    @web.middleware
    async def check_signature(request: web.Request, handler):
        if not request.path.startswith(prefix):
            return await handler(request)
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise web.HTTPForbidden(text="missing X-Twilio-Signature")
        try:
            params = await request.post()
        except UnicodeDecodeError:
            raise web.HTTPBadRequest(text="the form is not valid UTF-8") from None
        url = _signed_url(public_url, request)
        if not validator.validate(url, params, signature):
            log.warning("bad Twilio signature on %s", request.rel_url)
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        request[TWILIO_PARAMS] = params
        return await handler(request)

    return check_signature


def _signed_url(public_url: str, request: web.Request) -> str:
    """The URL Twilio signed: the public one it called (behind a TLS proxy request.url
    differs), as wss:// for a Media Streams socket (its upgrade request is signed too)."""
    url = public_url + request.rel_url.raw_path_qs
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return websocket_url(url)
    return url
