"""Twilio's REST API through twilio-python's async client. This module owns Twilio's
error vocabulary and maps it to CarrierError through tables."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from telephony.carrier import CarrierError

log = logging.getLogger(__name__)

# Errors that no retry will cure (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21408: "no permission to send to this region",
    21610: "recipient replied STOP",
    21612: "cannot route to this number",
    21614: "'To' is not a mobile number",
    21617: "body too long",
    21602: "body missing",
    21604: "'To' missing",
    30003: "unreachable handset",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
}
OPTED_OUT_CODE = 21610


class TwilioCarrier:
    def __init__(self, *, account_sid: str, auth_token: str, from_number: str | None,
                 messaging_service_sid: str | None, api_base: str | None,
                 request_timeout: float):
        # twilio's async client ignores its own timeout: every request is bounded here.
        self._timeout = request_timeout
        self._http = AsyncTwilioHttpClient()
        self._client = Client(account_sid, auth_token, http_client=self._http)
        if api_base:
            # No setting moves twilio-python's REST host: the Api domain's base_url does.
            self._client.api.base_url = api_base.rstrip("/")
        self._sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self._caller_id = from_number

    async def send_sms(self, to: str, body: str, *, status_callback: str | None) -> str:
        extra = {"status_callback": status_callback} if status_callback else {}
        message = await self._call(
            self._client.messages.create_async(to=to, body=body, **self._sender, **extra)
        )
        return message.sid

    async def find_sent_sms(self, to: str, body: str, *, since: datetime) -> str | None:
        messages = await self._call(
            self._client.messages.list_async(
                to=to, date_sent_after=since - timedelta(minutes=1), limit=200
            )
        )
        return next((m.sid for m in messages if m.body == body), None)

    async def place_call(self, to: str, url: str, *, status_callback: str | None) -> str:
        extra = {"status_callback": status_callback} if status_callback else {}
        call = await self._call(self._client.calls.create_async(
            to=to, from_=self._caller_id, url=url, method="POST", **extra))
        return call.sid

    async def find_placed_call(self, to: str, *, since: datetime) -> str | None:
        calls = await self._call(self._client.calls.list_async(
            to=to, start_time_after=since - timedelta(minutes=1), limit=20))
        return calls[0].sid if calls else None

    async def redirect_call(self, call_sid: str, twiml: str) -> None:
        await self._call(self._client.calls(call_sid).update_async(twiml=twiml))

    async def close(self) -> None:
        await self._http.close()

    async def _call(self, request):
        try:
            async with asyncio.timeout(self._timeout):
                return await request
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _carrier_error(exc.status, getattr(exc, "code", None), str(exc)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise CarrierError(f"Twilio unreachable: {exc!r}", code=None, retryable=True) from exc


def _carrier_error(status: int, code: int | None, message: str) -> CarrierError:
    if code in PERMANENT_CODES:
        return CarrierError(f"{code} {PERMANENT_CODES[code]}: {message}", code=code,
                            retryable=False, opted_out=code == OPTED_OUT_CODE)
    retryable = status == 429 or status >= 500 or code in (20003, 20429)
    if not retryable:
        log.error("Twilio refused a request we do not know how to handle: %s %s", code, message)
    return CarrierError(f"Twilio error {code} (HTTP {status}): {message}", code=code,
                        retryable=retryable)
