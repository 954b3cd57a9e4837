"""The market's periodic work, in one place the scheduler calls: send due waves, release
alerts held for quiet hours, chase employers who have not answered, carry out due
wage reminders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from market.context import MarketContext
from market.hires import chase_employers
from market.reminders import run_reminders
from market.waves import release_held_alerts, run_waves

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarketReport:
    offers: int
    released_holds: int
    reminded: int
    released_slots: int
    reminders: dict[str, int]


class MarketSweep:
    def __init__(self, market: MarketContext, employer_wait: timedelta,
                 on_outbox: Callable[[], None]):
        self.market = market
        self.employer_wait = employer_wait
        self.on_outbox = on_outbox  # alerts were queued: send them now

    async def run(self) -> MarketReport:
        market = self.market
        now = market.clock()
        offers = await run_waves(market, now)
        holds = await release_held_alerts(market, now)
        async with market.sessions() as session, session.begin():
            reminded, released = await chase_employers(
                session, wait=self.employer_wait, catalogue=market.catalogue,
                timezone=market.timezone, now=now)
        done = await run_reminders(market, now)
        report = MarketReport(offers, holds, reminded, released, done)
        if any((offers, holds, reminded, released, done)):
            log.info("market sweep: %s", report)
            self.on_outbox()
        return report
