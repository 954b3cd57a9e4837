"""What handling a call or an SMS needs, built once at start-up: the market's context and
what only calls need besides it."""

from __future__ import annotations

from dataclasses import dataclass

from basics.market_views import MarketView
from market.context import MarketContext
from prompts.speech_words import SpeechWords


@dataclass(frozen=True, kw_only=True)
class CallDesk(MarketContext):
    market: MarketView  # the trades and towns the menus read
    id_hash_key: str
    speech: SpeechWords | None = None  # None: speech is off
    public_url: str = ""  # where the carrier reaches us: the URL its webhooks are signed for
