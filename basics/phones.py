"""Phone numbers become E.164 the moment they enter."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


# Parsing a number costs more than the rest of reading a webhook, and a caller's number
# comes with every turn of their call: each is parsed once while it is in use. Bounded,
# so numbers the carrier sends cannot grow the process.
NUMBERS_KEPT = 8192


def to_e164(raw: str, region: str = "CN") -> str:
    e164 = _valid_e164(raw, region)
    # A number that is not valid is parsed again, to say why as the parser saw it.
    return e164 if e164 is not None else _formatted(_parse_valid(raw, region))


@lru_cache(maxsize=NUMBERS_KEPT)
def _valid_e164(raw: str, region: str) -> str | None:
    try:
        parsed = _parse_valid(raw, region)
    except InvalidPhoneNumber:
        return None
    return _formatted(parsed)


def _formatted(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"not a valid phone number: {raw!r}")
    return parsed


def caller_number(raw: str) -> str:
    """E.164, or '' for a withheld or unparseable number (the flows handle that)."""
    return _valid_e164(raw, "CN") or ""


@lru_cache(maxsize=NUMBERS_KEPT)
def spoken_number(e164: str) -> str:
    """How people here write the number: 0359 212 3456, 138 0013 8000."""
    parsed = phonenumbers.parse(e164)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
