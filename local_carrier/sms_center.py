"""SMS: validating sends like Twilio, delivering them to simulated phones, and phones texting in.

Opt-out follows Twilio's default handling: a phone that texts one of the opt-out keywords
(the whole body, any case) is unsubscribed from the hotline number until it texts an opt-in
keyword; Twilio confirms both with an automatic reply, and sends to an unsubscribed phone
fail with 21610.
"""

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from .errors import bad_request
from .ids import (
    API_VERSION,
    country_of,
    is_fixed_line,
    new_sid,
    require_e164,
    to_e164,
    utcnow,
)
from .messages import MessageRecord, SimulatedSms
from .segments import num_segments
from .tasks import TaskTracker
from .webhooks import WebhookResult, WebhookSender

MAX_BODY = 1600
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
AUTO_REPLIES = {
    "out": "You have successfully been unsubscribed. You will not receive any more messages "
    "from this number. Reply START to resubscribe.",
    "in": "You have successfully been re-subscribed to messages from this number. "
    "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "help": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}
UNDELIVERED_MESSAGES = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30008: "Unknown error",
}

SmsPredicate = Callable[[SimulatedSms], bool]


def _keyword_kind(body: str) -> str | None:
    word = body.strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "out"
    if word in OPT_IN_KEYWORDS:
        return "in"
    if word in HELP_KEYWORDS:
        return "help"
    return None


class SmsCenter:
    def __init__(
        self,
        *,
        account_sid: str,
        hotline_number: str,
        sms_webhook_url: str,
        webhooks: WebhookSender,
        tasks: TaskTracker,
        changed: asyncio.Condition,
    ) -> None:
        self._account_sid = account_sid
        self._hotline = hotline_number
        self._sms_url = sms_webhook_url
        self._webhooks = webhooks
        self._tasks = tasks
        self._changed = changed
        self._messages: dict[str, MessageRecord] = {}
        self._inboxes: dict[str, list[SimulatedSms]] = {}
        self._seen: set[str] = set()
        self._opted_out: set[str] = set()
        self._unreachable: dict[str, int] = {}

    # --- state a test looks at -------------------------------------------------------------

    def messages(self) -> list[MessageRecord]:
        """Every message, newest first, as Twilio lists them."""
        return list(reversed(self._messages.values()))

    def message(self, sid: str) -> MessageRecord | None:
        return self._messages.get(sid)

    def inbox(self, phone: str) -> list[SimulatedSms]:
        return list(self._inboxes.get(require_e164(phone), []))

    def is_opted_out(self, phone: str) -> bool:
        return require_e164(phone) in self._opted_out

    def set_unreachable(self, phone: str, error_code: int | None = 30003) -> None:
        """Make sends to this phone end 'undelivered' with error_code (None makes it reachable)."""
        if error_code is None:
            self._unreachable.pop(require_e164(phone), None)
        else:
            self._unreachable[require_e164(phone)] = error_code

    async def next_sms(self, phone: str, predicate: SmsPredicate | None) -> SimulatedSms:
        """The oldest delivered SMS this phone was not yet handed that matches predicate."""
        key = require_e164(phone)

        def unseen() -> SimulatedSms | None:
            for sms in self._inboxes.get(key, []):
                if sms.sid not in self._seen and (predicate is None or predicate(sms)):
                    return sms
            return None

        async with self._changed:
            sms = await self._changed.wait_for(unseen)
        self._seen.add(sms.sid)
        return sms

    # --- Twilio REST: create ----------------------------------------------------------------

    def create(self, form: Mapping[str, str]) -> MessageRecord:
        """Validate a Messages.json POST as Twilio does; queue the message for delivery."""
        to = form.get("To", "").strip()
        if not to:
            raise bad_request(21604, "A 'To' phone number is required.")
        recipient = to_e164(to)
        if recipient is None:
            raise bad_request(21211, f"Invalid 'To' Phone Number: {to}")
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or None
        if service is None and sender is None:
            raise bad_request(21603, "A 'From' phone number is required.")
        if service is not None and not (service.startswith("MG") and len(service) == 34):
            raise bad_request(21701, f"The Messaging Service Sid {service} is invalid.")
        if sender is not None and not _same_number(sender, self._hotline):
            raise bad_request(
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        body = form.get("Body", "")
        if not body:
            raise bad_request(21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise bad_request(
                21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if is_fixed_line(recipient):
            raise bad_request(21614, f"'To' number {recipient} is not a valid mobile number")
        if recipient in self._opted_out:
            raise bad_request(21610, "Attempt to send to unsubscribed recipient")
        return self._queue(
            to=recipient,
            body=body,
            direction="outbound-api",
            # With a Messaging Service no sender is chosen yet: Twilio answers "accepted",
            # from null and 0 segments, and fills them in when it sends.
            from_=None if service else self._hotline,
            service=service,
            status_callback=form.get("StatusCallback") or None,
        )

    def _queue(
        self,
        *,
        to: str,
        body: str,
        direction: str,
        from_: str | None,
        service: str | None = None,
        status_callback: str | None = None,
    ) -> MessageRecord:
        record = MessageRecord(
            sid=new_sid("SM"),
            account_sid=self._account_sid,
            to=to,
            from_=from_,
            body=body,
            direction=direction,
            status="accepted" if service else "queued",
            num_segments=0 if service else num_segments(body),
            messaging_service_sid=service,
            status_callback=status_callback,
        )
        self._messages[record.sid] = record
        self._tasks.spawn(self._deliver(record))
        return record

    async def _deliver(self, record: MessageRecord) -> None:
        await asyncio.sleep(0)  # the 201 goes out before anything else happens
        if record.from_ is None:
            record.from_ = self._hotline
            record.num_segments = num_segments(record.body)
        record.date_sent = utcnow()
        record.set_status("sent")
        await self._status_callback(record)
        error = self._unreachable.get(record.to)
        if error is not None:
            record.error_code = error
            record.error_message = UNDELIVERED_MESSAGES.get(error, "Undelivered")
            record.set_status("undelivered")
            await self._status_callback(record)
            return
        sms = SimulatedSms(record.sid, record.from_, record.to, record.body, utcnow())
        self._inboxes.setdefault(record.to, []).append(sms)
        record.set_status("delivered")
        async with self._changed:
            self._changed.notify_all()
        await self._status_callback(record)

    async def _status_callback(self, record: MessageRecord) -> None:
        if not record.status_callback:
            return
        params = {
            "AccountSid": record.account_sid,
            "ApiVersion": API_VERSION,
            "From": record.from_ or "",
            "MessageSid": record.sid,
            "MessageStatus": record.status,
            "SmsSid": record.sid,
            "SmsStatus": record.status,
            "To": record.to,
        }
        if record.messaging_service_sid:
            params["MessagingServiceSid"] = record.messaging_service_sid
        if record.error_code is not None:
            params["ErrorCode"] = str(record.error_code)
        await self._webhooks.deliver(record.status_callback, params, retries=1)

    # --- a phone texts the hotline ----------------------------------------------------------

    async def receive(self, from_phone: str, body: str) -> WebhookResult:
        """Post the signed 'message comes in' webhook and act on the TwiML it answers."""
        phone = require_e164(from_phone)
        record = MessageRecord(
            sid=new_sid("SM"),
            account_sid=self._account_sid,
            to=self._hotline,
            from_=phone,
            body=body,
            direction="inbound",
            status="received",
            num_segments=num_segments(body),
            date_sent=utcnow(),
        )
        self._messages[record.sid] = record
        kind = _keyword_kind(body)
        if kind == "out":
            self._opted_out.add(phone)
        elif kind == "in":
            self._opted_out.discard(phone)
        if kind is not None:
            self._queue(
                to=phone, body=AUTO_REPLIES[kind], direction="outbound-reply", from_=self._hotline
            )
        params = {
            "AccountSid": self._account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": phone,
            "FromCountry": country_of(phone),
            "MessageSid": record.sid,
            "NumMedia": "0",
            "NumSegments": str(record.num_segments),
            "SmsMessageSid": record.sid,
            "SmsSid": record.sid,
            "SmsStatus": "received",
            "To": self._hotline,
            "ToCountry": country_of(self._hotline),
        }
        result = await self._webhooks.deliver(self._sms_url, params)
        if result.ok:
            self._send_replies(result.text, phone)
        return result

    def _send_replies(self, twiml: str, phone: str) -> None:
        """<Message> verbs in the answer are sent as replies (not to unsubscribed phones)."""
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError:
            return  # an empty or non-XML answer just means "no reply"
        for verb in root.iter("Message"):
            nested = verb.find("Body")
            body = (nested.text if nested is not None else verb.text) or ""
            to = to_e164(verb.get("to", phone)) or phone
            if body.strip() and to not in self._opted_out:
                self._queue(
                    to=to, body=body.strip(), direction="outbound-reply", from_=self._hotline
                )


def _same_number(a: str, b: str) -> bool:
    return (to_e164(a) or a) == (to_e164(b) or b)
