"""A clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class FixedClock:
    """A clock that stands still until the test moves it."""

    now: datetime = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
