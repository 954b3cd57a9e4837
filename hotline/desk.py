"""What handling a call or an SMS needs, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from basics.clock import Clock
from basics.market_views import MarketView
from market.wages import WageRules
from prompts.catalogue import Catalogue
from prompts.speech_words import SpeechWords


@dataclass(frozen=True)
class CallDesk:
    """What a turn needs, built once at start-up."""

    sessions: async_sessionmaker
    clock: Clock
    catalogue: Catalogue
    market_id: int
    timezone: str
    market: MarketView
    id_hash_key: str
    wage_rules: WageRules = WageRules()
    hold_employers: bool = True  # an open rights case holds the employer's job alerts
    speech: SpeechWords | None = None  # None: speech is off
    public_url: str = ""  # where the carrier reaches us: the URL its webhooks are signed for
