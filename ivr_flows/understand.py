"""What Vosk heard, as the answer keys would have given at the prompt it listened to."""

from __future__ import annotations

from ivr_flows.inputs import Answer
from ivr_flows.listening import Listen
from ivr_flows.mandarin import normalise, parse_amount, pick


def understand(text: str, confidence: float, listen: Listen) -> Answer | None:
    """None when what was heard answers nothing this prompt asks (keep listening)."""
    said = normalise(text).replace(" ", "")
    if not said:
        return None
    if listen.amount_words:
        amount = parse_amount(said)
        if amount is not None:
            return Answer(str(amount), "speech", confidence, heard=str(amount))
    picked = pick(said, {c.value: list(c.words) for c in listen.choices})
    if picked is None:
        return None
    value, tied = picked
    choice = next(c for c in listen.choices if c.value == value)
    # Read back the choice's name, or the word of it that was heard (never a stutter).
    heard = choice.label or max((w for w in choice.words if w in said), key=len)
    # Two choices said alike: the last is read back, however sure Vosk was of the words.
    return Answer(value, "speech", 0.0 if tied else confidence, heard=heard)
