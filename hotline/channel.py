"""The channel interface: a carrier's webhooks in both directions, as nyaruka/mailroom's
`ivr.Service`. Each carrier implements it (telephony/twilio/, telephony/jsonline/); the
HTTP routes that use it (telephony/webhooks.py) are the same for every carrier.

A request comes in as a `WebhookRequest`; the channel checks it is the carrier's, then
turns it into a domain input (a call turn, an SMS, a status). The dialogue's commands go
back out through `render`, after the turn's transaction: a retried webhook is answered by
rendering the commands the turn stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ivr_flows.inputs import FlowInput
from store.statuses import CallStatus, OutboxStatus


class RequestRefused(Exception):
    """Not the carrier's request (`forbidden`: a missing or wrong signature) or not one it
    would send (a malformed field): the route answers 403 or 400 with the reason."""

    def __init__(self, reason: str, *, forbidden: bool = False):
        super().__init__(reason)
        self.reason, self.forbidden = reason, forbidden


@dataclass(frozen=True)
class WebhookRequest:
    url: str  # the public URL the carrier called (what it signed), query included
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class OutboundAnswered:
    """A call we placed was answered: what it is about (`alert`, `pay`, `hired`) and the
    id of that offer, pay check or hire, from the URL the call was placed with."""

    subject: str
    subject_id: int


MAX_ID = 2**31 - 1  # the store's keys are PostgreSQL integers


def query_id(query: Mapping[str, str], name: str, *, what: str = "") -> int:
    """An id our own URL carries back (a turn, an offer): refused if lost or out of range."""
    what = what or name
    try:
        value = int(query[name])
    except (KeyError, ValueError):
        raise RequestRefused(f"the URL lost its {what} number") from None
    if not 0 <= value <= MAX_ID:
        raise RequestRefused(f"the URL's {what} number is out of range")
    return value


# What a call we place can be about, and the query field naming its id: the rules write
# a call's subject as `alert?offer=12`, and the carrier calls /<name>/voice/alert?offer=12.
SUBJECTS = {"alert": "offer", "pay": "check", "hired": "hire"}


@dataclass(frozen=True)
class VoiceRequest:
    call_sid: str
    phone: str  # the worker's end: who called, or whom we called ("" if not a number)
    turn: int | None  # the turn this answers (from our own URL); None: the call starts
    event: FlowInput | OutboundAnswered
    outbound: bool = False


@dataclass(frozen=True)
class IncomingSms:
    message_sid: str
    phone: str
    to: str
    body: str


@dataclass(frozen=True)
class StatusReport:
    """A delivery status (`message_sid` set) or a call status (`call_sid` set), already in
    the hotline's words."""

    message_sid: str = ""
    delivery: OutboxStatus | None = None
    error_code: int | None = None
    call_sid: str = ""
    call: CallStatus | None = None
    carrier_word: str = ""  # as the carrier said it, for the log


@dataclass(frozen=True)
class VoiceReply:
    """What the dialogue says this turn, to be rendered in the carrier's language."""

    commands: tuple  # ivr_flows.commands.VoiceCommand
    turn: int  # goes into every URL the answer asks the carrier to call back
    call_sid: str
    listened_before: bool  # the previous prompt listened for speech: stop its stream


@dataclass(frozen=True)
class ChannelReply:
    body: str
    content_type: str
    status: int = 200


class MediaStreamError(ValueError):
    """A media stream message that is not the carrier's, or a stream for no prompt of
    ours: the stream is closed, the call goes on by keypad."""


@dataclass(frozen=True)
class StreamStart:
    """A stream of the caller's audio began, proven to be for the prompt of `turn`."""

    call_sid: str
    turn: int


@dataclass(frozen=True)
class StreamAudio:
    mulaw: bytes  # 8 kHz μ-law


@dataclass(frozen=True)
class StreamEnd:
    pass


StreamEvent = StreamStart | StreamAudio | StreamEnd


class StreamProtocol(Protocol):
    """A carrier's media stream messages in the hotline's words, as pipecat keeps each
    carrier's wire format behind a serializer."""

    max_message: int  # bytes: anything longer is not the carrier's

    def read(self, message: str) -> StreamEvent | None:
        """The event a text message carries; None for one that needs nothing done.
        Raises MediaStreamError for anything else, or for a start that does not prove
        it is for a prompt we rendered."""


class Channel(Protocol):
    name: str  # the webhooks' path prefix: /<name>/voice, /<name>/sms, /<name>/status

    def check(self, request: WebhookRequest) -> Mapping[str, str]:
        """The request's fields, once its signature proves it is the carrier's; raises
        RequestRefused otherwise."""

    def voice_request(self, action: str, request: WebhookRequest,
                      fields: Mapping[str, str]) -> VoiceRequest:
        """A voice webhook as a turn's input. `action` is the path after /voice/ ("" for
        a new inbound call): the words the channel's own answers asked to be called on."""

    def incoming_sms(self, fields: Mapping[str, str]) -> IncomingSms: ...

    def status(self, fields: Mapping[str, str]) -> StatusReport:
        """The carrier's status words mapped through its one table; a word not in it is
        logged and reported as a failure."""

    def render(self, reply: VoiceReply) -> ChannelReply: ...

    def sms_reply(self) -> ChannelReply:
        """The answer to an inbound SMS: replies go through the outbox, so it says nothing."""
