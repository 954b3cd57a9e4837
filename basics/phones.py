"""Phone numbers become E.164 the moment they enter."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str, region: str = "CN") -> str:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_number(raw: str) -> str:
    """E.164, or '' for a withheld or unparseable number (the flows handle that)."""
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        return ""


def spoken_number(e164: str) -> str:
    """How people here write the number: 0359 212 3456, 138 0013 8000."""
    parsed = phonenumbers.parse(e164)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
