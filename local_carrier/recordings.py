"""Recordings made by <Record>: remembered by SID and served as small WAV files."""

import io
import wave
from dataclasses import dataclass

from .ids import new_sid

_SAMPLE_RATE = 8000
_MAX_AUDIO_SECONDS = 30  # the file is a stand-in: keep it small whatever the duration


@dataclass(frozen=True)
class Recording:
    sid: str
    call_sid: str
    duration: int


class RecordingStore:
    def __init__(self) -> None:
        self._recordings: dict[str, Recording] = {}

    def add(self, call_sid: str, duration: int) -> Recording:
        recording = Recording(new_sid("RE"), call_sid, duration)
        self._recordings[recording.sid] = recording
        return recording

    def get(self, sid: str) -> Recording | None:
        return self._recordings.get(sid)


def silent_wav(seconds: int) -> bytes:
    """A mono 16-bit 8 kHz WAV of silence, like a telephone recording with nothing said."""
    frames = _SAMPLE_RATE * max(0, min(seconds, _MAX_AUDIO_SECONDS))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_SAMPLE_RATE)
        out.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()
