"""Korean callers of espeak-ng's making, as Twilio streams them (8 kHz μ-law): for the
speech tests and the speech benchmark (no fixtures here: importable without pytest).
`make speech-tools` installs espeak-ng and sox."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SPEECH_TOOLS_MISSING = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


@dataclass(frozen=True)
class Voice:
    """A caller of espeak-ng's making: a Korean voice variant, words a minute, pitch
    (0-99), and the quiet on the line before they speak."""

    variant: str
    speed: int
    pitch: int
    quiet_before: float

    def __str__(self) -> str:
        return f"{self.variant} s{self.speed} p{self.pitch} after {self.quiet_before}s"


def say_in(voice: Voice, word: str, workdir: Path) -> bytes:
    """`word` as Twilio streams it: espeak-ng's 22 kHz speech, resampled by sox to 8 kHz
    mono μ-law, behind `voice.quiet_before` seconds of silence."""
    wav, raw = workdir / "said.wav", workdir / "said.ulaw"
    subprocess.run(["espeak-ng", "-v", voice.variant, "-s", str(voice.speed),
                    "-p", str(voice.pitch), "-w", str(wav), word], check=True)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw",
                    str(raw), "pad", str(voice.quiet_before), "0"], check=True)
    return raw.read_bytes()
