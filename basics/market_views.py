"""The market's things as a caller hears about them: plain values the rules produce and
the dialogues read (and the few words the dialogues answer with), so neither imports
the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


@dataclass(frozen=True)
class TradeView:
    code: str
    name: str
    synonyms: tuple[str, ...] = ()  # what callers say: 电焊工 for 焊工


@dataclass(frozen=True)
class AreaView:
    id: int
    name: str
    towns: tuple[AreaView, ...] = ()
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketView:
    name: str
    hotline: str  # as people dial it: 0359 212 3456
    trades: tuple[TradeView, ...]
    districts: tuple[AreaView, ...]
    agent_numbers: tuple[str, ...] = ()

    def trade_name(self, code: str) -> str:
        return next((t.name for t in self.trades if t.code == code), code)

    def district(self, district_id: int | None) -> AreaView | None:
        return next((d for d in self.districts if d.id == district_id), None)

    def town(self, town_id: int | None) -> AreaView | None:
        return next((t for d in self.districts for t in d.towns if t.id == town_id), None)


@dataclass(frozen=True)
class WorkerView:
    number: str
    status: str  # registering | active
    name: str | None = None
    trades: tuple[str, ...] = ()
    district_id: int | None = None
    town_id: int | None = None
    day_wage_fen: int | None = None
    availability: str | None = None
    alert_channel: str | None = None  # sms | call; None until the worker chose
    id_last4: str | None = None
    has_name_recording: bool = False
    consented: bool = False


@dataclass(frozen=True)
class OfferView:
    job_line_id: int
    job_code: str
    trade: str
    day_wage_fen: int
    days: int
    place: str
    start_date: date


class SlotOutcome(StrEnum):
    """What taking a slot of a job line came to: reserved, or why not."""

    RESERVED = "reserved"
    FULL = "full"
    OVERLAP = "overlap"  # the worker holds work on some of those days
    NOT_OPEN = "not_open"  # closed, or not a line this worker may take


@dataclass(frozen=True)
class HireView:
    """A confirmed hire as the worker hears it: what the contract summary says."""

    hire_id: int
    job_code: str
    trade: str
    employer: str
    employer_phone: str  # as dialled here: 13900000002
    address: str
    start_date: date
    start_time: str  # 07:00
    days: int
    day_wage_fen: int
    daily_pay: bool
    insured: bool | None  # jobs over 3 days: the employer confirmed accident insurance


@dataclass(frozen=True)
class PayQuestionView:
    """An automated call asking whether a pay period's wage was paid in full."""

    check_id: int
    job_code: str
    owed_fen: int
    period_start: date
    period_end: date
    grace_days: int


class PayAnswer(StrEnum):
    """The worker's answer to "were you paid in full?", by phone or by SMS."""

    YES = "yes"
    NO = "no"
    PARTLY = "partly"  # comes with the amount received
