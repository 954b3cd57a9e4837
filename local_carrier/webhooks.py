"""Signed webhook delivery, byte for byte the way Twilio signs its requests."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

# Twilio waits 10 s to connect and 15 s in all for an answer (then error 11205).
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=10)


@dataclass(frozen=True)
class WebhookResult:
    """What the application answered; status 0 with `error` set when nothing came back."""

    url: str
    status: int
    text: str = ""
    content_type: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class WebhookSender:
    def __init__(self, http: aiohttp.ClientSession, auth_token: str) -> None:
        self._http = http
        self._validator = RequestValidator(auth_token)

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return self._validator.compute_signature(url, dict(params))

    async def deliver(
        self, url: str, params: Mapping[str, str], *, method: str = "POST", retries: int = 0
    ) -> WebhookResult:
        """POST the form (or GET with it in the query) and return the answer.

        A retry (after a connection failure or a 5xx) is the same delivery, so it carries
        the same I-Twilio-Idempotency-Token.
        """
        token = str(uuid.uuid4())
        result = await self._attempt(url, params, method, token)
        for _ in range(retries):
            if result.status and result.status < 500:
                break
            result = await self._attempt(url, params, method, token)
        return result

    async def _attempt(
        self, url: str, params: Mapping[str, str], method: str, token: str
    ) -> WebhookResult:
        headers = {"User-Agent": "TwilioProxy/1.1", "I-Twilio-Idempotency-Token": token}
        if method.upper() == "GET":
            # Twilio appends its parameters after the URL's own query and signs the result.
            full_url = url + ("&" if "?" in url else "?") + urlencode(params)
            headers["X-Twilio-Signature"] = self.sign(full_url, {})
            request = self._http.get(full_url, headers=headers, timeout=WEBHOOK_TIMEOUT)
        else:
            headers["X-Twilio-Signature"] = self.sign(url, params)
            request = self._http.post(
                url, data=dict(params), headers=headers, timeout=WEBHOOK_TIMEOUT
            )
        try:
            async with request as response:
                text = await response.text(errors="replace")
                return WebhookResult(url, response.status, text, response.content_type)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return WebhookResult(url, 0, error=f"{type(exc).__name__}: {exc}")
