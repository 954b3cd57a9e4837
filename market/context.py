"""The market's one context: what its rules, sweeps and answers read besides the database
(the clock, the time zone, the wording, the rules), built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from basics.clock import Clock, utc_now
from market.wages import WageRules
from market.waves import WaveRules
from prompts.catalogue import Catalogue
from store.db import sessions_engine


@dataclass(frozen=True, kw_only=True)
class MarketContext:
    sessions: async_sessionmaker
    market_id: int
    timezone: str
    hotline: str  # as people dial it: SMS that send a worker to the hotline name it
    catalogue: Catalogue
    clock: Clock = utc_now
    wage_rules: WageRules = WageRules()
    wave_rules: WaveRules = WaveRules()  # the same quiet hours as wage_rules'
    hold_employers: bool = True  # an open rights case holds the employer's job alerts

    @property
    def engine(self) -> AsyncEngine:
        """The database the sessions are bound to (for a unit of work on a connection)."""
        return sessions_engine(self.sessions)
