"""Twilio-shaped identifiers, timestamps and phone numbers."""

import secrets
from datetime import UTC, datetime
from email.utils import format_datetime

import phonenumbers

API_VERSION = "2010-04-01"
DEFAULT_REGION = "CN"


def new_sid(prefix: str) -> str:
    """A Twilio SID: two-letter prefix and 32 hex digits (e.g. CA…, SM…, RE…)."""
    return prefix + secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's REST dates: RFC 2822 in GMT, e.g. 'Mon, 20 Nov 2023 10:00:00 +0000'."""
    return None if moment is None else format_datetime(moment.astimezone(UTC))


def to_e164(number: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of a valid number, or None when it is not a real number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def require_e164(number: str) -> str:
    """E.164 for a simulated phone's number; a typo fails loudly instead of going nowhere."""
    e164 = to_e164(number)
    if e164 is None:
        raise ValueError(f"not a valid phone number: {number!r}")
    return e164


def is_fixed_line(e164: str) -> bool:
    """True for landlines, which cannot receive SMS (Twilio error 21614)."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    return kind == phonenumbers.PhoneNumberType.FIXED_LINE


def country_of(number: str) -> str:
    """ISO country of a number, as Twilio sends in FromCountry/ToCountry ('' if unknown)."""
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(parsed) or ""


def formatted(number: str) -> str:
    """Human form used in the *_formatted fields of the Call resource."""
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
