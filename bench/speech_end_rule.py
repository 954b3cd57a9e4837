"""How to take the answer once the caller has stopped (the line quiet for 300 ms after
the voice, timed to the 20 ms frame as speech.recognizer times it), three ways, on every
test-pack word after 0-280 ms of quiet (15 leads):

    .venv/bin/python bench/speech_end_rule.py

  result    `Result()` on what Vosk has decoded so far (cheap, but its words trail the
            audio by up to 0.3 s)
  flush     `FinalResult()`: Vosk flushes its pipeline first
  push      240 ms of silence fed at once, then `Result()` (what speech.recognizer does)

Prints, for each, how often it hears the same as the flush, how often the word said
(espeak's voice is often misheard whichever way), and its mean cost in ms."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.speech_raw import model_path  # noqa: E402
from speech.mulaw import mulaw_to_pcm16  # noqa: E402
from speech.recognizer import PUSH_THROUGH, SETTLED_MS  # noqa: E402
from speech.voice_gate import voiced  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "speech" / "ko"
YES_NO, DIGITS = ["예", "아니요", "일", "이"], ["일", "이", "삼", "사", "오"]
CASES = [(word, YES_NO) for word in YES_NO] + [(word, DIGITS) for word in ("삼", "사", "오")]
FRAME = 160  # 20 ms of μ-law


def take(rec, how: str) -> str:
    if how == "flush":
        return rec.FinalResult()
    if how == "push":
        rec.AcceptWaveform(PUSH_THROUGH)
    return rec.Result()


def heard(model, grammar: list[str], mulaw: bytes, how: str) -> tuple[str, float]:
    """(what was heard, seconds spent taking it) once quiet for SETTLED_MS after voice."""
    from vosk import KaldiRecognizer

    rec = KaldiRecognizer(model, 8000, json.dumps(grammar, ensure_ascii=False))
    rec.SetWords(True)
    quiet_ms, voice_heard = 0, False
    for start in range(0, len(mulaw), FRAME):
        frame = mulaw[start:start + FRAME]
        rec.AcceptWaveform(mulaw_to_pcm16(frame))
        voice_heard, quiet_ms = (True, 0) if voiced(frame) else (voice_heard, quiet_ms + 20)
        if voice_heard and quiet_ms >= SETTLED_MS:
            started = time.perf_counter()
            text = json.loads(take(rec, how)).get("text", "")
            return text, time.perf_counter() - started
    return "", 0.0


def main() -> None:
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    model = Model(model_path())
    outcomes = {how: [] for how in ("flush", "result", "push")}
    said = [word for word, _ in CASES for _ in range(0, 300, 20)]
    for word, grammar in CASES:
        for lead_ms in range(0, 300, 20):
            mulaw = (b"\xff" * 8 * lead_ms + (FIXTURES / f"{word}.ulaw").read_bytes()
                     + b"\xff" * 16000)
            for how, results in outcomes.items():
                results.append(heard(model, grammar, mulaw, how))
    flushed = [text for text, _ in outcomes["flush"]]
    for how, results in outcomes.items():
        texts = [text for text, _ in results]
        same = sum(text == f for text, f in zip(texts, flushed, strict=True))
        right = sum(text == word for text, word in zip(texts, said, strict=True))
        cost_ms = 1000 * sum(seconds for _, seconds in results) / len(results)
        print(f"{how:7} as the flush {same:3d} of {len(results)}   the word said "
              f"{right:3d}   cost {cost_ms:5.1f} ms")


if __name__ == "__main__":
    main()
