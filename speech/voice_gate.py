"""Which of a caller's audio is worth decoding: the quiet while they hear a prompt out
is not. A stream opens as the prompt starts, and Vosk spends as much on a second of a
quiet line as on a second of speech, so a caller who listens for five seconds and then
answers in one cost six seconds of decoding; gated, about two.

The gate opens on the first chunk with voice in it and hands the decoder what it held
back just before (the word's onset is quieter than its middle), and shuts again only
once the line has been quiet for a while and the recogniser is not in the middle of an
utterance. The test on a chunk is a byte translation of its μ-law: no Python per
sample, on the event loop."""

from __future__ import annotations

from collections import deque

from speech.mulaw import TABLE

LOUD_FROM = 300  # |16-bit sample|: about -41 dBFS, under a quiet talker's peaks; line hiss is
# -50 dBFS and below. Too low costs decoding time on a noisy line; too high, answers.
VOICED_SAMPLES = 20  # loud samples (2.5 ms) that make a chunk voiced, not a click
HELD_CHUNKS = 3  # the quiet chunks before the voice handed over with it (300 ms of 100)
QUIET_CHUNKS_TO_SHUT = 10  # a second of quiet after the voice, utterance over
_QUIET_BYTES = bytes(code for code in range(256) if abs(TABLE[code]) < LOUD_FROM)


def voiced(mulaw: bytes) -> bool:
    return len(mulaw.translate(None, _QUIET_BYTES)) >= VOICED_SAMPLES


class VoiceGate:
    def __init__(self) -> None:
        self._held: deque[bytes] = deque(maxlen=HELD_CHUNKS)
        self._open = False
        self._quiet_chunks = 0

    def admit(self, mulaw: bytes, mid_utterance: bool) -> bytes | None:
        """The μ-law to decode now for this chunk, or None to skip it. `mid_utterance`:
        the recogniser has words it has not answered with yet (the gate stays open)."""
        if voiced(mulaw):
            self._quiet_chunks = 0
            if not self._open:
                self._open = True
                held, self._held = b"".join(self._held), deque(maxlen=HELD_CHUNKS)
                return held + mulaw
            return mulaw
        if not self._open:
            self._held.append(mulaw)
            return None
        self._quiet_chunks += 1
        if self._quiet_chunks >= QUIET_CHUNKS_TO_SHUT and not mid_utterance:
            self._open = False
            self._held.append(mulaw)
            return None
        return mulaw
