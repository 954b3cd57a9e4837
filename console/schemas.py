"""The API's request bodies: validated here, so a bad field gets a 4xx naming it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ID = 2**31 - 1  # the store's keys are PostgreSQL integers
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# A start far outside this century is a typing slip, and its arithmetic (end = start +
# days, the market's time zone) would overflow at the calendar's ends.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _plausible(moment: datetime | None) -> datetime | None:
    if moment is not None and not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"a date between {EARLIEST_YEAR} and {LATEST_YEAR}, please")
    return moment


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EmployerIn(_Body):
    name: str = Field(min_length=2, max_length=200)
    phone: str = Field(min_length=5, max_length=32, description="any format; stored as E.164")
    address: str = Field(default="", max_length=500)
    credit_code: str = Field(min_length=18, max_length=18,
                             description="统一社会信用代码, checked with GB 32100")


class VerificationIn(_Body):
    state: Literal["verified", "unverified", "blacklisted"]
    checked: str = Field(min_length=2, max_length=1000,
                         description="what the agent checked: licence, site visit …")


class LineIn(_Body):
    trade: str = Field(description="trade code, see GET /api/trades")
    headcount: int = Field(ge=1, le=500)
    day_wage_yuan: Decimal = Field(gt=0, le=10000, decimal_places=2)

    @property
    def day_wage_fen(self) -> int:
        return int(self.day_wage_yuan * 100)


class JobIn(_Body):
    employer_id: Id
    lines: list[LineIn] = Field(min_length=1, max_length=10)
    start_at: datetime = Field(description="ISO 8601; without an offset it is market time")
    days: int = Field(ge=1, le=365)
    daily_pay: bool = Field(default=False, description="日结: paid at the end of each day")
    town_id: Id
    address: str = Field(min_length=2, max_length=500)
    notes: str = Field(default="", max_length=2000)

    _start_plausible = field_validator("start_at")(_plausible)

    @field_validator("lines")
    @classmethod
    def one_line_per_trade(cls, lines: list[LineIn]) -> list[LineIn]:
        trades = [line.trade for line in lines]
        if len(set(trades)) != len(trades):
            raise ValueError("one line per trade: add the headcounts together")
        return lines


class JobChangeIn(_Body):
    start_at: datetime | None = None
    address: str | None = Field(default=None, min_length=2, max_length=500)
    notes: str | None = Field(default=None, max_length=2000)

    _start_plausible = field_validator("start_at")(_plausible)


class CaseActionIn(_Body):
    action: Literal["assign", "contact", "mediation", "refer", "recovered", "close", "note"]
    note: str = Field(default="", max_length=2000)
    amount_yuan: Decimal | None = Field(default=None, gt=0, le=10_000_000, decimal_places=2)
    referral: Literal["arbitration", "platform"] | None = Field(
        default=None, description="refer: 劳动仲裁 (arbitration) or the 根治欠薪 platform")

    @property
    def amount_fen(self) -> int | None:
        return None if self.amount_yuan is None else int(self.amount_yuan * 100)


class HireCorrectionIn(_Body):
    days_worked: int | None = Field(default=None, ge=0, le=365)
    owed_yuan: Decimal | None = Field(default=None, ge=0, le=10_000_000, decimal_places=2)

    @property
    def owed_fen(self) -> int | None:
        return None if self.owed_yuan is None else int(self.owed_yuan * 100)


SCHEMAS = (EmployerIn, VerificationIn, JobIn, JobChangeIn, CaseActionIn, HireCorrectionIn)
