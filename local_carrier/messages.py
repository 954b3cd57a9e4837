"""The Message resource as Twilio stores and renders it, and the phone-side copy of an SMS."""

from dataclasses import dataclass, field
from datetime import datetime

from .ids import API_VERSION, rfc2822, utcnow


@dataclass(frozen=True)
class SimulatedSms:
    """An SMS as the simulated phone got it."""

    sid: str
    from_: str
    to: str
    body: str
    time: datetime


@dataclass
class MessageRecord:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    direction: str  # inbound | outbound-api | outbound-reply
    status: str
    num_segments: int
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    date_created: datetime = field(default_factory=utcnow)
    date_updated: datetime = field(default_factory=utcnow)
    date_sent: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None

    def set_status(self, status: str) -> None:
        self.status = status
        self.date_updated = utcnow()

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, object]:
        # Twilio renders counts as strings and leaves price empty until it is billed.
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }
