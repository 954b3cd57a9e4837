"""Resident ID numbers (GB 11643): validated, then kept only as a keyed hash and last 4."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_id_number(value: str) -> bool:
    """18 characters, 17 digits plus the GB 11643 check character (0-9 or X)."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit() or value[0] == "0":
        return False
    return id_check_char(value[:17]) == value[17]


@dataclass(frozen=True)
class ProtectedId:
    digest: str
    last4: str


def protect_id_number(value: str, key: str) -> ProtectedId:
    value = value.upper()
    digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
    return ProtectedId(digest=digest, last4=value[-4:])
