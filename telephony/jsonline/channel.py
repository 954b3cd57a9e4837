"""JSON Line's webhooks as the hotline's channel (the protocol: telephony/jsonline/)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping

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
from ivr_flows.commands import Ask, ConnectAgent, HangUp, RecordName, Say
from ivr_flows.inputs import Answer, CallStarted, Recorded
from store.statuses import CallStatus, OutboxStatus
from telephony.jsonline.signing import SIGNATURE_HEADER, signature

log = logging.getLogger(__name__)

NAME = "jsonline"
MAX_TEXT = 2000
SHORT = {"call": 64, "id": 64, "message": 64, "from": 32, "to": 32, "keys": 32, "state": 32}
RECORD_END_KEYS = "#*0"  # * (repeat) and 0 (agent) work while recording too

# JSON Line's words are the hotline's own.
DELIVERY_WORDS = {status.value: status for status in (
    OutboxStatus.QUEUED, OutboxStatus.ACCEPTED, OutboxStatus.SENDING, OutboxStatus.SENT,
    OutboxStatus.DELIVERED, OutboxStatus.UNDELIVERED, OutboxStatus.FAILED, OutboxStatus.READ)}
CALL_WORDS = {status.value: status for status in CallStatus}


class JsonLineChannel:
    name = NAME

    def __init__(self, *, secret: str, public_url: str):
        self._secret, self._base = secret, f"{public_url}/{NAME}/voice"

    def check(self, request: WebhookRequest) -> Mapping[str, object]:
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise RequestRefused(f"missing {SIGNATURE_HEADER}", forbidden=True)
        if not hmac.compare_digest(given, signature(self._secret, request.url, request.body)):
            log.warning("bad JSON Line signature on %s", request.url)
            raise RequestRefused(f"invalid {SIGNATURE_HEADER}", forbidden=True)
        try:
            fields = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            raise RequestRefused("the body is not JSON") from None
        if not isinstance(fields, dict):
            raise RequestRefused("the body is not a JSON object")
        return fields

    def voice_request(self, action: str, request: WebhookRequest,
                      fields: Mapping[str, object]) -> VoiceRequest:
        call = _text(fields, "call")
        if action in SUBJECTS:
            subject = OutboundAnswered(action, query_id(request.query, SUBJECTS[action]))
            return VoiceRequest(call, caller_number(_text(fields, "to")), None, subject,
                                outbound=True)
        phone = caller_number(_text(fields, "from", required=False))
        if action == "":
            return VoiceRequest(call, phone, None, CallStarted())
        turn = query_id(request.query, "t")
        if action == "keys":
            return VoiceRequest(call, phone, turn, Answer(_text(fields, "keys", required=False)))
        if action == "recording":
            recording = fields.get("recording")
            if not isinstance(recording, dict):
                raise RequestRefused("recording is not an object")
            seconds = recording.get("seconds", 0)
            if not isinstance(seconds, int) or not 0 <= seconds <= 3600:
                raise RequestRefused("recording.seconds is not a number of seconds")
            url = _text(recording, "url", required=False)
            ended_by = _text(recording, "ended_by", required=False)
            if not url:  # nothing was said: the prompt is asked again, as after silence
                return VoiceRequest(call, phone, turn, Answer(ended_by))
            return VoiceRequest(call, phone, turn, Recorded(url, seconds, ended_by))
        raise RequestRefused(f"no voice webhook {action!r}")

    def incoming_sms(self, fields: Mapping[str, object]) -> IncomingSms:
        phone = caller_number(_text(fields, "from"))
        if not phone:
            raise RequestRefused("from is not a phone number")
        return IncomingSms(_text(fields, "id"), phone, _text(fields, "to", required=False),
                           _text(fields, "text", required=False))

    def status(self, fields: Mapping[str, object]) -> StatusReport:
        word = _text(fields, "state")
        if "message" in fields:
            error = fields.get("error")
            return StatusReport(message_sid=_text(fields, "message"),
                                delivery=to_status(DELIVERY_WORDS, word, OutboxStatus.FAILED),
                                error_code=error if isinstance(error, int) else None,
                                carrier_word=word)
        return StatusReport(call_sid=_text(fields, "call"),
                            call=to_status(CALL_WORDS, word, CallStatus.FAILED),
                            carrier_word=word)

    def render(self, reply: VoiceReply) -> ChannelReply:
        steps: list[dict] = []
        for command in reply.commands:
            match command:
                case Say(text=text):
                    steps.append({"say": text})
                case Ask():
                    steps.append({"ask": {
                        "say": list(command.prompts), "keys": command.max_digits,
                        "end_key": command.finish_on_key, "wait": command.timeout_seconds,
                        "next": f"{self._base}/keys?t={reply.turn}"}})
                case RecordName(prompts=prompts, max_seconds=seconds):
                    steps.append({"record": {
                        "say": list(prompts), "seconds": seconds, "end_keys": RECORD_END_KEYS,
                        "next": f"{self._base}/recording?t={reply.turn}"}})
                case ConnectAgent(numbers=numbers):
                    steps.append({"dial": list(numbers)})
                case HangUp():
                    steps.append({"hangup": {}})
                case _:
                    raise TypeError(f"not a voice command: {command!r}")
        return ChannelReply(json.dumps({"steps": steps}, ensure_ascii=False),
                            "application/json")

    def sms_reply(self) -> ChannelReply:
        return ChannelReply("", "text/plain", status=204)


def to_status(table: dict, word: str, failure):
    if word not in table:
        log.warning("JSON Line said state %r, which we do not know: taken as failed", word)
        return failure
    return table[word]


def _text(fields: Mapping[str, object], name: str, *, required: bool = True) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str) or len(value) > SHORT.get(name, MAX_TEXT) or "\x00" in value:
        raise RequestRefused(f"{name} is not a short text field")
    if required and not value:
        raise RequestRefused(f"missing {name}")
    return value

