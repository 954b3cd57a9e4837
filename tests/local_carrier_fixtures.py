"""Fixtures for the local carrier tests: a tiny fake hotline and a carrier pointed at it.

The fake hotline checks every webhook's X-Twilio-Signature with twilio's RequestValidator,
as Gigline must, records what it got, and answers TwiML built with twilio.twiml.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from local_carrier import LocalCarrier

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "local-carrier-test-token"
HOTLINE = "+864008001234"
CALLER = "+8613800138000"
OTHER_PHONE = "+8613900139000"

# A reply: TwiML (str or a twilio.twiml response), a web.Response, or a (possibly async)
# function of the request's parameters returning one of those.
Reply = str | web.Response | Callable[[dict[str, str]], object]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    url: str
    params: dict[str, str]
    headers: Mapping[str, str]
    signature_ok: bool


class FakeHotline:
    """Answers the carrier's webhooks with canned TwiML per path."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)
        self.base = ""
        self.requests: list[Received] = []
        self._replies: dict[str, list[Reply]] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def on(self, path: str, *replies: Reply) -> None:
        """Answer `path` with these replies in turn (the last one repeats)."""
        self._replies[path] = list(replies)

    def received(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params = dict(await request.post()) if request.method == "POST" else {}
        url = self.base + request.path_qs
        signature = request.headers.get("X-Twilio-Signature", "")
        ok = self._validator.validate(url, params, signature)
        self.requests.append(
            Received(
                request.method,
                request.path,
                url,
                params or dict(request.query),
                request.headers,
                ok,
            )
        )
        if not ok:
            return web.Response(status=403, text="bad signature")
        replies = self._replies.get(request.path)
        if not replies:
            return web.Response(text="<Response/>", content_type="text/xml")
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if callable(reply):
            reply = reply(params or dict(request.query))
            if inspect.isawaitable(reply):
                reply = await reply
        if isinstance(reply, web.Response):
            return reply
        return web.Response(text=str(reply), content_type="text/xml")


# Named fixtures (name=...) so test modules can import them without shadowing warnings.
@pytest.fixture(name="hotline")
async def hotline_fixture(aiohttp_server) -> FakeHotline:
    fake = FakeHotline(AUTH_TOKEN)
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture(name="carrier")
async def carrier_fixture(hotline: FakeHotline) -> AsyncIterator[LocalCarrier]:
    async with aiohttp.ClientSession() as http:
        local = LocalCarrier(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            webhook_base=hotline.base,
            hotline_number=HOTLINE,
            http=http,
        )
        await local.start_rest()
        yield local
        await local.close()


def make_client(
    carrier: LocalCarrier, *, token: str = AUTH_TOKEN
) -> tuple[Client, AsyncTwilioHttpClient]:
    """The real twilio-python client, pointed at the stand-in (call inside the loop)."""
    http_client = AsyncTwilioHttpClient()
    client = Client(ACCOUNT_SID, token, http_client=http_client)
    client.api.base_url = carrier.rest_base
    return client, http_client


@pytest.fixture(name="twilio_client")
async def twilio_client_fixture(carrier: LocalCarrier) -> AsyncIterator[Client]:
    client, http_client = make_client(carrier)
    yield client
    await http_client.close()
