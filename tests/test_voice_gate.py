"""The voice gate: the quiet before a caller speaks is not decoded; the voice, with what
came just before it, is. On the test pack's real utterances (espeak-ng, 8 kHz μ-law)."""

from __future__ import annotations

import random
from array import array

from speech.mulaw import mulaw_to_pcm16
from speech.voice_gate import HELD_CHUNKS, QUIET_CHUNKS_TO_SHUT, VoiceGate, voiced
from tests.speech_fixtures import to_mulaw, utterance

CHUNK = 800  # 100 ms of μ-law, what the socket hands the gate
QUIET = b"\xff" * CHUNK  # digital silence


def hiss(seed: int) -> bytes:
    """A telephone line's noise floor: μ-law codes of samples within about ±100."""
    rng = random.Random(seed)
    return bytes(rng.choice([0xFF, 0xFE, 0xFD, 0xF8, 0xF0, 0x7F, 0x7E, 0x7D, 0x78, 0x70])
                 for _ in range(CHUNK))


def softer(mulaw: bytes, db: float) -> bytes:
    """The same words `db` quieter, back in μ-law (nearest code to each scaled sample)."""
    gain = 10 ** (-db / 20)
    return to_mulaw(int(s * gain) for s in array("h", mulaw_to_pcm16(mulaw)))


def chunks(mulaw: bytes) -> list[bytes]:
    return [mulaw[i:i + CHUNK].ljust(CHUNK, b"\xff") for i in range(0, len(mulaw), CHUNK)]


def test_every_word_of_the_test_pack_is_voiced_and_the_quiet_line_is_not():
    for word in ("일", "이", "삼", "사", "오", "예", "아니요"):
        assert voiced(chunks(utterance(word))[0]), word
    assert not voiced(QUIET)
    assert not any(voiced(hiss(seed)) for seed in range(20))
    click = bytearray(QUIET)
    click[400:405] = b"\x00" * 5  # five samples at full scale
    assert not voiced(bytes(click))


def test_a_quiet_talker_26_db_below_the_test_voice_still_opens_the_gate():
    for word in ("일", "이", "삼", "사", "오", "예", "아니요"):
        assert any(voiced(chunk) for chunk in chunks(softer(utterance(word), 26))), word


def test_the_quiet_before_a_word_is_skipped_and_its_last_300_ms_handed_over_with_it():
    gate = VoiceGate()
    before = [hiss(seed) for seed in range(30)]  # three seconds of the prompt heard out
    assert [gate.admit(chunk, mid_utterance=False) for chunk in before] == [None] * 30
    word = chunks(utterance("예"))
    first = gate.admit(word[0], mid_utterance=False)
    assert first == b"".join(before[-HELD_CHUNKS:]) + word[0]
    assert [gate.admit(chunk, mid_utterance=True) for chunk in word[1:]] == word[1:]


def test_the_gate_shuts_after_a_quiet_second_unless_an_utterance_is_unanswered():
    gate = VoiceGate()
    gate.admit(chunks(utterance("일"))[0], mid_utterance=False)
    quiet = [gate.admit(QUIET, mid_utterance=True) for _ in range(2 * QUIET_CHUNKS_TO_SHUT)]
    assert quiet == [QUIET] * len(quiet), "words pending: the decoder hears the quiet out"
    assert gate.admit(QUIET, mid_utterance=False) is None, "answered and quiet: shut"
    assert gate.admit(QUIET, mid_utterance=False) is None
    word = chunks(utterance("이"))[0]
    assert gate.admit(word, mid_utterance=False) == QUIET * 2 + word, "opens again"
