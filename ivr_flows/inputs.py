"""What a flow hears. Keys and speech arrive as the same Answer type."""

from __future__ import annotations

from dataclasses import dataclass

from basics.market_views import HireView, OfferView, PayQuestionView, SlotOutcome


@dataclass(frozen=True)
class CallStarted:
    alert: OfferView | None = None  # an automated alert call we placed about this offer
    pay: PayQuestionView | None = None  # an automated "were you paid?" call
    hired: HireView | None = None  # an automated call telling the worker they are hired


@dataclass(frozen=True)
class Done:
    """The runner carried out a query that only needs a yes or no back."""

    ok: bool
    detail: str = ""  # e.g. the job code checked in for


@dataclass(frozen=True)
class Answer:
    """The caller's reply to an Ask: keys pressed, or speech mapped to the same keys.
    An empty value means the caller said and pressed nothing before the timeout."""

    value: str
    source: str = "keys"  # keys | speech
    confidence: float = 1.0  # speech: how sure the recogniser was (0: two choices heard)
    heard: str = ""  # speech: what to read back if it must be confirmed


@dataclass(frozen=True)
class Recorded:
    url: str
    duration_seconds: int
    finished_on_key: str = ""  # "*" or "0" end a recording like any prompt: repeat, agent


@dataclass(frozen=True)
class OffersFound:
    offers: tuple[OfferView, ...]


@dataclass(frozen=True)
class HiresFound:
    hires: tuple[HireView, ...]


@dataclass(frozen=True)
class SlotResult:
    job_line_id: int
    outcome: SlotOutcome


FlowInput = CallStarted | Answer | Recorded | OffersFound | HiresFound | SlotResult | Done
