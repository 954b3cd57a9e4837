"""G.711 μ-law (what Twilio Media Streams carry) to 16-bit PCM, without `audioop`
(deprecated in 3.11, gone in 3.13): one 256-entry table, built once, applied as two
byte translations (each sample's low and high byte) so no Python runs per sample: a
100 ms chunk is decoded while the decoding thread holds the GIL."""

from __future__ import annotations

from array import array

_BIAS = 0x84


def _expand(byte: int) -> int:
    value = ~byte & 0xFF
    magnitude = ((((value & 0x0F) << 3) + _BIAS) << ((value >> 4) & 0x07)) - _BIAS
    return -magnitude if value & 0x80 else magnitude


TABLE = array("h", (_expand(b) for b in range(256)))
_LOW_BYTES = bytes(sample & 0xFF for sample in TABLE)
_HIGH_BYTES = bytes((sample >> 8) & 0xFF for sample in TABLE)


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Little-endian 16-bit samples, as Vosk's AcceptWaveform takes them."""
    pcm = bytearray(2 * len(data))
    pcm[0::2] = data.translate(_LOW_BYTES)
    pcm[1::2] = data.translate(_HIGH_BYTES)
    return bytes(pcm)
