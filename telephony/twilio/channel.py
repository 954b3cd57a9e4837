"""Twilio's webhooks as the hotline's channel: form fields and `X-Twilio-Signature` in,
TwiML out, Twilio's status words mapped through one table each."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import logging
from collections.abc import Mapping
from hashlib import sha1
from urllib.parse import parse_qsl, urlparse

from twilio.request_validator import add_port, remove_port

from basics.phones import caller_number
from hotline.channel import (
    SUBJECTS,
    ChannelReply,
    IncomingSms,
    OutboundAnswered,
    RequestRefused,
    StatusReport,
    VoiceReply,
    VoiceRequest,
    WebhookRequest,
    query_id,
)
from ivr_flows.inputs import Answer, CallStarted, Recorded
from store.statuses import CallStatus, OutboxStatus
from telephony.twilio.media_stream import TwilioStreams
from telephony.twilio.twiml import VoiceRenderer, empty_messaging_response

log = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 2000
# What the columns that keep these fields hold (Twilio's sids are 34 characters, E.164
# numbers at most 16): longer is not Twilio, and refused the same on every database.
FIELD_LENGTHS = {"CallSid": 64, "MessageSid": 64, "To": 20, "From": 32}

# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
DELIVERY_WORDS = {
    "queued": OutboxStatus.QUEUED,
    "scheduled": OutboxStatus.QUEUED,
    "accepted": OutboxStatus.ACCEPTED,
    "sending": OutboxStatus.SENDING,
    "sent": OutboxStatus.SENT,
    "delivered": OutboxStatus.DELIVERED,
    "partially_delivered": OutboxStatus.DELIVERED,
    "read": OutboxStatus.READ,
    "undelivered": OutboxStatus.UNDELIVERED,
    "failed": OutboxStatus.FAILED,
    "canceled": OutboxStatus.FAILED,
}
# https://www.twilio.com/docs/voice/api/call-resource#call-status-values
CALL_WORDS = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "failed": CallStatus.FAILED,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELED,
}


def delivery_status(word: str) -> OutboxStatus:
    """A word Twilio has not documented is a failure we can see, not a message waiting."""
    status = DELIVERY_WORDS.get(word)
    if status is None:
        log.warning("Twilio said message status %r, which we do not know: taken as failed",
                    word)
        return OutboxStatus.FAILED
    return status


def call_status(word: str) -> CallStatus:
    status = CALL_WORDS.get(word)
    if status is None:
        log.warning("Twilio said call status %r, which we do not know: taken as failed", word)
        return CallStatus.FAILED
    return status


class TwilioChannel:
    name = "twilio"
    streams: TwilioStreams | None = None  # set when speech is on

    def __init__(self, *, account_sid: str, auth_token: str, renderer: VoiceRenderer):
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._key = auth_token.encode()
        self.renderer = renderer

    def stream_to(self, stream_url: str) -> None:
        """Speech is on: prompts that listen fork the caller's audio to `stream_url`,
        each stream's start carrying a token keyed by the auth token."""
        self.renderer = dataclasses.replace(self.renderer, stream_url=stream_url,
                                            stream_secret=self._auth_token)
        self.streams = TwilioStreams(self.account_sid, self._auth_token)

    def check(self, request: WebhookRequest) -> Mapping[str, str]:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise RequestRefused("missing X-Twilio-Signature", forbidden=True)
        try:
            fields = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise RequestRefused("the form is not valid UTF-8") from None
        if not self._signature_holds(request.url, fields, signature):
            log.warning("bad Twilio signature on %s", request.url)
            raise RequestRefused("invalid X-Twilio-Signature", forbidden=True)
        return fields

    def _signature_holds(self, url: str, fields: Mapping[str, str], signature: str) -> bool:
        """Twilio's rule (`RequestValidator.validate`: the URL with its port or without,
        the form's fields sorted by name), one HMAC for a request signed as sent: the URL
        given is the public one Twilio called, as it wrote it. Only a signature that does
        not hold over it is tried over the URL's other spellings."""
        if self._holds(url, fields, signature):
            return True
        parsed = urlparse(url)
        return any(self._holds(other, fields, signature)
                   for other in {remove_port(parsed), add_port(parsed)} - {url})

    def _holds(self, url: str, fields: Mapping[str, str], signature: str) -> bool:
        signed = url + "".join(name + fields[name] for name in sorted(fields))
        expected = base64.b64encode(hmac.new(self._key, signed.encode(), sha1).digest())
        return hmac.compare_digest(expected, signature.encode())

    def voice_request(self, action: str, request: WebhookRequest,
                      fields: Mapping[str, str]) -> VoiceRequest:
        call_sid = _field(fields, "CallSid")
        _field(fields, "To", required=False)  # the number called: refused if malformed
        if action in SUBJECTS:  # a call we placed was answered: `To` is the worker
            subject = OutboundAnswered(action, query_id(request.query, SUBJECTS[action]))
            return VoiceRequest(call_sid, caller_number(_field(fields, "To")), None, subject,
                                outbound=True)
        phone = caller_number(_field(fields, "From", required=False))
        if action == "":
            return VoiceRequest(call_sid, phone, None, CallStarted())
        turn = query_id(request.query, "t", what="turn")
        if action == "gather":
            return VoiceRequest(call_sid, phone, turn,
                                Answer(_field(fields, "Digits", required=False)))
        if action == "record":
            try:
                duration = int(_field(fields, "RecordingDuration", required=False) or 0)
            except ValueError:
                raise RequestRefused("RecordingDuration is not a number") from None
            return VoiceRequest(call_sid, phone, turn, Recorded(
                _field(fields, "RecordingUrl", required=False), duration,
                _field(fields, "Digits", required=False)))
        raise RequestRefused(f"no voice webhook {action!r}")

    def incoming_sms(self, fields: Mapping[str, str]) -> IncomingSms:
        phone = caller_number(_field(fields, "From"))
        if not phone:
            raise RequestRefused("From is not a phone number")
        return IncomingSms(_field(fields, "MessageSid"), phone,
                           _field(fields, "To", required=False),
                           _field(fields, "Body", required=False))

    def status(self, fields: Mapping[str, str]) -> StatusReport:
        word = _field(fields, "MessageStatus", required=False)
        if word:
            error = _field(fields, "ErrorCode", required=False)
            return StatusReport(message_sid=_field(fields, "MessageSid"),
                                delivery=delivery_status(word),
                                error_code=int(error) if error.isdigit() else None,
                                carrier_word=word)
        word = _field(fields, "CallStatus")
        return StatusReport(call_sid=_field(fields, "CallSid"), call=call_status(word),
                            carrier_word=word)

    def render(self, reply: VoiceReply) -> ChannelReply:
        return ChannelReply(self.renderer.render(list(reply.commands), reply.turn,
                                                 reply.call_sid, reply.listened_before),
                            "text/xml")

    def sms_reply(self) -> ChannelReply:
        return ChannelReply(empty_messaging_response(), "text/xml")


def _field(fields: Mapping[str, str], name: str, *, required: bool = True) -> str:
    value = fields.get(name, "")
    if (not isinstance(value, str) or len(value) > FIELD_LENGTHS.get(name, MAX_FIELD_LENGTH)
            or "\x00" in value):
        raise RequestRefused(f"{name} is not a short text field")
    if required and not value:
        raise RequestRefused(f"missing {name}")
    return value

