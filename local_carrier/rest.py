"""The Twilio REST stand-in: Twilio's paths, basic auth, JSON and error shapes."""

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import BasicAuth, web

from .browser_phone import add_browser_phone_routes
from .errors import TwilioApiError, not_found
from .ids import API_VERSION
from .inbox import inbox_handler
from .recordings import silent_wav
from .rest_calls import CallsApi
from .rest_messages import MessagesApi
from .rest_phones import PHONE_ROUTE, add_phone_routes

if TYPE_CHECKING:
    from .carrier import LocalCarrier

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCOUNT = f"/{API_VERSION}/Accounts/{{account}}"
PUBLIC_ROUTE = "recording-media"
INBOX_ROUTE = "inbox"  # a page for a person trying the demo, not Twilio's API


def build_rest_app(carrier: "LocalCarrier") -> web.Application:
    messages = MessagesApi(carrier.sms)
    calls = CallsApi(carrier)
    app = web.Application(middlewares=[_faults_middleware(carrier), _api_middleware(carrier)])
    app.router.add_post(f"{ACCOUNT}/Messages.json", messages.create)
    app.router.add_get(f"{ACCOUNT}/Messages.json", messages.list)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}.json", messages.fetch)
    app.router.add_post(f"{ACCOUNT}/Calls.json", calls.create)
    app.router.add_get(f"{ACCOUNT}/Calls.json", calls.list)
    app.router.add_get(f"{ACCOUNT}/Calls/{{sid}}.json", calls.fetch)
    app.router.add_post(f"{ACCOUNT}/Calls/{{sid}}.json", calls.update)
    app.router.add_get("/inbox", inbox_handler(carrier.sms), name=INBOX_ROUTE)
    add_phone_routes(app, carrier)
    add_browser_phone_routes(app)
    # Recording media is public unless an account turns on media auth (the default is off).
    recording = _recording_handler(carrier)
    for suffix in ("", ".wav"):
        path = f"{ACCOUNT}/Recordings/{{sid:RE[0-9a-f]{{32}}}}{suffix}"
        app.router.add_get(path, recording, name=f"{PUBLIC_ROUTE}{suffix}")
    return app


def _is_phone(request: web.Request) -> bool:
    return (request.match_info.route.name or "").startswith(PHONE_ROUTE)


def _faults_middleware(carrier: "LocalCarrier") -> Callable[..., Awaitable[web.StreamResponse]]:
    """Injected faults stand for Twilio's REST API failing; the phones are not that API."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_phone(request):
            return await handler(request)
        return await carrier.faults.middleware(request, handler)

    return middleware


def _authorised(carrier: "LocalCarrier", request: web.Request) -> bool:
    try:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        return False
    return (
        hmac.compare_digest(auth.login.encode(), carrier.account_sid.encode())
        and hmac.compare_digest(auth.password.encode(), carrier.auth_token.encode())
        and request.match_info.get("account", carrier.account_sid) == carrier.account_sid
    )


def _api_middleware(carrier: "LocalCarrier") -> Callable[..., Awaitable[web.StreamResponse]]:
    """Basic auth (recording media excepted) and Twilio-shaped errors for everything."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        carrier.learn_rest_base(str(request.url.origin()))
        try:
            name = request.match_info.route.name or ""
            public = name.startswith(PUBLIC_ROUTE) or name == INBOX_ROUTE or _is_phone(request)
            if not public and not _authorised(carrier, request):
                raise TwilioApiError(
                    401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
                )
            return await handler(request)
        except TwilioApiError as error:
            return error.response()
        except web.HTTPNotFound:
            return not_found(request.path).response()
        except web.HTTPMethodNotAllowed:
            return TwilioApiError(405, 20004, "Method not allowed").response()

    return middleware


def _recording_handler(carrier: "LocalCarrier") -> Handler:
    async def recording(request: web.Request) -> web.Response:
        found = carrier.recordings.get(request.match_info["sid"])
        if found is None or request.match_info["account"] != carrier.account_sid:
            raise not_found(request.path)
        return web.Response(body=silent_wav(found.duration), content_type="audio/x-wav")

    return recording
