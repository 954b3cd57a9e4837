"""Signs requests the way Twilio does, for tests that play Twilio's side."""

from __future__ import annotations

from twilio.request_validator import RequestValidator


def signed_headers(token: str, url: str, params: dict) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def voice_params(call_sid: str, caller: str = "+8613800000001", **extra: str) -> dict:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 31 + "1",
        "From": caller,
        "To": "+863592123456",
        "Caller": caller,
        "Called": "+863592123456",
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }
