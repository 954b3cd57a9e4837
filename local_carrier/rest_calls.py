"""/Calls.json: place an outbound call, fetch one, and update a live one."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from .call import ScriptedCall
from .errors import bad_request, not_found
from .ids import API_VERSION, formatted, rfc2822, to_e164

if TYPE_CHECKING:
    from .carrier import LocalCarrier

FINAL_UPDATE_STATUSES = ("completed", "canceled")


def call_json(call: ScriptedCall, account_sid: str) -> dict[str, object]:
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{call.sid}.json"
    base = uri.removesuffix(".json")
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.created_at),
        "date_updated": rfc2822(call.ended_at or call.answered_at or call.created_at),
        "direction": call.direction,
        "duration": str(call.duration) if call.ended else None,
        "end_time": rfc2822(call.ended_at),
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": formatted(call.from_),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.answered_at),
        "status": call.status,
        "subresource_uris": {
            name: f"{base}/{name.title().replace('_', '')}.json"
            for name in ("notifications", "recordings", "events", "streams")
        },
        "to": call.to,
        "to_formatted": formatted(call.to),
        "trunk_sid": None,
        "uri": uri,
    }


def _absolute_url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise bad_request(21205, f"Url is not a valid URL: {url}")
    return url


def _parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(20001, f"Invalid StartTime: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _method(form: Mapping[str, str], key: str) -> str:
    method = form.get(key, "POST").upper()
    if method not in ("GET", "POST"):
        raise bad_request(21207, f"{key} must be GET or POST, not {method}")
    return method


class CallsApi:
    def __init__(self, carrier: "LocalCarrier") -> None:
        self._carrier = carrier

    def _call(self, request: web.Request) -> ScriptedCall:
        call = self._carrier.call(request.match_info["sid"])
        if call is None:
            raise not_found(request.path)
        return call

    def _json(self, call: ScriptedCall, status: int = 200) -> web.Response:
        return web.json_response(call_json(call, self._carrier.account_sid), status=status)

    async def create(self, request: web.Request) -> web.Response:
        form = await request.post()
        to = form.get("To", "").strip()
        if not to:
            raise bad_request(21201, "No 'To' number is specified")
        phone = to_e164(to)
        if phone is None:
            raise bad_request(21211, f"Invalid 'To' Phone Number: {to}")
        sender = form.get("From", "").strip()
        if not sender:
            raise bad_request(21213, "No 'From' number is specified")
        if (to_e164(sender) or sender) != (
            to_e164(self._carrier.hotline_number) or self._carrier.hotline_number
        ):
            raise bad_request(
                21210,
                f"The source phone number provided, {sender}, is not "
                "yet verified for your account.",
            )
        twiml = form.get("Twiml") or None
        url = form.get("Url") or None
        if twiml is None and url is None:
            raise bad_request(21205, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required.")
        call = await self._carrier.start_outbound_call(
            phone,
            url=_absolute_url(url) if url else None,
            method=_method(form, "Method"),
            twiml=twiml,
            status_callback=form.get("StatusCallback") or None,
            status_callback_method=_method(form, "StatusCallbackMethod"),
            status_events=form.getall("StatusCallbackEvent", None) or ("completed",),
        )
        return self._json(call, status=201)

    async def fetch(self, request: web.Request) -> web.Response:
        return self._json(self._call(request))

    async def list(self, request: web.Request) -> web.Response:
        """Twilio's call list with its To and StartTime> filters (how Gigline checks
        whether an alert call it never recorded went out). One page holds them all."""
        query = request.query
        to = to_e164(query["To"]) if "To" in query else None
        after = _parse_time(query.get("StartTime>"))
        calls = [c for c in self._carrier.calls()
                 if (to is None or c.to == to) and (after is None or c.created_at >= after)]
        calls.sort(key=lambda c: c.created_at, reverse=True)
        return web.json_response({
            "calls": [call_json(c, self._carrier.account_sid) for c in calls],
            "end": max(len(calls) - 1, 0), "first_page_uri": request.path_qs,
            "next_page_uri": None, "page": 0, "page_size": max(len(calls), 50),
            "previous_page_uri": None, "start": 0, "uri": request.path_qs,
        })

    async def update(self, request: web.Request) -> web.Response:
        call = self._call(request)
        form = await request.post()
        status = form.get("Status")
        if status is not None:
            if status not in FINAL_UPDATE_STATUSES:
                raise bad_request(20001, f"Invalid Status: {status}")
            # "canceled" only reaches calls not yet answered; "completed" hangs up any.
            if not call.ended and (status == "completed" or call.answered_at is None):
                call.terminate(status)
            return self._json(call)
        twiml = form.get("Twiml") or None
        url = form.get("Url") or None
        if twiml is None and url is None:
            return self._json(call)
        if call.ended:
            raise bad_request(21220, "Call is not in-progress. Cannot redirect.")
        call.redirect(
            url=_absolute_url(url) if url else None, method=_method(form, "Method"), twiml=twiml
        )
        return self._json(call)
