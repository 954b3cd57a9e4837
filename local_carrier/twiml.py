"""Reading TwiML the way Twilio does: documents, verb attributes and their defaults."""

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from urllib.parse import urljoin, urlsplit

from .webhooks import WebhookResult

# Twilio parses these as TwiML (audio types would be played; we serve none).
TWIML_CONTENT_TYPES = frozenset({"text/xml", "application/xml", "text/html"})
DTMF_KEYS = frozenset("0123456789*#")


class TwimlError(Exception):
    """A failure Twilio reports with an error code and answers with 'application error'."""

    def __init__(self, code: int, message: str, url: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.url = url

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "url": self.url}


def parse_twiml(text: str, url: str | None = None) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}", url) from None
    if root.tag != "Response":
        raise TwimlError(12102, f"The root element must be Response, not <{root.tag}>", url)
    return root


def document_from(result: WebhookResult) -> ET.Element:
    """The TwiML an application answered, or the error Twilio would log for the answer."""
    if result.error is not None:
        raise TwimlError(11205, f"HTTP connection failure: {result.error}", result.url)
    if not result.ok:
        raise TwimlError(11200, f"HTTP retrieval failure: status {result.status}", result.url)
    if result.content_type not in TWIML_CONTENT_TYPES:
        raise TwimlError(12300, f"Invalid Content-Type: {result.content_type!r}", result.url)
    return parse_twiml(result.text, result.url)


def resolve_url(base: str | None, url: str) -> str:
    """An action URL against the document it came from (TwiML sent over REST has none)."""
    if urlsplit(url).scheme in ("http", "https", "ws", "wss"):
        return url
    if base is None:
        raise TwimlError(
            11100,
            f"Invalid URL format: {url!r} is relative and there is no "
            "document URL to resolve it against",
        )
    return urljoin(base, url)


def text_of(element: ET.Element) -> str:
    return (element.text or "").strip()


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def as_int(value: str | None, default: int | None) -> int | None:
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        return default


@dataclass(frozen=True)
class GatherSpec:
    action: str | None
    method: str
    input: tuple[str, ...]
    num_digits: int | None
    timeout: int
    finish_on_key: str
    action_on_empty_result: bool
    language: str
    hints: str | None

    @classmethod
    def of(cls, element: ET.Element) -> "GatherSpec":
        return cls(
            action=element.get("action") or None,
            method=element.get("method", "POST").upper(),
            input=tuple(element.get("input", "dtmf").split()),
            num_digits=as_int(element.get("numDigits"), None),
            timeout=as_int(element.get("timeout"), 5) or 5,
            finish_on_key=element.get("finishOnKey", "#"),
            action_on_empty_result=_flag(element.get("actionOnEmptyResult"), False),
            language=element.get("language", "en-US"),
            hints=element.get("hints"),
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RecordSpec:
    action: str | None
    method: str
    timeout: int
    finish_on_key: str
    max_length: int
    play_beep: bool
    recording_status_callback: str | None

    @classmethod
    def of(cls, element: ET.Element) -> "RecordSpec":
        return cls(
            action=element.get("action") or None,
            method=element.get("method", "POST").upper(),
            timeout=as_int(element.get("timeout"), 5) or 5,
            finish_on_key=element.get("finishOnKey", "1234567890*#"),
            max_length=as_int(element.get("maxLength"), 3600) or 3600,
            play_beep=_flag(element.get("playBeep"), True),
            recording_status_callback=element.get("recordingStatusCallback") or None,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def collect_digits(keys: str, num_digits: int | None, finish_on_key: str) -> tuple[str, str, str]:
    """Feed keys to a DTMF <Gather>: (Digits, FinishedOnKey, keys left over).

    The Gather ends at numDigits or at finishOnKey, which is not part of Digits and ends
    input only once a digit was entered (a lone finish key ends nothing). Keys running out
    first means the caller stopped typing: the Gather times out with what it has.
    """
    digits = ""
    for index, key in enumerate(keys):
        if finish_on_key and key == finish_on_key:
            if digits:
                return digits, key, keys[index + 1 :]
            continue
        digits += key
        if num_digits is not None and len(digits) >= num_digits:
            return digits, "", keys[index + 1 :]
    return digits, "", ""
