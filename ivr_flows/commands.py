"""What a flow asks for. Voice commands are rendered by the channel (TwiML, or another
carrier's); effects are carried out by the runner against the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from basics.market_views import PayAnswer
from ivr_flows.listening import Listen


# --- voice ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Ask:
    """Play the prompts while listening for keys and, with `listen`, for speech."""

    prompts: tuple[str, ...]
    max_digits: int = 1
    finish_on_key: str = ""
    timeout_seconds: int = 6
    listen: Listen | None = None


@dataclass(frozen=True)
class RecordName:
    prompts: tuple[str, ...]
    max_seconds: int = 8


@dataclass(frozen=True)
class ConnectAgent:
    numbers: tuple[str, ...]


@dataclass(frozen=True)
class HangUp:
    pass


VoiceCommand = Say | Ask | RecordName | ConnectAgent | HangUp


# --- effects -------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordConsent:
    pass


@dataclass(frozen=True)
class SaveProfile:
    """Keep what the caller entered so far, so a hang-up loses nothing."""

    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StoreIdNumber:
    """The only place an ID number travels in clear; the runner keeps a keyed hash."""

    id_number: str


@dataclass(frozen=True)
class CompleteRegistration:
    pass


@dataclass(frozen=True)
class FindOffers:
    """Asks the runner for matching offers; answered with an OffersFound input."""


@dataclass(frozen=True)
class FindHires:
    """Asks the runner for the worker's confirmed hires still to finish; answered with a
    HiresFound input."""


@dataclass(frozen=True)
class ReserveSlot:
    """Asks the runner to take a slot; answered with a SlotResult input."""

    job_line_id: int


@dataclass(frozen=True)
class RecordWageReport:
    amount_fen: int


@dataclass(frozen=True)
class AnswerPay:
    """The worker's answer to "were you paid?" (partly: with the amount received)."""

    check_id: int
    answer: PayAnswer
    paid_fen: int | None = None


@dataclass(frozen=True)
class CheckIn:
    """The worker is at the site; answered with a Done input (detail: the job code)."""


@dataclass(frozen=True)
class RequestCallback:
    reason: str


Effect = (
    RecordConsent
    | SaveProfile
    | StoreIdNumber
    | CompleteRegistration
    | FindOffers
    | ReserveSlot
    | RecordWageReport
    | AnswerPay
    | CheckIn
    | RequestCallback
)


# --- a turn's answer, stored with the call --------------------------------------------
_VOICE = {cls.__name__: cls for cls in (Say, Ask, RecordName, ConnectAgent, HangUp)}


def voice_to_json(commands: list | tuple) -> list[dict]:
    """The voice commands as JSON: a retried webhook is answered by rendering them again.
    An Ask keeps only whether it listens: what the prompt hears is in the call's state."""
    out = []
    for command in commands:
        fields = {f: getattr(command, f) for f in command.__dataclass_fields__}
        if isinstance(command, Ask):
            fields["listen"] = command.listen is not None
        out.append({"do": type(command).__name__, **fields})
    return out


def voice_from_json(data: list[dict]) -> tuple[VoiceCommand, ...]:
    commands = []
    for item in data:
        fields = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in item.items() if k != "do"}
        if item["do"] == "Ask":
            fields["listen"] = Listen() if fields["listen"] else None
        commands.append(_VOICE[item["do"]](**fields))
    return tuple(commands)
