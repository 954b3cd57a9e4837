"""The carrier interface the market talks to. Twilio is the first carrier; a domestic
one (Asterisk ARI plus an SMS gateway) plugs in here without touching the flows."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class CarrierError(Exception):
    """A send the carrier refused or that did not get through.

    `retryable` is True for rate limits, server errors and timeouts; False for errors
    that will never succeed (invalid number, opted out, body too long)."""

    def __init__(self, message: str, *, code: int | None, retryable: bool,
                 opted_out: bool = False):
        super().__init__(message)
        self.code, self.retryable, self.opted_out = code, retryable, opted_out


class Carrier(Protocol):
    async def send_sms(self, to: str, body: str, *, status_callback: str | None) -> str:
        """Hands the message to the carrier; returns the carrier's message id."""

    async def find_sent_sms(self, to: str, body: str, *, since: datetime) -> str | None:
        """The id of a message with this body sent to `to` since `since`, if the carrier
        has one: how a send whose outcome was never recorded is reconciled."""

    async def place_call(self, to: str, url: str, *, status_callback: str | None) -> str:
        """Rings `to`; when answered the carrier fetches `url` for what to say.
        Returns the carrier's call id."""

    async def find_placed_call(self, to: str, *, since: datetime) -> str | None:
        """The id of a call placed to `to` since `since`, if the carrier has one."""

    async def redirect_call(self, call_sid: str, twiml: str) -> None:
        """Replaces what a live call is doing with `twiml` (absolute URLs only): how a
        spoken answer moves the call on while its prompt is still playing."""

    async def close(self) -> None: ...
