"""The market's periodic work, in one place the scheduler calls: send due waves, release
alerts held for quiet hours, chase employers who have not answered, carry out due
wage reminders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from basics.clock import Clock
from market.hires import chase_employers
from market.reminders import ReminderDesk, run_reminders
from market.waves import Alerting, release_held_alerts, run_waves

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarketReport:
    offers: int
    released_holds: int
    reminded: int
    released_slots: int
    reminders: dict[str, int]


class MarketSweep:
    def __init__(self, alerting: Alerting, reminders: ReminderDesk, clock: Clock,
                 employer_wait: timedelta, on_outbox: Callable[[], None]):
        self.alerting, self.reminders, self.clock = alerting, reminders, clock
        self.employer_wait = employer_wait
        self.on_outbox = on_outbox  # alerts were queued: send them now

    async def run(self) -> MarketReport:
        now = self.clock()
        offers = await run_waves(self.alerting, now)
        holds = await release_held_alerts(self.alerting, now)
        async with self.alerting.sessions() as session, session.begin():
            reminded, released = await chase_employers(
                session, wait=self.employer_wait, catalogue=self.alerting.catalogue,
                timezone=self.alerting.timezone, now=now)
        done = await run_reminders(self.reminders, now)
        report = MarketReport(offers, holds, reminded, released, done)
        if any((offers, holds, reminded, released, done)):
            log.info("market sweep: %s", report)
            self.on_outbox()
        return report
