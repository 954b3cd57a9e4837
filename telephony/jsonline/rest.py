"""JSON Line's REST side: the hotline's carrier interface over the carrier's JSON API.

- `POST /messages {"to", "text", "status_url"}` -> 201 `{"id"}`
- `GET /messages?to=&since=` -> `[{"id", "to", "text", "created"}]`, oldest first
- `GET /messages/<id>` -> `{"id", "state", "error"}`
- `GET /inbox?since=` -> `[{"id", "from", "to", "text", "received"}]`, oldest first
- `POST /calls {"to", "url", "status_url"}` -> 201 `{"id"}`
- `GET /calls?to=&since=` -> `[{"id", "to", "created"}]`; `GET /calls/<id>` -> `{"state"}`
- `POST /calls/<id>/steps {"steps"}`: what a live call does next
Requests carry `Authorization: Bearer <secret>`. Errors are `{"error", "retry",
"opted_out"}` with a 4xx or 5xx status; 429 and 5xx may be retried."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import aiohttp

from hotline.carrier import CarrierError, ReceivedSms
from store.statuses import CallStatus, OutboxStatus
from telephony.jsonline.channel import CALL_WORDS, DELIVERY_WORDS, NAME, to_status


class JsonLineCarrier:
    def __init__(self, *, api_base: str, secret: str, public_url: str,
                 request_timeout: float):
        self._api = api_base.rstrip("/")
        self._auth = {"Authorization": f"Bearer {secret}"}
        self._timeout = request_timeout
        self._voice_url = f"{public_url}/{NAME}/voice/"
        self._status_url = f"{public_url}/{NAME}/status"
        self._http: aiohttp.ClientSession | None = None

    async def send_sms(self, to: str, body: str) -> str:
        sent = await self._request("POST", "/messages", {
            "to": to, "text": body, "status_url": self._status_url})
        return sent["id"]

    async def find_sent_sms(self, to: str, body: str, *, since: datetime) -> list[str]:
        found = await self._request("GET", "/messages",
                                    params={"to": to, "since": since.isoformat()})
        return [m["id"] for m in found if m["text"] == body]

    async def sms_status(self, message_sid: str) -> tuple[OutboxStatus, int | None]:
        found = await self._request("GET", f"/messages/{message_sid}")
        return to_status(DELIVERY_WORDS, found["state"], OutboxStatus.FAILED), found.get("error")

    async def received_sms(self, *, since: datetime) -> list[ReceivedSms]:
        found = await self._request("GET", "/inbox", params={"since": since.isoformat()})
        return [ReceivedSms(m["id"], m["from"], m["to"], m["text"],
                            datetime.fromisoformat(m["received"])) for m in found]

    async def place_call(self, to: str, subject: str) -> str:
        placed = await self._request("POST", "/calls", {
            "to": to, "url": self._voice_url + subject, "status_url": self._status_url})
        return placed["id"]

    async def find_placed_calls(self, to: str, *, since: datetime) -> list[str]:
        found = await self._request("GET", "/calls",
                                    params={"to": to, "since": since.isoformat()})
        return [c["id"] for c in found]

    async def call_status(self, call_sid: str) -> CallStatus:
        found = await self._request("GET", f"/calls/{call_sid}")
        return to_status(CALL_WORDS, found["state"], CallStatus.FAILED)

    async def redirect_call(self, call_sid: str, twiml: str) -> None:
        await self._request("POST", f"/calls/{call_sid}/steps", json.loads(twiml))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _request(self, method: str, path: str, body: dict | None = None, *,
                       params: dict | None = None):
        if self._http is None:
            self._http = aiohttp.ClientSession(headers=self._auth)
        try:
            async with asyncio.timeout(self._timeout), self._http.request(
                    method, self._api + path, json=body, params=params) as response:
                answer = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:  # never reached the carrier
            raise CarrierError(f"carrier unreachable: {exc!r}", code=None,
                               retryable=True) from exc
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise CarrierError(f"no answer from the carrier: {exc!r}", code=None,
                               retryable=True, outcome_unknown=True) from exc
        if response.status >= 400:
            error = answer if isinstance(answer, dict) else {}
            raise CarrierError(
                f"carrier refused ({response.status}): {error.get('error', answer)}",
                code=response.status,
                retryable=bool(error.get("retry", response.status == 429
                                         or response.status >= 500)),
                opted_out=bool(error.get("opted_out")))
        return answer
