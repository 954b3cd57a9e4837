"""Settings: read once from the environment into one frozen, validated object."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from basics.clock import QuietHours
from basics.phones import InvalidPhoneNumber, to_e164
from market.wages import WageRules
from telephony.media_stream import websocket_url

DEFAULT_DATA_DIR = Path("var")
LOCAL_ACCOUNT_SID = "AC" + "0" * 31 + "1"
LOCAL_HOTLINE_NUMBER = "+863592123456"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


# One decoding thread per core and one more: a thread waiting for the GIL to hand its
# result back would otherwise leave a core idle (measured in docs/speech_benchmarks.md).
DEFAULT_SPEECH_THREADS = (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_phone_number: str | None = None
    # The number workers call, named in SMS (help, replies); None: the number SMS come from.
    hotline_setting: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str | None = None
    local_carrier_port: int = 8081
    local_carrier_token: str = field(default_factory=lambda: secrets.token_hex(16))
    run_scheduler: bool = True
    data_dir: Path = DEFAULT_DATA_DIR
    language: str = "zh-CN"
    voice: str = "Polly.Zhiyu"
    agent_numbers: tuple[str, ...] = ()
    id_hash_key: str = "gigline-dev-only-key"
    market_code: str = "yuncheng"
    outbox_interval_seconds: float = 2.0
    sms_rate_per_second: float = 1.0
    sms_concurrency: int = 8
    demo_data: bool = False
    embedded: bool = field(default=False)
    # agent name by API token; the embedded default makes one for the agent "demo"
    api_tokens: dict[str, str] = field(default_factory=dict)
    wave_multiplier: int = 3
    wave_interval_minutes: float = 10
    quiet_hours: tuple[time, time] = (time(21), time(7))
    quiet_hours_override_hours: float = 12
    employer_confirm_minutes: float = 60
    outbox_lease_seconds: float = 120
    wage_question_hour: time = time(19)
    wage_employer_hour: time = time(9)
    wage_max_asks: int = 3
    wage_grace_days: float = 3
    reminder_late_hours: float = 6
    hold_employers_with_cases: bool = True
    # Speech: a Vosk model for the speech pack's language; None keeps calls keypad-only.
    speech_language: str = "zh-CN"
    vosk_model_path: str | None = None
    speech_threads: int = DEFAULT_SPEECH_THREADS

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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        data_dir = Path(env.get("GIGLINE_DATA_DIR", str(DEFAULT_DATA_DIR)))
        db_url = env.get("GIGLINE_DATABASE_URL")
        embedded = db_url is None
        if embedded:
            db_url = f"sqlite+aiosqlite:///{data_dir / 'gigline.db'}"
        port = _int(env, "GIGLINE_PORT", 8080)
        language = env.get("GIGLINE_LANGUAGE", "zh-CN")
        speech_language = env.get("GIGLINE_SPEECH_LANGUAGE") or language
        host = env.get("GIGLINE_HOST", "127.0.0.1")
        settings = cls(
            database_url=_async_driver(db_url),
            public_url=env.get("GIGLINE_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            listen_host=host,
            listen_port=port,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_phone_number=env.get("TWILIO_PHONE_NUMBER") or None,
            hotline_setting=_phone(env, "GIGLINE_HOTLINE_NUMBER"),
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            twilio_api_base=env.get("GIGLINE_TWILIO_API_BASE") or None,
            local_carrier_port=_int(env, "GIGLINE_LOCAL_CARRIER_PORT", 8081),
            local_carrier_token=env.get("GIGLINE_LOCAL_CARRIER_TOKEN") or secrets.token_hex(16),
            run_scheduler=env.get("GIGLINE_SCHEDULER", "1") != "0",
            data_dir=data_dir,
            language=language,
            voice=env.get("GIGLINE_VOICE", "Polly.Zhiyu"),
            agent_numbers=tuple(
                n.strip() for n in env.get("GIGLINE_AGENT_NUMBERS", "").split(",") if n.strip()
            ),
            id_hash_key=env.get("GIGLINE_ID_HASH_KEY", "gigline-dev-only-key"),
            market_code=env.get("GIGLINE_MARKET", "yuncheng"),
            outbox_interval_seconds=_float(env, "GIGLINE_OUTBOX_INTERVAL", 2),
            sms_rate_per_second=_float(env, "GIGLINE_SMS_RATE", 1),
            sms_concurrency=_int(env, "GIGLINE_SMS_CONCURRENCY", 8),
            demo_data=env.get("GIGLINE_DEMO", "1" if embedded else "0") == "1",
            embedded=embedded,
            api_tokens=_api_tokens(env.get("GIGLINE_API_TOKENS"), embedded),
            wave_multiplier=_int(env, "GIGLINE_WAVE_MULTIPLIER", 3),
            wave_interval_minutes=_float(env, "GIGLINE_WAVE_MINUTES", 10),
            quiet_hours=_quiet_hours(env.get("GIGLINE_QUIET_HOURS", "21:00-07:00")),
            quiet_hours_override_hours=_float(env, "GIGLINE_QUIET_OVERRIDE_HOURS", 12),
            employer_confirm_minutes=_float(env, "GIGLINE_EMPLOYER_CONFIRM_MINUTES", 60),
            outbox_lease_seconds=_float(env, "GIGLINE_OUTBOX_LEASE_SECONDS", 120),
            wage_question_hour=_clock_time(env, "GIGLINE_WAGE_QUESTION_TIME", "19:00"),
            wage_employer_hour=_clock_time(env, "GIGLINE_WAGE_EMPLOYER_TIME", "09:00"),
            wage_max_asks=_int(env, "GIGLINE_WAGE_MAX_ASKS", 3),
            wage_grace_days=_float(env, "GIGLINE_WAGE_GRACE_DAYS", 3),
            reminder_late_hours=_float(env, "GIGLINE_REMINDER_LATE_HOURS", 6),
            hold_employers_with_cases=env.get("GIGLINE_HOLD_EMPLOYERS_WITH_CASES", "1") != "0",
            speech_language=speech_language,
            vosk_model_path=_model_path(env, speech_language),
            speech_threads=_int(env, "GIGLINE_SPEECH_THREADS", DEFAULT_SPEECH_THREADS),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if urlsplit(self.public_url).scheme not in ("http", "https"):
            raise SettingsError(f"GIGLINE_PUBLIC_URL must be an http(s) URL: {self.public_url!r}")
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise SettingsError("set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither")
        if not self.uses_local_carrier:
            if not (self.twilio_phone_number or self.twilio_messaging_service_sid):
                raise SettingsError(
                    "with Twilio credentials, set TWILIO_PHONE_NUMBER or "
                    "TWILIO_MESSAGING_SERVICE_SID"
                )
            if self.hotline_number is None:
                raise SettingsError("set GIGLINE_HOTLINE_NUMBER: the number workers call, "
                                    "named in SMS (a Messaging Service has none of its own)")
            if self.id_hash_key == "gigline-dev-only-key":
                raise SettingsError("set GIGLINE_ID_HASH_KEY: ID numbers need a secret key")
        elif not _is_loopback(self.public_url):
            # The local carrier signs with a throwaway token: never let it face the internet.
            raise SettingsError(
                "no Twilio credentials but GIGLINE_PUBLIC_URL is not a loopback address: "
                "the local carrier only runs on one machine; set the TWILIO_* settings"
            )
        if self.language not in ("zh-CN", "en"):
            raise SettingsError(f"GIGLINE_LANGUAGE must be zh-CN or en: {self.language!r}")
        if self.sms_rate_per_second <= 0:
            raise SettingsError("GIGLINE_SMS_RATE must be positive")
        if self.sms_concurrency < 1:
            raise SettingsError("GIGLINE_SMS_CONCURRENCY must be at least 1")
        if self.wave_multiplier < 1 or self.wave_interval_minutes <= 0:
            raise SettingsError("GIGLINE_WAVE_MULTIPLIER and GIGLINE_WAVE_MINUTES must be positive")
        if self.wage_max_asks < 1 or self.wage_grace_days < 0 or self.reminder_late_hours <= 0:
            raise SettingsError("GIGLINE_WAGE_MAX_ASKS, GIGLINE_WAGE_GRACE_DAYS and "
                                "GIGLINE_REMINDER_LATE_HOURS must be positive")
        if self.outbox_lease_seconds < 2:
            raise SettingsError("GIGLINE_OUTBOX_LEASE_SECONDS must be at least 2")
        if not self.uses_local_carrier and self.vosk_model_path and \
                urlsplit(self.public_url).scheme != "https":
            raise SettingsError("speech needs an https GIGLINE_PUBLIC_URL: Twilio opens media "
                                "streams on wss:// only (error 31920)")
        if self.speech_threads < 1:
            raise SettingsError("GIGLINE_SPEECH_THREADS must be at least 1")
        if self.employer_confirm_minutes <= 0:
            raise SettingsError("GIGLINE_EMPLOYER_CONFIRM_MINUTES must be positive")


def _model_path(env: Mapping[str, str], language: str) -> str | None:
    """VOSK_MODEL_PATH_ZH_CN (one model per language a market speaks), else VOSK_MODEL_PATH."""
    per_language = "VOSK_MODEL_PATH_" + language.upper().replace("-", "_")
    return env.get(per_language) or env.get("VOSK_MODEL_PATH") or None


def _number(env: Mapping[str, str], name: str, default, kind: type, what: str):
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}: {raw!r}") from None


def _phone(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        raise SettingsError(f"{name} is not a phone number: {raw!r}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, "a whole number")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, "a number")


def _api_tokens(raw: str | None, embedded: bool) -> dict[str, str]:
    """`agent:token,agent:token` -> {token: agent}. Never open: without tokens the API
    refuses everyone, except on the embedded default, which makes one for 'demo'."""
    if not raw:
        return {secrets.token_urlsafe(16): "demo"} if embedded else {}
    tokens = {}
    for pair in raw.split(","):
        agent, _, token = pair.strip().partition(":")
        if not agent or len(token) < 16:
            raise SettingsError(
                "GIGLINE_API_TOKENS must be agent:token pairs with tokens of 16+ characters"
            )
        tokens[token] = agent
    return tokens


def _clock_time(env: Mapping[str, str], name: str, default: str) -> time:
    raw = env.get(name, default)
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a time like 19:00: {raw!r}") from None


def _quiet_hours(raw: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise SettingsError(f"GIGLINE_QUIET_HOURS must look like 21:00-07:00: {raw!r}") from None
    return start, end


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
