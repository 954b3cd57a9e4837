"""Unified social credit codes (统一社会信用代码, GB 32100): 18 characters with a check."""

from __future__ import annotations

_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(_CHARS.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    """The check character matches, the first character names a registering authority
    (none is 0) and characters 3-8 are an administrative division (never 000000): an
    all-zero code passes the check character alone."""
    value = value.upper()
    if len(value) != 18 or any(c not in _CHARS for c in value):
        return False
    division = value[2:8]
    if value[0] == "0" or not division.isdigit() or division == "000000":
        return False
    return credit_code_check_char(value[:17]) == value[17]
