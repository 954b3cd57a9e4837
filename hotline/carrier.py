"""The carrier's REST side, which the application layer owns and each carrier implements
(telephony/twilio/rest.py, telephony/jsonline/rest.py): send SMS, place calls, look up what
was sent. Its webhook side is hotline/channel.py. A domestic carrier (Asterisk ARI plus an
SMS gateway) plugs in here without touching dialogues, rules or the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from store.statuses import CallStatus, OutboxStatus


class CarrierError(Exception):
    """A request the carrier refused or that did not get through.

    `retryable` is True for rate limits, server errors and timeouts; False for errors
    that will never succeed (invalid number, opted out, body too long).
    `outcome_unknown` is True when the request went out and no answer came back (a
    timeout, a connection dropped mid-request): the carrier may have acted on it, so it
    must be asked before the request is made again."""

    def __init__(self, message: str, *, code: int | None, retryable: bool,
                 opted_out: bool = False, outcome_unknown: bool = False):
        super().__init__(message)
        self.code, self.retryable, self.opted_out = code, retryable, opted_out
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS the carrier took in for us, as its message list shows it."""

    message_sid: str
    phone: str  # the sender
    to: str
    body: str
    received_at: datetime


class Carrier(Protocol):
    async def send_sms(self, to: str, body: str) -> str:
        """Hands the message to the carrier, asking for its delivery reports; returns the
        carrier's message id."""

    async def find_sent_sms(self, to: str, body: str, *, since: datetime) -> list[str]:
        """The ids of the messages with this body the carrier took for `to` since
        `since`, oldest first: how a send whose outcome is unknown is reconciled."""

    async def sms_status(self, message_sid: str) -> tuple[OutboxStatus, int | None]:
        """The message's status and error code now."""

    async def received_sms(self, *, since: datetime) -> list[ReceivedSms]:
        """Every SMS sent to us since `since`, oldest first: what could not be stored
        while the database was down is taken from here."""

    async def place_call(self, to: str, subject: str) -> str:
        """Rings `to` about `subject` (`alert?offer=12`: what the call is about, as the
        channel's voice webhook for it is named); when answered the carrier asks that
        webhook what to say. Returns the carrier's call id."""

    async def find_placed_calls(self, to: str, *, since: datetime) -> list[str]:
        """The ids of the calls placed to `to` since `since`, oldest first."""

    async def call_status(self, call_sid: str) -> CallStatus:
        """The call's status now."""

    async def redirect_call(self, call_sid: str, answer: str) -> None:
        """Replaces what a live call is doing with `answer`, the channel's rendering of
        the next turn (absolute URLs only): how a spoken answer moves the call on while
        its prompt is still playing."""

    async def close(self) -> None: ...
