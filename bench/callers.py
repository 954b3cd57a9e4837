"""Scripted callers: read the TwiML a turn returns and press what it asks for.

A caller never knows the server's state; like a person on the phone it recognises the
question (by the catalogue's prompt text) and answers it. No I/O here: `start()` and
`answer(twiml)` return the next webhook to send, the load generator sends it."""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

from prompts.catalogue import load_catalogue

HOTLINE = "+863592123456"
ACCOUNT_SID = "AC" + "0" * 31 + "1"
VALID_ID_KEYS = "11010519491231002*"  # the X check character is keyed as *

# Which question a Gather asks, told by the prompt id its last <Say> comes from.
PROMPT_STEPS = {
    "consent": "consent", "trades_menu": "trades", "trades_more": "trades_more",
    "district_menu": "district", "town_menu": "town", "wage_ask": "wage",
    "availability_menu": "availability", "id_ask": "id_ask", "id_entry": "id_entry",
    "review": "review", "main_menu": "main_menu", "offer_choices": "offer",
    "update_menu": "update_menu", "wage_report_ask": "wage_report",
    "offer_agent": "offer_agent",
}


@dataclass(frozen=True)
class Webhook:
    """One request as Twilio would send it: an absolute URL (what gets signed) and a form."""

    url: str
    params: dict[str, str]
    kind: str  # voice | gather | record | status
    step: str = ""  # the question it answers, for latency by step


@dataclass(frozen=True)
class Prompt:
    """What a TwiML response asks the caller to do next."""

    verb: str  # gather | record | hangup | dial | none
    action: str = ""
    step: str = ""  # a PROMPT_STEPS value, or "" when the question is not recognised


class PromptReader:
    def __init__(self, language: str = "zh-CN"):
        prompts = load_catalogue(language).prompts
        # The fixed text before a template's first placeholder identifies it.
        self._prefixes = [(prompts[pid].split("{", 1)[0], step) for pid, step in
                          PROMPT_STEPS.items()]

    def read(self, twiml: str) -> Prompt:
        root = ET.fromstring(twiml)
        for element in root:
            if element.tag == "Gather":
                says = [s.text or "" for s in element.iter("Say")]
                return Prompt("gather", element.get("action", ""), self._step(says[-1:]))
            if element.tag == "Record":
                return Prompt("record", element.get("action", ""), "name")
            if element.tag in ("Hangup", "Dial"):
                return Prompt(element.tag.lower())
        return Prompt("none")

    def _step(self, says: list[str]) -> str:
        text = says[0] if says else ""
        for prefix, step in self._prefixes:
            if prefix and text.startswith(prefix):
                return step
        return ""


@dataclass
class Phonebook:
    """New numbers for first-time callers, and the numbers that finished registering.
    A number is on one call at a time, as a phone is."""

    rng: random.Random
    next_number: int = 0
    registered: list[str] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # calls started, by new / registered
    _known: set[str] = field(default_factory=set)
    _busy: set[str] = field(default_factory=set)

    def new_number(self) -> str:
        self.next_number += 1
        return f"+86138{self.next_number:08d}"

    def mark_registered(self, phone: str) -> None:
        if phone not in self._known:
            self._known.add(phone)
            self.registered.append(phone)

    def pick(self, registered_share: float) -> str:
        phone = None
        if self.registered and self.rng.random() < registered_share:
            phone = self.rng.choice(self.registered)
        if phone is None or phone in self._busy:
            phone = self.new_number()
        self.calls["registered" if phone in self._known else "new"] += 1
        self._busy.add(phone)
        return phone

    def release(self, phone: str) -> None:
        self._busy.discard(phone)


@dataclass(frozen=True)
class CallerPolicy:
    """How callers behave. `max_turns` fixes every call's length (capacity runs, so two
    servers see the same request mix); None lets calls end naturally."""

    registered_share: float = 0.5
    max_turns: int | None = None
    menu_actions: tuple[int, int] = (1, 3)  # main-menu errands per natural call
    decline_share: float = 0.03


class Caller:
    """One phone call, from the first webhook to the hang-up status callback."""

    def __init__(self, base_url: str, reader: PromptReader, phonebook: Phonebook,
                 policy: CallerPolicy, rng: random.Random):
        self.base_url, self.reader, self.phonebook = base_url, reader, phonebook
        self.policy, self.rng = policy, rng
        self.sid = "CA" + uuid.uuid4().hex
        self.phone = phonebook.pick(policy.registered_share)
        self.turns = 0
        self.errands = rng.randint(*policy.menu_actions)
        self.trades_picked = 0

    def start(self) -> Webhook:
        self.turns = 1
        return Webhook(f"{self.base_url}/twilio/voice", self._params(), "voice", "call")

    def answer(self, twiml: str) -> Webhook | None:
        """The next webhook after this response, or None when the call is over."""
        prompt = self.reader.read(twiml)
        if prompt.verb not in ("gather", "record") or self._done(prompt):
            return None
        self.turns += 1
        if prompt.verb == "record":
            recording = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE"
            return Webhook(prompt.action, self._params(
                RecordingUrl=recording + uuid.uuid4().hex, RecordingDuration="2",
            ), "record", "name")
        return Webhook(prompt.action, self._params(Digits=self._keys(prompt.step),
                                                   FinishedOnKey=""),
                       "gather", prompt.step or "unrecognised")

    def hang_up(self) -> Webhook:
        self.phonebook.release(self.phone)
        return Webhook(f"{self.base_url}/twilio/status",
                       self._params(CallStatus="completed", CallDuration=str(self.turns * 5)),
                       "status", "hang-up")

    def _done(self, prompt: Prompt) -> bool:
        if prompt.step == "main_menu":
            self.phonebook.mark_registered(self.phone)
        if self.policy.max_turns is not None:
            return self.turns >= self.policy.max_turns
        if prompt.step == "main_menu":
            self.errands -= 1
            return self.errands < 0
        return self.turns >= 40  # a caller stuck in a loop gives up

    def _keys(self, step: str) -> str:
        rng = self.rng
        match step:
            case "consent":
                natural = self.policy.max_turns is None
                return "2" if natural and rng.random() < self.policy.decline_share else "1"
            case "trades":
                self.trades_picked += 1
                return rng.choice("123")
            case "trades_more":
                return "1" if self.trades_picked < 2 and rng.random() < 0.25 else "2"
            case "district":
                return rng.choice("123")
            case "wage":
                return str(rng.randint(150, 500))
            case "availability":
                return rng.choice("123")
            case "id_ask":
                return "1" if rng.random() < 0.2 else "2"
            case "id_entry":
                return VALID_ID_KEYS
            case "main_menu":
                return rng.choices("123", weights=(5, 3, 2))[0]
            case "offer":
                return "1" if rng.random() < 0.4 else "2"
            case "update_menu":
                self.trades_picked = 0
                return "1" if rng.random() < 0.3 else "2"
            case "wage_report":
                return str(rng.randint(100, 3000))
            case _:  # town, review, offer_agent; "1" also moves an unrecognised menu on
                return "1"

    def _params(self, **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.phone,
            "To": HOTLINE, "Caller": self.phone, "Called": HOTLINE,
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
            **extra,
        }
