"""The one signature both directions of JSON Line use."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Line-Signature"


def signature(secret: str, url: str, body: bytes) -> str:
    return hmac.new(secret.encode(), url.encode() + b"\n" + body, hashlib.sha256).hexdigest()
