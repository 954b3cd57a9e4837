"""QuietHours, the one reckoning of GIGLINE_QUIET_HOURS that alerts and wage reminders
share: at its edges, with an injected moment (market time is Asia/Shanghai, UTC+8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from basics.clock import QuietHours
from market.wages import WageRules, delivery_time

TZ = "Asia/Shanghai"
NIGHT = QuietHours(time(21), time(7))


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of November 2026 in market time, as UTC (the clock's zone)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


@pytest.mark.parametrize("moment", [local(23, 0), local(23, 7), local(23, 12),
                                    local(23, 21), local(23, 23, 59, 59)])
def test_equal_start_and_end_mean_no_quiet_hours(moment):
    assert QuietHours(time(0), time(0)).until(moment, TZ) is None
    assert QuietHours(time(21), time(21)).until(moment, TZ) is None


@pytest.mark.parametrize(("moment", "until"), [
    (local(23, 20, 59, 59), None),  # a second before the start
    (local(23, 21), local(24, 7)),  # exactly at the start: inside
    (local(23, 23, 30), local(24, 7)),  # before midnight: tomorrow's morning
    (local(24, 0), local(24, 7)),  # at midnight: this morning
    (local(24, 6, 59, 59), local(24, 7)),  # a second before the end
    (local(24, 7), None),  # exactly at the end: outside
    (local(24, 12), None),
], ids=["before-start", "at-start", "before-midnight", "midnight", "before-end", "at-end",
        "midday"])
def test_quiet_hours_across_midnight(moment, until):
    assert NIGHT.until(moment, TZ) == until


@pytest.mark.parametrize(("moment", "until"), [
    (local(23, 11, 59), None),
    (local(23, 12), local(23, 14)),
    (local(23, 13, 59, 59), local(23, 14)),
    (local(23, 14), None),
], ids=["before-start", "at-start", "before-end", "at-end"])
def test_quiet_hours_within_one_day(moment, until):
    assert QuietHours(time(12), time(14)).until(moment, TZ) == until


def test_the_end_is_given_in_the_zone_of_the_moment_asked_about():
    end = NIGHT.until(local(23, 22), TZ)
    assert end.tzinfo is UTC and end == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(("hour", "due"), [
    (time(21), local(25, 7)),  # at the start: the next morning
    (time(20, 59), local(24, 20, 59)),
    (time(7), local(24, 7)),  # at the end: as asked
    (time(6, 59), local(24, 7)),
])
def test_a_reminder_hour_at_the_edges_of_quiet_hours(hour, due):
    assert delivery_time(date(2026, 11, 24), hour, WageRules(quiet=NIGHT), TZ) == due


def test_reminders_keep_their_hour_when_quiet_hours_are_off():
    rules = WageRules(quiet=QuietHours(time(0), time(0)))
    assert delivery_time(date(2026, 11, 24), time(23), rules, TZ) == local(24, 23)
