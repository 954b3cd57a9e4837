"""/Messages.json: send, list (with Twilio's filters and paging) and fetch."""

import operator
from collections.abc import Mapping
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from aiohttp import web

from .errors import bad_request, not_found
from .ids import to_e164
from .messages import MessageRecord
from .sms_center import SmsCenter

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PAGING_KEYS = ("Page", "PageSize", "PageToken")


class MessagesApi:
    def __init__(self, sms: SmsCenter) -> None:
        self._sms = sms

    async def create(self, request: web.Request) -> web.Response:
        record = self._sms.create(await request.post())
        return web.json_response(record.to_json(), status=201)

    async def fetch(self, request: web.Request) -> web.Response:
        record = self._sms.message(request.match_info["sid"])
        if record is None:
            raise not_found(request.path)
        return web.json_response(record.to_json())

    async def list(self, request: web.Request) -> web.Response:
        query = request.query
        records = [r for r in self._sms.messages() if _matches(r, query)]
        page_size = min(max(_int(query, "PageSize", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
        page = max(_int(query, "Page", 0), 0)
        start = page * page_size
        chunk = records[start : start + page_size]
        kept = [(k, v) for k, v in query.items() if k not in _PAGING_KEYS]

        def page_uri(number: int) -> str:
            params = [*kept, ("PageSize", str(page_size)), ("Page", str(number))]
            return f"{request.path}?{urlencode(params)}"

        next_uri = None
        if start + page_size < len(records):
            next_uri = f"{page_uri(page + 1)}&PageToken=PA{chunk[-1].sid}"
        return web.json_response(
            {
                "end": start + max(len(chunk) - 1, 0),
                "first_page_uri": page_uri(0),
                "messages": [record.to_json() for record in chunk],
                "next_page_uri": next_uri,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            }
        )


def _int(query: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError:
        raise bad_request(20001, f"Invalid {key}: {query[key]!r}") from None


def _same_number(a: str | None, b: str) -> bool:
    return a is not None and (to_e164(a) or a) == (to_e164(b) or b)


def _matches(record: MessageRecord, query: Mapping[str, str]) -> bool:
    if "To" in query and not _same_number(record.to, query["To"]):
        return False
    if "From" in query and not _same_number(record.from_, query["From"]):
        return False
    for key, default_op in (("DateSent", "="), ("DateSent>", ">="), ("DateSent<", "<=")):
        if key in query and not _date_matches(record.date_sent, query[key], default_op):
            return False
    return True


_COMPARE = {"=": operator.eq, ">=": operator.ge, "<=": operator.le}


def _date_matches(sent: datetime | None, raw: str, op: str) -> bool:
    """DateSent filters: a UTC date (YYYY-MM-DD, whole day) or a datetime, inclusive.

    twilio-python sends datetimes as YYYY-MM-DDTHH:MM:SSZ; the documented forms also allow
    the comparison inside the value (DateSent=>=2024-05-01).
    """
    for prefix in (">=", "<="):
        if raw.startswith(prefix):
            op, raw = prefix, raw[len(prefix) :]
    bound = _parse_date(raw)
    if sent is None:
        return False  # not sent yet: no sent date to filter on
    if isinstance(bound, datetime):
        return _COMPARE[op](sent, bound)
    return _COMPARE[op](sent.astimezone(UTC).date(), bound)


def _parse_date(raw: str) -> date | datetime:
    try:
        if "T" in raw:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_request(20001, f"Invalid DateSent value: {raw!r}") from None
