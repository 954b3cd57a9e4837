"""Settings: read once from the environment into one frozen, validated object.

Each field names its variable, its default as the variable would spell it and what it is
for; README's table lists the same variables (tests/test_readme_settings.py)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from basics.clock import QuietHours
from basics.phones import InvalidPhoneNumber, to_e164
from market.wages import WageRules
from store.db import POOL_SIZE
from telephony.webhooks import websocket_url

LOCAL_ACCOUNT_SID = "AC" + "0" * 31 + "1"
LOCAL_HOTLINE_NUMBER = "+863592123456"
# One decoding thread per core and one more: a thread waiting for the GIL to hand its
# result back would otherwise leave a core idle (measured in docs/speech_benchmarks.md).
DEFAULT_SPEECH_THREADS = (os.cpu_count() or 1) + 1


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def model_path_variable(language: str) -> str:
    """VOSK_MODEL_PATH_ZH_CN for zh-CN: one model per language a server's markets speak."""
    return "VOSK_MODEL_PATH_" + language.upper().replace("-", "_")


def _clock_time(raw: str) -> time:
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"must be a time like 19:00: {raw!r}") from None


def _phone(raw: str | None) -> str | None:
    try:
        return to_e164(raw) if raw else None
    except InvalidPhoneNumber:
        raise ValueError(f"is not a phone number: {raw!r}") from None


def _api_tokens(raw: str) -> dict[str, str]:
    """`agent:token,agent:token` -> {token: agent}; the message never repeats a token."""
    tokens = {}
    for pair in raw.split(",") if raw else ():
        agent, _, token = pair.strip().partition(":")
        if not agent or len(token) < 16:
            raise ValueError("must be agent:token pairs with tokens of 16+ characters")
        tokens[token] = agent
    return tokens


def _async_driver(url: str) -> str:
    """Accept plain URLs operators know and pick the async drivers Gigline uses."""
    for plain, async_ in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_ + url[len(plain):]
    return url


# Compose files and shells differ in how they unset a variable: empty counts as unset.
OptionalStr = Annotated[str | None, BeforeValidator(lambda raw: raw or None)]
RandomIfUnset = Annotated[str, BeforeValidator(lambda raw: raw or secrets.token_hex(16))]
OnUnless0 = Annotated[bool, BeforeValidator(lambda raw: raw != "0")]
OnIf1 = Annotated[bool, BeforeValidator(lambda raw: raw == "1")]
CommaSeparated = Annotated[tuple[str, ...], BeforeValidator(
    lambda raw: tuple(item.strip() for item in raw.split(",") if item.strip()))]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Phone = Annotated[str | None, BeforeValidator(_phone)]
DatabaseUrl = Annotated[str, BeforeValidator(_async_driver)]
ApiTokens = Annotated[dict[str, str], BeforeValidator(_api_tokens)]


class Settings(BaseModel):
    # Defaults are spelled as the variables would be ("21:00-07:00") and parsed like them.
    model_config = ConfigDict(frozen=True, validate_default=True)

    listen_host: str = Field(
        "127.0.0.1", alias="GIGLINE_HOST", description="the address the app listens on")
    listen_port: int = Field(
        8080, alias="GIGLINE_PORT", description="the port the app listens on")
    public_url: str = Field(
        default_factory=lambda given: f"http://127.0.0.1:{given['listen_port']}",
        alias="GIGLINE_PUBLIC_URL",
        description="the URL Twilio calls us at, against which signatures are checked")
    data_dir: Path = Field(
        "var", alias="GIGLINE_DATA_DIR", description="where the embedded SQLite file lives")
    database_url: DatabaseUrl = Field(
        default_factory=lambda given: f"sqlite+aiosqlite:///{given['data_dir'] / 'gigline.db'}",
        alias="GIGLINE_DATABASE_URL",
        description="SQLAlchemy URL (postgresql:// uses asyncpg); unset: the embedded default")
    database_pool_size: int = Field(
        POOL_SIZE, ge=1, alias="GIGLINE_DATABASE_POOL_SIZE",
        description="PostgreSQL connections each process keeps open (SQLite: one)")
    twilio_account_sid: OptionalStr = Field(
        None, alias="TWILIO_ACCOUNT_SID", description="Twilio account; unset: the local carrier")
    twilio_auth_token: OptionalStr = Field(
        None, alias="TWILIO_AUTH_TOKEN", description="Twilio auth token, set with the account")
    twilio_phone_number: OptionalStr = Field(
        None, alias="TWILIO_PHONE_NUMBER", description="the number SMS are sent from")
    hotline_setting: Phone = Field(
        None, alias="GIGLINE_HOTLINE_NUMBER",
        description="the number workers call, named in SMS; unset: the number SMS come from")
    twilio_messaging_service_sid: OptionalStr = Field(
        None, alias="TWILIO_MESSAGING_SERVICE_SID",
        description="send through a Messaging Service instead of a number")
    twilio_api_base: OptionalStr = Field(
        None, alias="GIGLINE_TWILIO_API_BASE",
        description="where Twilio REST calls go; unset: Twilio, or the local carrier")
    local_carrier_port: int = Field(
        8081, alias="GIGLINE_LOCAL_CARRIER_PORT", description="the local carrier's REST port")
    local_carrier_token: RandomIfUnset = Field(
        "", alias="GIGLINE_LOCAL_CARRIER_TOKEN", description="the local carrier's auth token")
    id_hash_key: str = Field(
        "gigline-dev-only-key", alias="GIGLINE_ID_HASH_KEY",
        description="secret key for the hash of ID numbers; required with Twilio")
    agent_numbers: CommaSeparated = Field(
        "", alias="GIGLINE_AGENT_NUMBERS", description="numbers of the agents on duty")
    market_code: str = Field(
        "yuncheng", alias="GIGLINE_MARKET", description="which market/data/*.json to load")
    language: Literal["zh-CN", "en"] = Field(
        "zh-CN", alias="GIGLINE_LANGUAGE", description="the prompt catalogue")
    voice: str = Field(
        "Polly.Zhiyu", alias="GIGLINE_VOICE", description="the <Say> voice")
    demo_data: OnIf1 = Field(
        "0", alias="GIGLINE_DEMO", description="1: load the demo employer and jobs")
    run_scheduler: OnUnless0 = Field(
        "1", alias="GIGLINE_SCHEDULER", description="0: a web-only instance, sending no SMS")
    outbox_interval_seconds: float = Field(
        2, alias="GIGLINE_OUTBOX_INTERVAL", description="seconds between outbox sweeps")
    sms_rate_per_second: float = Field(
        1, gt=0, alias="GIGLINE_SMS_RATE", description="SMS per second the carrier allows")
    sms_concurrency: int = Field(
        8, ge=1, alias="GIGLINE_SMS_CONCURRENCY",
        description="carrier requests in flight at once")
    outbox_lease_seconds: float = Field(
        120, ge=2, alias="GIGLINE_OUTBOX_LEASE_SECONDS",
        description="how long a claimed message may be in flight before it is checked")
    # agent name by token; the embedded default makes one for "demo" (see _derived_defaults)
    api_tokens: ApiTokens = Field(
        "", alias="GIGLINE_API_TOKENS",
        description="agent:token,agent:token; the API refuses everyone without one")
    # Environment tokens are agents unless named here: the least a token can do, since
    # one set in a deployment's environment is shared more widely than a person's own.
    api_supervisors: CommaSeparated = Field(
        "", alias="GIGLINE_API_SUPERVISORS",
        description="names in GIGLINE_API_TOKENS whose tokens have the supervisor's role")
    wave_multiplier: int = Field(
        3, ge=1, alias="GIGLINE_WAVE_MULTIPLIER",
        description="workers alerted per open slot in a wave")
    wave_interval_minutes: float = Field(
        10, gt=0, alias="GIGLINE_WAVE_MINUTES", description="minutes between waves")
    quiet_hours: tuple[time, time] = Field(
        "21:00-07:00", alias="GIGLINE_QUIET_HOURS",
        description="market time when alerts wait for the morning; equal times: none")
    quiet_hours_override_hours: float = Field(
        12, alias="GIGLINE_QUIET_OVERRIDE_HOURS",
        description="jobs starting sooner than this are alerted even in quiet hours")
    employer_confirm_minutes: float = Field(
        60, gt=0, alias="GIGLINE_EMPLOYER_CONFIRM_MINUTES",
        description="an unanswering employer is reminded after this, released after twice")
    wage_employer_hour: ClockTime = Field(
        "09:00", alias="GIGLINE_WAGE_EMPLOYER_TIME",
        description="market time employers hear the wages due")
    wage_question_hour: ClockTime = Field(
        "19:00", alias="GIGLINE_WAGE_QUESTION_TIME",
        description="market time workers are asked whether they were paid")
    wage_max_asks: int = Field(
        3, ge=1, alias="GIGLINE_WAGE_MAX_ASKS",
        description="times an unanswered pay question is asked")
    wage_grace_days: float = Field(
        3, ge=0, alias="GIGLINE_WAGE_GRACE_DAYS",
        description="days unpaid before a rights case opens")
    reminder_late_hours: float = Field(
        6, gt=0, alias="GIGLINE_REMINDER_LATE_HOURS",
        description="how late a reminder missed while down may still go out")
    hold_employers_with_cases: OnUnless0 = Field(
        "1", alias="GIGLINE_HOLD_EMPLOYERS_WITH_CASES",
        description="0: employers with open cases still get job alerts")
    speech_language: str = Field(
        alias="GIGLINE_SPEECH_LANGUAGE", description="the speech pack; unset: GIGLINE_LANGUAGE")
    vosk_model_path: OptionalStr = Field(
        None, alias="VOSK_MODEL_PATH",
        description="a Vosk model for the speech language; unset: calls are keypad-only")
    speech_threads: int = Field(
        DEFAULT_SPEECH_THREADS, ge=1, alias="GIGLINE_SPEECH_THREADS",
        description="threads decoding speech")

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, raw: str) -> tuple[time, time]:
        try:
            start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
        except ValueError:
            raise ValueError(f"must look like 21:00-07:00: {raw!r}") from None
        return start, end

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"must be an http(s) URL: {url!r}")
        return url.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, env: Mapping[str, str]) -> dict[str, Any]:
        """The defaults that depend on other variables."""
        env = dict(env)
        if "GIGLINE_DATABASE_URL" not in env:
            # The embedded default (`make run`): SQLite in the data directory, the demo
            # market, and an API token for the agent "demo" (the API is never open).
            env.setdefault("GIGLINE_DEMO", "1")
            env["GIGLINE_API_TOKENS"] = (env.get("GIGLINE_API_TOKENS")
                                         or f"demo:{secrets.token_urlsafe(16)}")
        speech = env.get("GIGLINE_SPEECH_LANGUAGE") or env.get("GIGLINE_LANGUAGE", "zh-CN")
        env["GIGLINE_SPEECH_LANGUAGE"] = speech
        env["VOSK_MODEL_PATH"] = (env.get(model_path_variable(speech))
                                  or env.get("VOSK_MODEL_PATH"))
        return env

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        unknown = set(self.api_supervisors) - set(self.api_tokens.values())
        if unknown:
            raise ValueError(f"GIGLINE_API_SUPERVISORS names {', '.join(sorted(unknown))}, "
                             "who has no token in GIGLINE_API_TOKENS")
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise ValueError("set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither")
        if not self.uses_local_carrier:
            if not (self.twilio_phone_number or self.twilio_messaging_service_sid):
                raise ValueError("with Twilio credentials, set TWILIO_PHONE_NUMBER or "
                                 "TWILIO_MESSAGING_SERVICE_SID")
            if self.hotline_number is None:
                raise ValueError("set GIGLINE_HOTLINE_NUMBER: the number workers call, "
                                 "named in SMS (a Messaging Service has none of its own)")
            if self.id_hash_key == "gigline-dev-only-key":
                raise ValueError("set GIGLINE_ID_HASH_KEY: ID numbers need a secret key")
            if self.vosk_model_path and urlsplit(self.public_url).scheme != "https":
                raise ValueError("speech needs an https GIGLINE_PUBLIC_URL: Twilio opens "
                                 "media streams on wss:// only (error 31920)")
        elif not _is_loopback(self.public_url):
            # The local carrier signs with a throwaway token: never let it face the internet.
            raise ValueError(
                "no Twilio credentials but GIGLINE_PUBLIC_URL is not a loopback address: "
                "the local carrier only runs on one machine; set the TWILIO_* settings"
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings `env` holds (os.environ, or a dict in tests), and nothing else."""
        try:
            return cls.model_validate(env)
        except ValidationError as invalid:
            raise SettingsError("; ".join(
                _explain(error) for error in invalid.errors()
                if error["type"] != "default_factory_not_called"  # follows another error
            )) from None

    @property
    def embedded(self) -> bool:
        """No GIGLINE_DATABASE_URL: `make run`, on SQLite in the data directory."""
        return "database_url" not in self.model_fields_set

    @property
    def carrier_timeout_seconds(self) -> float:
        """Carrier requests end well within the outbox lease (see hotline.sender), and
        within 10 s: Twilio answers in well under a second, and a request it never
        answers holds one of the sender's slots until then."""
        return min(self.outbox_lease_seconds / 4, 10.0)

    @property
    def stream_url(self) -> str:
        """Where Twilio opens Media Streams: wss:// (ws:// on a loopback http URL)."""
        return websocket_url(self.public_url) + "/twilio/stream"

    @property
    def uses_local_carrier(self) -> bool:
        return not (self.twilio_account_sid and self.twilio_auth_token)

    @property
    def account_sid(self) -> str:
        return self.twilio_account_sid or LOCAL_ACCOUNT_SID

    @property
    def auth_token(self) -> str:
        """Signs webhooks and authenticates REST calls: Twilio's, or the local carrier's."""
        return self.twilio_auth_token or self.local_carrier_token

    @property
    def rest_api_base(self) -> str | None:
        if self.twilio_api_base or not self.uses_local_carrier:
            return self.twilio_api_base
        return f"http://127.0.0.1:{self.local_carrier_port}"

    @property
    def sms_from_number(self) -> str:
        return self.twilio_phone_number or LOCAL_HOTLINE_NUMBER

    @property
    def hotline_number(self) -> str | None:
        """The number workers call, as SMS name it."""
        if self.hotline_setting:
            return self.hotline_setting
        return self.sms_from_number if self.uses_local_carrier or self.twilio_phone_number \
            else None


# pydantic's error types, said as rules about the variable
_RULES = {"int_parsing": "must be a whole number", "float_parsing": "must be a number",
          "greater_than": "must be more than {gt:g}",
          "greater_than_equal": "must be at least {ge:g}", "literal_error": "must be {expected}"}


def _explain(error: ErrorDetails) -> str:
    """GIGLINE_PORT must be a whole number: 'eighty'. A rule across settings names its own."""
    kind = error["type"]
    if kind == "value_error":
        reason = str(error["ctx"]["error"])
    else:
        rule = _RULES[kind].format(**error.get("ctx", {})) if kind in _RULES else error["msg"]
        reason = f"{rule}: {error['input']!r}"
    return " ".join([*map(str, error["loc"]), reason])


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wage_rules(settings: Settings, quiet: QuietHours) -> WageRules:
    return WageRules(
        employer_hour=settings.wage_employer_hour, question_hour=settings.wage_question_hour,
        max_asks=settings.wage_max_asks, grace=timedelta(days=settings.wage_grace_days),
        late_window=timedelta(hours=settings.reminder_late_hours),
        quiet=quiet)
