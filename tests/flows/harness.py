"""Drives the call flow without HTTP and writes what happened as a readable transcript.

State is round-tripped through its serialised (JSON) form every turn, as the runner
stores it. Queries (offers, slots) are answered from the scenario's `world`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from basics.market_views import AreaView, HireView, MarketView, OfferView, TradeView, WorkerView
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

GOLDEN = Path(__file__).parent / "golden"
TODAY = date(2026, 11, 23)


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
            event = None
            for command in commands:
                event = self._render(command) or event

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
