"""Time is injected everywhere: production uses the wall clock, tests a fixed one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def market_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class QuietHours:
    """The nightly hours, in the market's time, when no one is alerted or reminded: from
    `start` up to (not including) `end`, across midnight when `start` is after `end`.
    Equal times mean no quiet hours at all."""

    start: time
    end: time

    def until(self, now: datetime, timezone: str) -> datetime | None:
        """The end of the quiet hours `now` falls in, in `now`'s zone; None outside them."""
        zone = ZoneInfo(timezone)
        local = now.astimezone(zone)
        clock = local.time()
        if self.start > self.end:  # across midnight
            inside = self.start <= clock or clock < self.end
        else:
            inside = self.start <= clock < self.end
        if not inside:
            return None
        day = local.date() if clock < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, zone).astimezone(now.tzinfo)
