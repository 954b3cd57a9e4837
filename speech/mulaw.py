"""G.711 μ-law (what Twilio Media Streams carry) to 16-bit PCM, without `audioop`
(deprecated in 3.11, gone in 3.13): one 256-entry table, built once."""

from __future__ import annotations

from array import array

_BIAS = 0x84


def _expand(byte: int) -> int:
    value = ~byte & 0xFF
    magnitude = ((((value & 0x0F) << 3) + _BIAS) << ((value >> 4) & 0x07)) - _BIAS
    return -magnitude if value & 0x80 else magnitude


TABLE = array("h", (_expand(b) for b in range(256)))


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Little-endian 16-bit samples, as Vosk's AcceptWaveform takes them."""
    samples = array("h", (TABLE[b] for b in data))
    return samples.tobytes()
