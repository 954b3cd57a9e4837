"""Vosk, one shared model per process and one grammar recogniser per prompt.

A grammar (the few words a prompt accepts) makes Vosk ~4x faster and far more accurate
than free-form. Words the model does not know are dropped and reported, not passed on
(Vosk would only warn). The grammar is fixed when the recogniser is made: changing it
mid-utterance kills the process (KaldiFatalError), so a new prompt gets a new one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from vosk import KaldiRecognizer, Model, SetLogLevel

from speech.mulaw import mulaw_to_pcm16
from speech.voice_gate import voiced

SAMPLE_RATE = 8000  # Twilio's μ-law; Vosk resamples to its model's rate
SAMPLES_PER_MS = SAMPLE_RATE // 1000
FRAME_BYTES = 160  # one 20 ms Media Streams frame: the quiet after a voice is timed by it
CHUNK_BYTES = 800  # 100 ms: five frames per trip to a decoding thread
UNKNOWN = "[unk]"
# A pause this long after words ends the answer: a word or two is said in one breath;
# a spoken number ("三百……五十") may pause in the middle.
SETTLED_MS = 300
SETTLED_MS_NUMBERS = 600
# Vosk's words trail the audio: its network runs on 240 ms of audio at a time, once it
# has more in hand. Once the caller has stopped, this much silence fed at once (one more
# network run) pushes the last words through, cheaper than FinalResult()'s flush and
# hearing the same (bench/speech_end_rule.py; figures in docs/speech_benchmarks.md).
PUSH_THROUGH = bytes(2 * 240 * SAMPLES_PER_MS)  # 240 ms of 16-bit silence


class SpeechUnavailable(RuntimeError):
    """No usable model: the hotline goes on by keypad alone."""


@dataclass(frozen=True)
class Heard:
    text: str  # the grammar words heard, space-separated as Vosk prints them
    confidence: float  # the lowest word confidence, 0..1


class SpeechModel:
    def __init__(self, path: str):
        SetLogLevel(-1)  # Kaldi's own logging goes to stderr; ours says what matters
        try:
            self.model = Model(path)  # always a path: Model(lang=…) downloads
        except Exception as exc:  # vosk raises a bare Exception for a bad path
            raise SpeechUnavailable(f"no Vosk model at {path!r}: {exc}") from None
        self._phrases: dict[str, str | None] = {}  # grammars repeat: look each word up once

    def knows(self, word: str) -> bool:
        return self.model.vosk_model_find_word(word) != -1

    def phrase(self, word: str) -> str | None:
        """How a grammar says `word`: itself if the model knows it, else character by
        character (Mandarin models know 电, 焊 and 工 but not always 电焊工, and print
        "电 焊 工" either way); None if the model cannot say it."""
        if word not in self._phrases:
            self._phrases[word] = self._spell(word)
        return self._phrases[word]

    def _spell(self, word: str) -> str | None:
        if self.knows(word):
            return word
        characters = word.replace(" ", "")
        if len(characters) > 1 and all(self.knows(c) for c in characters):
            return " ".join(characters)
        return None

    def missing_words(self, words: list[str]) -> list[str]:
        return [word for word in words if self.phrase(word) is None]


class GrammarRecognizer:
    def __init__(self, model: SpeechModel, words: list[str], settled_ms: float = SETTLED_MS):
        # Unknown words were reported once at start-up (speech.service): drop them quietly.
        known = list(dict.fromkeys(p for word in words if (p := model.phrase(word))))
        if not known:
            raise SpeechUnavailable("none of the prompt's words is in the speech model")
        if model.knows(UNKNOWN):  # lets noise come out as [unk], not as a grammar word
            known.append(UNKNOWN)
        # ensure_ascii=False: escaped \\uXXXX words are not in any vocabulary.
        self._rec = KaldiRecognizer(model.model, SAMPLE_RATE,
                                    json.dumps(known, ensure_ascii=False))
        self._rec.SetWords(True)
        # accept() and close() run on decoding threads: a free never meets a decode.
        self._lock = threading.Lock()
        self.released = False  # set on the event loop once the close is on its way
        self._settled_ms = settled_ms
        self._utterance_over()

    def accept(self, mulaw: bytes) -> Heard | None:
        """Feed Twilio's 8 kHz μ-law; returns what was heard when an utterance ends.

        Vosk's own endpointing may never fire on a tiny grammar (a 2-word grammar kept
        "이 이" as a partial through 6 s of silence), so an utterance also ends once the
        line has been quiet for `settled_ms` after a voice, or, on a line too noisy to
        tell, once the partial result has not changed for as long. None once closed."""
        pcm16, ms = mulaw_to_pcm16(mulaw), len(mulaw) / SAMPLES_PER_MS
        with self._lock:
            return None if self._rec is None else self._accept(pcm16, mulaw, ms)

    def would_end_utterance(self, mulaw: bytes) -> bool:
        """Whether this audio, not decoded yet, completes the quiet that ends an utterance
        (see Chunker). Read between decodes, like mid_utterance."""
        voice_heard, quiet_ms = _quiet_after(self._voice_heard, self._quiet_ms, mulaw)
        return voice_heard and quiet_ms >= self._settled_ms

    def _accept(self, pcm16: bytes, mulaw: bytes, ms: float) -> Heard | None:
        if self._rec.AcceptWaveform(pcm16):
            self._utterance_over()
            return _heard(self._rec.Result())
        self._voice_heard, self._quiet_ms = _quiet_after(self._voice_heard, self._quiet_ms,
                                                         mulaw)
        if self._voice_heard and self._quiet_ms >= self._settled_ms:
            # The caller has stopped: their last words now, not once the partial result
            # has caught up and settled (~0.3 s later, one network run apart).
            self._utterance_over()
            self._rec.AcceptWaveform(PUSH_THROUGH)  # Result() either way: ended or not
            return _heard(self._rec.Result())
        partial = json.loads(self._rec.PartialResult()).get("partial", "")
        if not partial or partial != self._partial:
            self._partial, self._unchanged_ms = partial, 0.0
            return None
        self._unchanged_ms += ms
        if self._unchanged_ms < self._settled_ms:
            return None
        self._utterance_over()
        # Settled on a noisy line: Result() finalises what was decoded; FinalResult()
        # would flush the pipeline first, which costs many times more.
        return _heard(self._rec.Result())

    def _utterance_over(self) -> None:
        self._partial, self._unchanged_ms = "", 0.0
        self._voice_heard, self._quiet_ms = False, 0.0

    @property
    def mid_utterance(self) -> bool:
        """Words heard that have not been answered with yet (read between decodes)."""
        return bool(self._partial)

    def close(self) -> bool:
        """Frees Kaldi's decoder now rather than whenever the garbage collector runs;
        False if it was freed already."""
        with self._lock:
            freed, self._rec = self._rec is not None, None  # the last reference: freed here
        return freed


class Chunker:
    """Gathers a stream's 20 ms frames into the chunks a recogniser decodes: 100 ms each,
    except the one that ends an utterance, handed over at the frame that ends it rather
    than once full (up to 100 ms later)."""

    def __init__(self, recognizer: GrammarRecognizer):
        self._recognizer = recognizer
        self._pending = bytearray()

    def add(self, frame: bytes) -> bytes | None:
        """The audio to decode now, or None while the chunk fills."""
        self._pending += frame
        if (len(self._pending) < CHUNK_BYTES
                and not self._recognizer.would_end_utterance(self._pending)):
            return None
        chunk = bytes(self._pending)
        self._pending.clear()
        return chunk

    def chunks(self, mulaw: bytes) -> Iterator[tuple[int, bytes]]:
        """Recorded audio as a stream hands it over: (bytes of `mulaw` taken so far, the
        chunk), frame by frame. Decode each chunk before asking for the next."""
        for start in range(0, len(mulaw), FRAME_BYTES):
            if (chunk := self.add(mulaw[start:start + FRAME_BYTES])) is not None:
                yield min(start + FRAME_BYTES, len(mulaw)), chunk


def _quiet_after(voice_heard: bool, quiet_ms: float, mulaw: bytes) -> tuple[bool, float]:
    """(a voice heard, ms of quiet since it) once `mulaw` follows. Whether it holds a
    voice is the voice gate's test on the whole; where the voice ends, the last 20 ms
    frame that passes it alone (a voice too thin for any frame ends with the audio)."""
    if not voiced(mulaw):
        return voice_heard, quiet_ms + len(mulaw) / SAMPLES_PER_MS
    quiet_bytes = 0
    for end in range(len(mulaw), 0, -FRAME_BYTES):
        frame = mulaw[max(0, end - FRAME_BYTES):end]
        if voiced(frame):
            return True, quiet_bytes / SAMPLES_PER_MS
        quiet_bytes += len(frame)
    return True, 0.0


def _heard(result_json: str) -> Heard | None:
    result = json.loads(result_json)
    words = [w for w in result.get("result", []) if w.get("word") != UNKNOWN]
    if not words:
        return None
    return Heard(" ".join(w["word"] for w in words), min(w.get("conf", 0.0) for w in words))
