"""How many SMS segments a body takes, as Twilio bills it (NumSegments / num_segments)."""

import math

# GSM 03.38 default alphabet; the extension table costs two septets (escape + char).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

# (single-segment capacity, per-segment capacity once concatenated)
_GSM7_LIMITS = (160, 153)
_UCS2_LIMITS = (70, 67)


def _gsm7_septets(body: str) -> int | None:
    septets = 0
    for char in body:
        if char in _GSM_BASIC:
            septets += 1
        elif char in _GSM_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def num_segments(body: str) -> int:
    """Segments for a body: GSM-7 when every character fits, else UCS-2 (e.g. Chinese)."""
    septets = _gsm7_septets(body)
    if septets is not None:
        units, (single, multi) = septets, _GSM7_LIMITS
    else:
        # UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
        units, (single, multi) = len(body.encode("utf-16-le")) // 2, _UCS2_LIMITS
    if units <= single:
        return 1
    return math.ceil(units / multi)
