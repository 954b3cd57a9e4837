"""Drives the call flow without HTTP and writes what happened as a readable transcript.

State is round-tripped through its serialised (JSON) form every turn, as the runner
stores it. Queries (offers, slots) are answered from the scenario's `world`. With a
`channel`, what the caller hears is what that carrier's phone reads from the channel's
rendering (TwiML, JSON Line's steps), so one golden transcript holds for every carrier."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from basics.market_views import AreaView, HireView, MarketView, OfferView, TradeView, WorkerView
from hotline.channel import VoiceReply
from ivr_flows import call_flow
from ivr_flows.commands import (
    Ask,
    ConnectAgent,
    FindHires,
    FindOffers,
    HangUp,
    RecordName,
    ReserveSlot,
    Say,
)
from ivr_flows.context import CallContext
from ivr_flows.inputs import Answer, CallStarted, HiresFound, OffersFound, Recorded, SlotResult
from ivr_flows.listening import Listen
from ivr_flows.understand import understand
from market.seed import market_data
from prompts.catalogue import load_catalogue
from prompts.speech_words import SpeechWords
from telephony.jsonline.channel import JsonLineChannel
from telephony.twilio.channel import TwilioChannel
from telephony.twilio.twiml import VoiceRenderer

GOLDEN = Path(__file__).parent / "golden"
TODAY = date(2026, 11, 23)
VOICE = (Say, Ask, RecordName, ConnectAgent, HangUp)
# "" plays the flow's commands as they are; the others through a carrier's channel.
CHANNELS = ["", "twilio", "jsonline"]
PLAYED_OVER = {"channel": ""}  # set per test by tests/flows/conftest.py


def demo_market(agent_numbers: tuple[str, ...] = ()) -> MarketView:
    data = market_data("yuncheng")
    districts, next_id = [], 1
    for district in data["districts"]:
        district_id = next_id
        towns = []
        for town in district["towns"]:
            next_id += 1
            towns.append(AreaView(id=next_id, name=town["name"],
                                  synonyms=tuple(town.get("synonyms", ()))))
        next_id += 1
        districts.append(AreaView(id=district_id, name=district["name"], towns=tuple(towns)))
    return MarketView(
        name=data["market"]["name"],
        hotline=data["market"]["hotline_number"],
        trades=tuple(TradeView(code=t["code"], name=t["name"], synonyms=tuple(t["synonyms"]))
                     for t in data["trades"]),
        districts=tuple(districts),
        agent_numbers=agent_numbers,
    )


@dataclass
class World:
    """What the store would answer: offers on the market and which slots are still free."""

    offers: list[OfferView] = field(default_factory=list)
    full_lines: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)  # line -> "overlap", "not_open"
    hires: list[HireView] = field(default_factory=list)


@dataclass
class FlowCall:
    worker: WorkerView | None = None
    caller: str = "+8613800000001"
    market: MarketView = field(default_factory=demo_market)
    world: World = field(default_factory=World)
    lines: list[str] = field(default_factory=list)
    effects: list[object] = field(default_factory=list)
    state_json: str = field(default_factory=lambda: json.dumps(call_flow.CallState().to_dict()))
    speech: SpeechWords | None = None  # a speech pack: prompts listen for speech too
    channel: str = field(default_factory=lambda: PLAYED_OVER["channel"])

    @property
    def state(self) -> call_flow.CallState:
        return call_flow.CallState.from_dict(json.loads(self.state_json))

    def listening(self) -> Listen | None:
        """What the prompt the call is at hears (None: keys only), as the socket derives it."""
        return call_flow.listening(self.state, self.market, self.speech)

    def start(self, event: CallStarted | None = None) -> FlowCall:
        self.lines.append("=== call starts")
        self._run(event or CallStarted())
        return self

    def send(self, event) -> FlowCall:
        """Any input, as the runner would hand it over (e.g. a speech Answer as is)."""
        self._run(event)
        return self

    def press(self, keys: str) -> FlowCall:
        self.lines.append(f"you press: {keys}")
        self._run(Answer(keys))
        return self

    def say(self, text: str, confidence: float = 0.95) -> FlowCall:
        """Speak at the current prompt: what Vosk printed, understood as the socket does."""
        answer = understand(text, confidence, self.listening())
        self.lines.append(f"you say: {text} ({confidence:.2f})")
        if answer is None:
            self.lines.append("   (not an answer here: still listening)")
        else:
            self._run(answer)
        return self

    def silence(self) -> FlowCall:
        self.lines.append("you: (silence)")
        self._run(Answer(""))
        return self

    def record(self, seconds: int = 2, finish_key: str = "#") -> FlowCall:
        self.lines.append(f"you: (say your name, {seconds}s, then {finish_key})")
        self._run(Recorded(f"https://rec.example/RE{seconds}", seconds, finish_key))
        return self

    def hang_up_and_call_back(self, worker: WorkerView) -> FlowCall:
        """The caller hangs up; a new call starts from a fresh state with what was saved."""
        self.lines.append("=== caller hangs up and calls back")
        self.worker = worker
        self.state_json = json.dumps(call_flow.CallState().to_dict())
        self._run(CallStarted())
        return self

    def transcript(self) -> str:
        return "\n".join(self.lines) + "\n"

    def _run(self, event) -> None:
        ctx = CallContext(
            caller=self.caller, today=TODAY, market=self.market,
            catalogue=load_catalogue("zh-CN"), worker=self.worker, speech=self.speech,
        )
        while event is not None:
            state, commands = call_flow.step(self.state, event, ctx)
            self.state_json = json.dumps(state.to_dict(), ensure_ascii=False)
            event, voice = None, []
            for command in commands:
                if self.channel and isinstance(command, VOICE):
                    voice.append(command)
                    continue
                self._hear(voice)
                event = self._render(command) or event
            self._hear(voice)

    def _hear(self, voice: list) -> None:
        """Voice commands as the carrier's phone plays them, from the channel's rendering;
        whether a prompt hears speech is not the carrier's to say, so it is kept."""
        if not voice:
            return
        listens = iter([c.listen for c in voice if isinstance(c, Ask)])
        for command in played_over(self.channel, voice):
            if isinstance(command, Ask):
                command = replace(command, listen=next(listens))
            self._render(command)
        voice.clear()

    def _render(self, command):
        match command:
            case Say(text=text):
                self.lines.append(f"bot: {text}")
            case Ask(prompts=prompts, max_digits=n, finish_on_key=key, listen=listen):
                for text in prompts:
                    self.lines.append(f"bot: {text}")
                ends = f", ends with {key}" if key else ""
                spoken = f", or {len(listen.grammar)} spoken words" if listen else ""
                self.lines.append(f"   (listening: up to {n} keys{ends}{spoken})")
            case RecordName(prompts=prompts):
                for text in prompts:
                    self.lines.append(f"bot: {text}")
                self.lines.append("   (recording)")
            case ConnectAgent(numbers=numbers):
                self.lines.append(f"   (dialling agents {', '.join(numbers)})")
            case HangUp():
                self.lines.append("   (hangs up)")
            case FindOffers():
                self.lines.append("   [find offers]")
                return OffersFound(tuple(self.world.offers))
            case FindHires():
                self.lines.append("   [find hires]")
                return HiresFound(tuple(self.world.hires))
            case ReserveSlot(job_line_id=line_id):
                outcome = self.world.refused.get(
                    line_id, "full" if line_id in self.world.full_lines else "reserved")
                self.lines.append(f"   [reserve line {line_id}: {outcome}]")
                return SlotResult(line_id, outcome)
            case _:
                self.effects.append(command)
                self.lines.append(f"   [{command!r}]")
        return None


def assert_golden(name: str, transcript: str, update: bool) -> None:
    path = GOLDEN / f"{name}.txt"
    if update:
        path.write_text(transcript, encoding="utf-8")
    assert path.exists(), f"no golden transcript {path.name}: run with GIGLINE_UPDATE_GOLDEN=1"
    assert transcript == path.read_text(encoding="utf-8"), f"transcript {name} changed"


def registered(**changes) -> WorkerView:
    base = WorkerView(number="000042", status="active", trades=("welder",), district_id=1,
                      town_id=2, day_wage_fen=30000, availability="today", alert_channel="sms",
                      consented=True,
                      has_name_recording=True)
    return replace(base, **changes)


def played_over(channel: str, commands: list) -> list:
    """The commands rendered by `channel`, read back as that carrier's phone plays them."""
    reply = VoiceReply(tuple(commands), 1, "CA" + "1" * 32, False)
    if channel == "twilio":
        renderer = VoiceRenderer(public_url="https://hotline.example", say_language="cmn-CN",
                                 voice="Polly.Zhiyu")
        body = TwilioChannel(account_sid="AC1", auth_token="token",
                             renderer=renderer).render(reply).body
        return _twiml_played(ET.fromstring(body))
    body = JsonLineChannel(secret="token", public_url="https://hotline.example").render(
        reply).body
    return [_step_played(step) for step in json.loads(body)["steps"]]


def _twiml_played(root: ET.Element) -> list:
    played = []
    for verb in root:
        match verb.tag:
            case "Say":
                played.append(Say(verb.text))
            case "Gather":
                played.append(Ask(tuple(say.text for say in verb.iter("Say")),
                                  int(verb.get("numDigits")), verb.get("finishOnKey", ""),
                                  int(verb.get("timeout"))))
            case "Record":
                played.append(RecordName((), int(verb.get("maxLength"))))
            case "Dial":
                played.append(ConnectAgent(tuple(n.text for n in verb.iter("Number"))))
            case "Hangup":
                played.append(HangUp())
    return played  # Redirect, Start and Stop change nothing a caller hears


def _step_played(step: dict):
    (verb, args), = step.items()
    match verb:
        case "say":
            return Say(args)
        case "ask":
            return Ask(tuple(args["say"]), args["keys"], args["end_key"], args["wait"])
        case "record":
            return RecordName(tuple(args["say"]), args["seconds"])
        case "dial":
            return ConnectAgent(tuple(args))
    return HangUp()
