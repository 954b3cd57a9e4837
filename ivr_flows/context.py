"""Read-only facts a flow needs for one turn, loaded by the runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from basics.market_views import MarketView, WorkerView
from prompts.catalogue import Catalogue
from prompts.speech_words import SpeechWords


@dataclass(frozen=True)
class CallContext:
    caller: str
    today: date
    market: MarketView
    catalogue: Catalogue
    worker: WorkerView | None = None
    speech: SpeechWords | None = None  # None: speech is off, every prompt is keys only
