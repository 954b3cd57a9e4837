"""The API's request bodies, validated here so a bad field gets a 4xx naming it, and the
shapes of its answers. The OpenAPI document is built from these models: what a field
accepts is said once, here, for both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from market.cases import CaseAction
from store.statuses import CaseStatus, JobStatus, ReminderStatus, Role, Verification

MAX_ID = 2**31 - 1  # the store's keys are PostgreSQL integers
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# A start far outside this century is a typing slip, and its arithmetic (end = start +
# days, the market's time zone) would overflow at the calendar's ends.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
PLAUSIBLE_YEAR = r"^(20[0-9]{2}|2100)-"

# Free text holds no control characters (PostgreSQL cannot store NUL; the others are
# typing accidents) but may hold tabs and line breaks. `_VISIBLE` is neither a control
# character nor white space, in the sense of Python's strip() as well as JSON Schema's
# (ECMA 262) `\s`: two of them mean two characters are left once the ends are stripped.
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"


def words(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """A vocabulary's words as the API takes and gives them, in the order it lists them."""
    return tuple(word.value for word in vocabulary)


VERIFICATIONS = words(Verification)
JOB_STATUSES = words(JobStatus)
CASE_STATUSES = words(CaseStatus)
CASE_ACTIONS = words(CaseAction)
REMINDER_STATUSES = words(ReminderStatus)


def text(max_length: int, *, required: bool = False, **field: Any) -> Any:
    """A text field; `required`: at least two visible characters."""
    pattern = (f"^{_TEXT}*{_VISIBLE}{_TEXT}*{_VISIBLE}{_TEXT}*$" if required
               else f"^{_TEXT}*$")
    return Field(min_length=2 if required else 0, max_length=max_length, pattern=pattern,
                 **field)


def yuan(*, above_zero: bool, le: int) -> Any:
    """An amount in yuan, at most two decimals, as a JSON integer or a decimal string.
    (A JSON fraction such as 0.29 may reach us as 0.29000000000000004, so fractions are
    documented as strings; `le` is a power of ten.)"""
    digits = len(str(le)) - 1
    least = r"0\.(0[1-9]|[1-9][0-9]?)" if above_zero else r"0(\.[0-9]{1,2})?"
    pattern = (rf"^({least}|[1-9][0-9]{{0,{digits - 1}}}(\.[0-9]{{1,2}})?"
               rf"|{le}(\.00?)?)$")
    schema = {"anyOf": [{"type": "integer", "minimum": 1 if above_zero else 0, "maximum": le},
                        {"type": "string", "pattern": pattern}]}
    limits = {"gt": 0} if above_zero else {"ge": 0}
    return Annotated[Decimal, Field(le=le, decimal_places=2, **limits),
                     WithJsonSchema(schema)]


def _plausible(moment: datetime | None) -> datetime | None:
    if moment is not None and not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"a date between {EARLIEST_YEAR} and {LATEST_YEAR}, please")
    return moment


DayWage = yuan(above_zero=True, le=10_000)
Amount = yuan(above_zero=True, le=10_000_000)
Owed = yuan(above_zero=False, le=10_000_000)
Start = Annotated[datetime, WithJsonSchema({
    "type": "string", "format": "date-time", "pattern": PLAUSIBLE_YEAR,
    "description": f"ISO 8601, in the years {EARLIEST_YEAR}-{LATEST_YEAR}; without an offset "
                   "it is market time. Not more than an hour before now (else 422)."})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EmployerIn(_Body):
    name: str = text(200, required=True)
    phone: str = Field(min_length=5, max_length=32, json_schema_extra={"format": "phone"},
                       description="a phone number in China, any format; stored as E.164")
    address: str = text(500, default="")
    credit_code: str = Field(
        min_length=18, max_length=18, json_schema_extra={
            "format": "gb32100",
            "pattern": "^[1-9A-HJ-NPQRTUWY][0-9A-HJ-NPQRTUWXY](?!000000)[0-9]{6}"
                       "[0-9A-HJ-NPQRTUWXY]{10}$"},
        description="统一社会信用代码: its check character must match (GB 32100)")


class VerificationIn(_Body):
    state: Literal[VERIFICATIONS]
    checked: str = text(1000, required=True,
                        description="what the agent checked: licence, site visit …")


class LineIn(_Body):
    trade: str = Field(description="a trade code of the market, see GET /api/trades")
    headcount: int = Field(ge=1, le=500)
    day_wage_yuan: DayWage

    @property
    def day_wage_fen(self) -> int:
        return int(self.day_wage_yuan * 100)


class JobIn(_Body):
    employer_id: Id
    lines: list[LineIn] = Field(min_length=1, max_length=10,
                                description="one line per trade (else 422)")
    start_at: Start
    days: int = Field(ge=1, le=365)
    daily_pay: bool = Field(default=False, description="日结: paid at the end of each day")
    town_id: Id = Field(description="a town of the market, see GET /api/areas (else 404)")
    address: str = text(500, required=True)
    notes: str = text(2000, default="")

    _start_plausible = field_validator("start_at")(_plausible)

    @field_validator("lines")
    @classmethod
    def one_line_per_trade(cls, lines: list[LineIn]) -> list[LineIn]:
        trades = [line.trade for line in lines]
        if len(set(trades)) != len(trades):
            raise ValueError("one line per trade: add the headcounts together")
        return lines


class JobChangeIn(_Body):
    start_at: Start | None = None
    address: str | None = text(500, required=True, default=None)
    notes: str | None = text(2000, default=None)

    _start_plausible = field_validator("start_at")(_plausible)


def _needs(action: CaseAction, field: str) -> dict:
    return {"if": {"properties": {"action": {"const": action.value}}},
            "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}}}


class CaseActionIn(_Body):
    model_config = ConfigDict(json_schema_extra={
        "allOf": [_needs(CaseAction.RECOVERED, "amount_yuan"),
                  _needs(CaseAction.REFER, "referral")]})

    action: Literal[CASE_ACTIONS]
    note: str = text(2000, default="")
    amount_yuan: Amount | None = Field(default=None, description="recovered: how much")
    referral: Literal["arbitration", "platform"] | None = Field(
        default=None, description="refer: 劳动仲裁 (arbitration) or the 根治欠薪 platform")

    @property
    def amount_fen(self) -> int | None:
        return None if self.amount_yuan is None else int(self.amount_yuan * 100)


class HireCorrectionIn(_Body):
    days_worked: int | None = Field(default=None, ge=0, le=365)
    owed_yuan: Owed | None = None

    @property
    def owed_fen(self) -> int | None:
        return None if self.owed_yuan is None else int(self.owed_yuan * 100)


# What the API answers: each handler returns one of these (or a list), the route table
# serialises it, and the OpenAPI document is made of the same models. Most are read
# straight from the store's rows (`from_attributes`).
def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# Times leave the API in UTC, whatever zone they came in.
Moment = Annotated[datetime, PlainSerializer(_utc, return_type=str),
                   WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]  # as the request wrote it


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class FieldError(_Out):
    field: str
    reason: str


class Error(_Out):
    error: str = Field(description="the reason, for people")
    field: str | None = Field(description="the field at fault, when one is")
    errors: list[FieldError] = Field(
        default=[], exclude_if=lambda errors: not errors,
        description="every field at fault (a 422 from validation)")


class TradeOut(_Out):
    code: str
    name: str
    synonyms: list[str]


class TownOut(_Out):
    id: int
    name: str


class DistrictOut(_Out):
    id: int
    name: str
    towns: list[TownOut]


class EmployerOut(_Out):
    id: int
    name: str
    phone: str = Field(description="E.164")
    address: str
    credit_code: str
    verification: Literal[VERIFICATIONS]
    verified_by: str | None
    verified_at: Moment | None
    verification_note: str | None


class EmployerDetailOut(EmployerOut):
    open_cases: list[int] = Field(description="ids of its open rights cases")
    alerts_held: bool = Field(description="an open case holds its job alerts")
    rating_avg: float | None


class LineOut(_Out):
    id: int
    trade: str
    headcount: int
    filled: int
    day_wage_fen: int


class JobOut(_Out):
    id: int
    code: str = Field(description="what workers type on a keypad: J + id")
    status: Literal[JOB_STATUSES]
    employer_id: int
    start_at: Moment
    end_at: Moment
    days: int
    daily_pay: bool
    town_id: int
    address: str
    notes: str
    waves_sent: int
    next_wave_at: Moment | None
    lines: list[LineOut]


class MatchOut(_Out):
    offer_id: int
    worker_id: int
    demo_worker: bool = Field(description="a demo market's worker, on a number that reaches "
                                          "no one")
    job_line_id: int
    wave: int = Field(description="0: the worker heard of it by calling in")
    status: str
    channel: str
    score: dict[str, Any] = Field(description="the ranking's parts")
    alerted_at: Moment | None
    held_until: Moment | None = Field(description="quiet hours: the alert waits until then")


class CaseOut(_Out):
    id: int
    status: Literal[CASE_STATUSES]
    employer_id: int | None
    job_id: int | None
    opened_by: str
    opened_at: Moment
    assigned_to: str | None
    owed_fen: int
    recovered_fen: int
    referred_to: str | None
    closed_at: Moment | None


class CaseEmployerOut(_Out):
    id: int
    name: str
    phone: str
    address: str
    credit_code: str


class SiteOut(_Out):
    job_code: str
    address: str
    start_at: Moment
    end_at: Moment


class HireEvidenceOut(_Out):
    id: int
    status: str
    contract_summary: str
    days_worked: int | None
    owed_fen: int | None
    paid_fen: int
    started_at: Moment | None
    started_by: str | None


class PayCheckOut(_Out):
    period_start: date
    period_end: date
    owed_fen: int
    status: str
    paid_fen: int | None
    answered_at: Moment | None


class SmsOut(_Out):
    at: Moment
    direction: Literal["in", "out"]
    body: str
    status: str | None = Field(default=None, exclude_if=lambda status: status is None,
                               description="outbound only")


class CallOut(_Out):
    call_sid: str
    started_at: Moment
    direction: str
    status: str


class CaseWorkerOut(_Out):
    worker_id: int
    name: str | None
    phone: str
    owed_fen: int
    recovered_fen: int = Field(description="this worker's share of what the case recovered")
    hire: HireEvidenceOut | None
    pay_checks: list[PayCheckOut]
    sms: list[SmsOut]
    calls: list[CallOut]
    recordings: list[str]


class CaseEventOut(_Out):
    at: Moment
    actor: str
    kind: str
    note: str
    amount_fen: int | None


class CaseDetailOut(CaseOut):
    employer: CaseEmployerOut | None
    site: SiteOut | None
    workers: list[CaseWorkerOut]
    history: list[CaseEventOut]


class HireOut(_Out):
    id: int
    days_worked: int | None
    owed_fen: int | None
    paid_fen: int
    status: str


class EmployerClearedOut(_Out):
    id: int
    alerts_held: Literal[False]


class ReminderOut(_Out):
    id: int
    kind: str
    hire_id: int
    pay_check_id: int | None
    due_at: Moment
    status: Literal[REMINDER_STATUSES]
    done_at: Moment | None


class FiguresOut(_Out):
    model_config = ConfigDict(populate_by_name=True)

    from_: Day = Field(alias="from")
    to: Day
    registrations: int
    recommended: int
    hired: int
    wages_confirmed_paid: int
    wages_confirmed_paid_fen: int
    unpaid_cases_opened: int
    unpaid_cases_resolved: int
    amount_recovered_fen: int


class AuditOut(_Out):
    id: int
    at: Moment
    actor: str = Field(description="the agent's name; `caller` for what a caller did by phone")
    action: str
    subject: str = Field(description="`type:id` (`case:12`), or a caller's phone")
    detail: dict[str, Any]


class AgentIn(_Body):
    # Not all digits: `gigline agents revoke 7` means token 7 (console.accounts).
    name: str = text(64, required=True,
                     json_schema_extra={"not": {"pattern": r"^\s*[0-9]+\s*$"}})
    role: Literal[tuple(role.value for role in Role)] = Role.AGENT.value


class AgentOut(_Out):
    id: int
    name: str
    role: str
    active: bool
    live_tokens: int
    created_at: Moment


class AgentAddedOut(AgentOut):
    password: str = Field(description="made up for them; shown this once, kept only hashed")


class TokenOut(_Out):
    id: int = Field(description="revoke it by this: POST /api/tokens/{id}/revoke")
    agent_id: int
    token: str = Field(description="shown this once, kept only hashed")


class TokenRevokedOut(_Out):
    id: int
    revoked: bool
