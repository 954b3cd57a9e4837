"""Twilio's REST API through twilio-python's async client. This module owns Twilio's
error vocabulary and maps it to CarrierError through tables."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from hotline.carrier import CarrierError, ReceivedSms
from store.statuses import CallStatus, OutboxStatus
from telephony.twilio.channel import call_status, delivery_status

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
# How far back a reconciliation looks: a recipient's newest messages, newest first. A
# message Twilio has queued has no DateSent yet, so no date filter is sent: the times
# are compared here, by when Twilio created each message.
RECENT_PER_RECIPIENT = 50
RECEIVED_PAGE_LIMIT = 5000


class TwilioCarrier:
    def __init__(self, *, account_sid: str, auth_token: str, from_number: str | None,
                 messaging_service_sid: str | None, api_base: str | None,
                 request_timeout: float, public_url: str):
        # Where Twilio calls us back: a placed call's webhooks and every status report.
        self._voice_url = f"{public_url}/twilio/voice/"
        self._status_callback = f"{public_url}/twilio/status"
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

    async def send_sms(self, to: str, body: str) -> str:
        message = await self._call(self._client.messages.create_async(
            to=to, body=body, status_callback=self._status_callback, **self._sender))
        return message.sid

    async def find_sent_sms(self, to: str, body: str, *, since: datetime) -> list[str]:
        messages = await self._call(
            self._client.messages.list_async(to=to, limit=RECENT_PER_RECIPIENT))
        return [m.sid for m in reversed(messages)
                if m.body == body and m.date_created and m.date_created >= since]

    async def sms_status(self, message_sid: str) -> tuple[OutboxStatus, int | None]:
        message = await self._call(self._client.messages(message_sid).fetch_async())
        return delivery_status(message.status), message.error_code

    async def received_sms(self, *, since: datetime) -> list[ReceivedSms]:
        # Filtered by date on the server (an inbound message is sent when it arrives),
        # by direction here: the list has no direction filter.
        filters = {"to": self._caller_id} if self._caller_id else {}
        messages = await self._call(self._client.messages.list_async(
            date_sent_after=since, limit=RECEIVED_PAGE_LIMIT, **filters))
        return [ReceivedSms(m.sid, m.from_, m.to, m.body or "", m.date_sent)
                for m in reversed(messages)
                if m.direction == "inbound" and m.date_sent and m.date_sent >= since]

    async def place_call(self, to: str, subject: str) -> str:
        call = await self._call(self._client.calls.create_async(
            to=to, from_=self._caller_id, url=self._voice_url + subject, method="POST",
            status_callback=self._status_callback))
        return call.sid

    async def find_placed_calls(self, to: str, *, since: datetime) -> list[str]:
        calls = await self._call(self._client.calls.list_async(
            to=to, limit=RECENT_PER_RECIPIENT))
        return [c.sid for c in reversed(calls) if c.date_created and c.date_created >= since]

    async def call_status(self, call_sid: str) -> CallStatus:
        return call_status((await self._call(self._client.calls(call_sid).fetch_async())).status)

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
        except aiohttp.ClientConnectorError as exc:  # never reached Twilio: nothing done
            raise CarrierError(f"Twilio unreachable: {exc!r}", code=None, retryable=True) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The request may have gone out and been carried out: only Twilio knows.
            raise CarrierError(f"no answer from Twilio: {exc!r}", code=None, retryable=True,
                               outcome_unknown=True) from exc


def _carrier_error(status: int, code: int | None, message: str) -> CarrierError:
    if code in PERMANENT_CODES:
        return CarrierError(f"{code} {PERMANENT_CODES[code]}: {message}", code=code,
                            retryable=False, opted_out=code == OPTED_OUT_CODE)
    retryable = status == 429 or status >= 500 or code in (20003, 20429)
    if not retryable:
        log.error("Twilio refused a request we do not know how to handle: %s %s", code, message)
    return CarrierError(f"Twilio error {code} (HTTP {status}): {message}", code=code,
                        retryable=retryable)
