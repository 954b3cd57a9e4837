"""Callers saying different words, for the speech benchmark and its raw Vosk yardstick:
the consent prompt's four words (예 and 일 say yes, 아니요 and 이 no, in the Korean test
pack) in espeak-ng's Korean voices at several speeds and pitches, so that voices end at
different moments and at every phase of the server's 100 ms chunks.

    .venv/bin/python bench/speech_callers.py OUT_DIR [--lead-seconds S]   # espeak-ng, sox

The benchmark times how soon a caller is heard and moved on, not how well the model hears
espeak (bench/speech_accuracy.py measures that): an utterance is kept only if the consent
prompt's grammar hears the word said, every time of CHECKS, after `--lead-seconds` of a
quiet line (the quiet the callers stream first). A call is moved on right if it goes to
the read-back of the word said ("您说的是아니요，对请按1…": every no, which would end the
call, and a yes heard with too little confidence), or, for a yes, to the trades menu.
OUT_DIR gets one μ-law file per kept utterance and callers.json, [{file, word, voiced_s}],
in the order callers take them: neighbouring callers say different words."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speech.mulaw import mulaw_to_pcm16  # noqa: E402
from tests.espeak import Voice, say_in  # noqa: E402

SAMPLE_RATE = 8000
YES, NO = ("예", "일"), ("아니요", "이")  # the Korean pack's words at a yes/no prompt
VARIANTS = ("ko", "ko+f2", "ko+f3", "ko+m2", "ko+m3", "ko+m5")
SPEEDS = (120, 150, 180)  # words a minute
PITCHES = (30, 60)
VOICED_ABOVE = 500  # |sample| of 16-bit PCM above which the utterance is still voiced
MANIFEST = "callers.json"
# Vosk dithers its input (Kaldi's features add a little noise): a word on the edge is
# heard one way or the other from run to run. Only words heard as said every time are kept.
CHECKS = 10
TRADES_MENU = "请选您会的工种"  # where a yes at the consent prompt leads


@dataclass(frozen=True)
class Caller:
    word: str
    mulaw: bytes  # as Twilio streams it: 8 kHz μ-law
    voiced_s: float  # where the voice ends in it (espeak leaves ~0.3 s of quiet after)

    def moved_on_by(self, prompts: list[str]) -> bool:
        """Whether the call's new prompts are where this word leads."""
        read_back = f"您说的是{self.word}，"
        return any(read_back in prompt or (self.word in YES and TRADES_MENU in prompt)
                   for prompt in prompts)


def voiced_seconds(mulaw: bytes) -> float:
    """Where the voice ends in the audio: after its last sample louder than VOICED_ABOVE."""
    samples = array("h", mulaw_to_pcm16(mulaw))
    last = max((i for i, s in enumerate(samples) if abs(s) > VOICED_ABOVE), default=0)
    return (last + 1) / SAMPLE_RATE


def load(folder: Path) -> list[Caller]:
    listed = json.loads((folder / MANIFEST).read_text())
    return [Caller(c["word"], (folder / c["file"]).read_bytes(), c["voiced_s"]) for c in listed]


def make(folder: Path, lead_seconds: float = 0.0) -> list[Caller]:
    """Says every word in every voice; keeps what the consent grammar hears as said after
    `lead_seconds` of quiet, interleaved so that neighbouring callers say different words."""
    from bench.speech_raw import model_path
    from speech.recognizer import SpeechModel

    folder.mkdir(parents=True, exist_ok=True)
    model = SpeechModel(model_path())
    quiet = bytes([0xFF]) * int(SAMPLE_RATE * lead_seconds)
    kept: dict[str, list[tuple[str, Caller]]] = {word: [] for word in (*YES, *NO)}
    with tempfile.TemporaryDirectory(prefix="said-") as scratch:  # espeak-ng's, sox's files
        for variant, speed, pitch in itertools.product(VARIANTS, SPEEDS, PITCHES):
            for word in kept:
                mulaw = say_in(Voice(variant, speed, pitch, 0.0), word, Path(scratch))
                if all(_heard(model, quiet + mulaw) == word for _ in range(CHECKS)):
                    kept[word].append((f"{word}-{variant}-s{speed}-p{pitch}",
                                       Caller(word, mulaw, voiced_seconds(mulaw))))
    callers, listed = [], []
    for turn in range(max(len(said) for said in kept.values())):
        for said in kept.values():
            if turn < len(said):
                name, caller = said[turn]
                (folder / f"{name}.ulaw").write_bytes(caller.mulaw)
                callers.append(caller)
                listed.append({"file": f"{name}.ulaw", "word": caller.word,
                               "voiced_s": caller.voiced_s})
    (folder / MANIFEST).write_text(json.dumps(listed, ensure_ascii=False, indent=1))
    return callers


def _heard(model, mulaw: bytes) -> str | None:
    from bench.speech_raw import GRAMMAR
    from speech.recognizer import Chunker, GrammarRecognizer

    rec = GrammarRecognizer(model, GRAMMAR)
    quiet_after = bytes([0xFF]) * SAMPLE_RATE
    heard = next((h for _, chunk in Chunker(rec).chunks(mulaw + quiet_after)
                  if (h := rec.accept(chunk))), None)
    rec.close()
    return heard.text if heard else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lead-seconds", type=float, default=0.0,
                        help="the quiet each caller streams before the word")
    args = parser.parse_args(argv)
    callers = make(args.folder, args.lead_seconds)
    counts = {word: sum(c.word == word for c in callers) for word in (*YES, *NO)}
    print(json.dumps({"callers": len(callers), "by_word": counts}, ensure_ascii=False))
    if sum(bool(n) for n in counts.values()) < 2:
        print("fewer than two different words heard as said", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
