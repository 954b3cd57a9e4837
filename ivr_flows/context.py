"""Read-only facts a flow needs for one turn, loaded by the runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prompts.catalogue import Catalogue
from speech.words import SpeechWords


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
class CallContext:
    caller: str
    today: date
    market: MarketView
    catalogue: Catalogue
    worker: WorkerView | None = None
    speech: SpeechWords | None = None  # None: speech is off, every prompt is keys only
