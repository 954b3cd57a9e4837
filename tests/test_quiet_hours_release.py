"""An alert held for the quiet hours follows the quiet hours as set now: a restart with
GIGLINE_QUIET_HOURS that no longer cover the moment releases it at once; one they still
cover waits for their end, whatever end it was held for."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from basics.clock import QuietHours
from gigline.settings import Settings
from market.context import MarketContext
from market.waves import release_held_alerts
from tests.market_world import RULES

EVENING = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
HELD_UNTIL = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 07:00, under 21:00-07:00


def restarted_with(context: MarketContext, quiet_hours: str) -> MarketContext:
    """What the app builds from GIGLINE_QUIET_HOURS after a restart."""
    start, end = Settings.from_env({"GIGLINE_QUIET_HOURS": quiet_hours}).quiet_hours
    return dataclasses.replace(context, wave_rules=dataclasses.replace(
        RULES, quiet=QuietHours(start, end)))


async def hold_an_alert(market) -> str:
    market.clock.now = EVENING
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    await market.job(await market.employer(), [("welder", 1, 500)], start_in=timedelta(days=2))
    await market.waves()
    [offer] = await market.offers()
    assert offer.alert_hold_until == HELD_UNTIL and await market.texts(kind="alert") == []
    return phone


@pytest.mark.parametrize("quiet_hours", ["23:00-06:00", "00:00-00:00"],
                         ids=["quiet-hours-moved-past-now", "quiet-hours-off"])
async def test_a_held_alert_goes_at_once_when_the_new_setting_no_longer_holds_it(
        market, quiet_hours):
    phone = await hold_an_alert(market)

    released = await release_held_alerts(restarted_with(market.context, quiet_hours),
                                         market.clock())

    assert released == 1
    assert len(await market.texts(phone, kind="alert")) == 1
    [offer] = await market.offers()
    assert offer.alert_hold_until is None and offer.alerted_at == EVENING


async def test_a_held_alert_still_covered_waits_for_the_new_end(market):
    phone = await hold_an_alert(market)
    alerting = restarted_with(market.context, "20:00-08:00")

    assert await release_held_alerts(alerting, market.clock()) == 0
    [offer] = await market.offers()
    assert offer.alert_hold_until == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00, as shown

    market.clock.now = HELD_UNTIL  # 07:00, the end it was held for
    assert await release_held_alerts(alerting, market.clock()) == 0
    assert await market.texts(phone, kind="alert") == []

    market.clock.now = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00
    assert await release_held_alerts(alerting, market.clock()) == 1
    assert len(await market.texts(phone, kind="alert")) == 1


async def test_a_held_alert_goes_when_the_new_override_covers_its_job(market):
    """GIGLINE_QUIET_OVERRIDE_HOURS raised past the job's start: alerted in the night."""
    phone = await hold_an_alert(market)
    alerting = dataclasses.replace(market.context, wave_rules=dataclasses.replace(
        RULES, quiet_override=timedelta(hours=72)))

    assert await release_held_alerts(alerting, market.clock()) == 1
    assert len(await market.texts(phone, kind="alert")) == 1
