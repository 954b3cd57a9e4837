"""The turn every call dialogue runs on: the call's state, the table of steps, and what
holds at every step whichever dialogue it belongs to.

Every question is an Ask; at every Ask `*` repeats it and `0` reaches an agent; silence
or a wrong key asks again, and after three failures the caller is offered an agent. A
spoken answer counts as the keys it stands for, read back first when unsure or final.
Each dialogue gives its steps; ivr_flows.call_flow puts them in one table, which each
turn carries, so this module names no dialogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from basics.market_views import MarketView
from ivr_flows.commands import Ask, ConnectAgent, HangUp, RequestCallback, Say, VoiceCommand
from ivr_flows.context import CallContext
from ivr_flows.inputs import Answer, CallStarted, FlowInput, Recorded
from ivr_flows.listening import AMOUNT_STEPS, Listen, listen_for
from prompts.speech_words import SpeechWords

MAX_FAILURES = 3


@dataclass
class CallState:
    step: str = "start"
    failures: int = 0
    page: int = 0
    mode: str = "register"  # register | update | alert | pay
    resume_step: str | None = None
    draft: dict = field(default_factory=dict)
    offers: list[dict] = field(default_factory=list)
    offer_index: int = 0
    pay: dict = field(default_factory=dict)  # the pay question of a "were you paid?" call
    hires: list[str] = field(default_factory=list)  # the hires being read, as spoken
    confirm: dict = field(default_factory=dict)  # a spoken answer waiting for a keypress

    def to_dict(self) -> dict:
        """For saving at the end of a turn. Shallow: the fields hold plain JSON values
        already, and asdict's deep copy of the prompt's words cost more than the save."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> CallState:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Step:
    """One step of a dialogue: what it asks, and what it does with the reply. A step with
    no `on_answer` takes no answer (a wait, a recording): keys there ask again."""

    prompt: Callable[[CallState, CallContext], VoiceCommand]
    on_answer: Callable[[Turn, str], None] | None = None
    on_recorded: Callable[[Turn, Recorded], None] | None = None


@dataclass(frozen=True)
class Dialogues:
    """Every step of every dialogue by name, how a call begins (by the CallStarted: which
    call we placed, or none), and who takes the runner's results, by their type."""

    steps: Mapping[str, Step]
    call_started: Callable[[Turn, CallStarted], None]
    results: Mapping[type, Callable[[Turn, Any], None]]  # each takes an input of its type


class Turn:
    """Collects one turn's commands while the handlers move the state along."""

    def __init__(self, state: CallState, ctx: CallContext, dialogues: Dialogues):
        self.state = state
        self.ctx = ctx
        self.dialogues = dialogues
        self.commands: list = []

    def say(self, prompt_id: str, **params: object) -> None:
        self.commands.append(Say(self.ctx.catalogue.text(prompt_id, **params)))

    def do(self, command: object) -> None:
        self.commands.append(command)

    def go(self, step: str, page: int = 0) -> None:
        self.state.step = step
        self.state.failures = 0
        self.state.page = page
        self.ask()

    def ask(self) -> None:
        command = self.dialogues.steps[self.state.step].prompt(self.state, self.ctx)
        if isinstance(command, Ask):
            listen = listening(self.state, self.ctx.market, self.ctx.speech)
            if listen is not None:
                command = dataclasses.replace(command, listen=listen)
        self.commands.append(command)

    def fail(self, prompt_id: str = "not_understood", **params: object) -> None:
        self.state.failures += 1
        if self.state.failures >= MAX_FAILURES:
            if self.state.step == "offer_agent":
                self.reach_agent("repeated_failures")
                return
            self.state.resume_step = self.state.step
            self.go("offer_agent")
            return
        self.say(prompt_id, **params)
        self.ask()

    def reach_agent(self, reason: str) -> None:
        numbers = self.ctx.market.agent_numbers
        if numbers:
            self.say("agent_connecting")
            self.do(ConnectAgent(numbers))
            self.say("goodbye")
        else:
            self.do(RequestCallback(reason))
            self.say("agent_callback")
        self.end()

    def end(self) -> None:
        self.state.step = "ended"
        self.do(HangUp())


def listening(state: CallState, market: MarketView, speech: SpeechWords | None) -> Listen | None:
    """What the prompt the call is at hears spoken (None: keys only). Derived, not kept
    in the state: the step, page and district say it, with the market and the pack."""
    return listen_for(state.step, state.page, state.draft.get("district_id"), market, speech)


def run_turn(state: CallState, event: FlowInput, ctx: CallContext,
             dialogues: Dialogues) -> tuple[CallState, list]:
    turn = Turn(dataclasses.replace(state, draft=dict(state.draft)), ctx, dialogues)
    if isinstance(event, CallStarted):
        dialogues.call_started(turn, event)
    elif turn.state.step == "ended":
        turn.do(HangUp())
    elif isinstance(event, Answer) and event.source == "speech":
        _spoken(turn, event)
    elif isinstance(event, Answer):
        _answer(turn, event.value.strip())
    elif isinstance(event, Recorded):
        _recorded(turn, event)
    elif type(event) in dialogues.results:
        dialogues.results[type(event)](turn, event)
    return turn.state, turn.commands


# --- answers -------------------------------------------------------------------------
def _answer(turn: Turn, value: str) -> None:
    step = turn.dialogues.steps.get(turn.state.step)
    if value == "*":
        turn.ask()
    elif value == "0":
        turn.reach_agent("caller_asked")
    elif step is None:
        turn.dialogues.call_started(turn, CallStarted())  # a step no dialogue has: begin
    elif step.on_answer is not None:
        step.on_answer(turn, value)
    elif not value and step.on_recorded is not None:
        # The Record heard nothing and the call fell through to the next verb.
        step.on_recorded(turn, Recorded(url="", duration_seconds=0))
    else:
        turn.ask()  # keys where none are expected: say the question again


def _recorded(turn: Turn, event: Recorded) -> None:
    if event.finished_on_key in ("*", "0"):
        _answer(turn, event.finished_on_key)
        return
    step = turn.dialogues.steps.get(turn.state.step)
    if step is None or step.on_recorded is None:
        turn.ask()
        return
    step.on_recorded(turn, event)


# Spoken answers read back and confirmed by a key however sure the recogniser was: each
# ends the call, throws away what the caller gave or was offered, or puts on record
# against someone what the caller cannot take back from the phone. A recogniser can be
# sure of the wrong word (the Korean test model hears some voices' 예, "yes", as 이, "2",
# at full confidence), and a caller hung up on cannot say "that is not what I said".
# (step, value); ANY_STEP matches every step, AN_AMOUNT any amount said where one is asked.
ANY_STEP, AN_AMOUNT = "", "#"
ALWAYS_READ_BACK = frozenset({
    ("consent", "2"),  # declines: goodbye, and the call ends
    ("review", "2"),  # starts the registration over: the draft just checked is dropped
    ("offer", "1"),  # holds a place and texts the employer (an alert call then ends)
    ("offer", "2"),  # passes the job over (an alert call: declined, and the call ends)
    ("pay_question", "1"),  # paid in full: the wage check closes, and the call ends
    ("pay_question", "2"),  # not paid: the employer is pressed, a case follows; call ends
    ("pay_amount", AN_AMOUNT),  # paid in part: recorded as such, and the call ends
    ("wage_report", AN_AMOUNT),  # opens a rights case against the employer
    (ANY_STEP, "0"),  # an agent: this call ends (with no agent on duty, only a callback)
})


def always_read_back(step: str, value: str) -> bool:
    """Whether this spoken answer at this step waits for a key, however clearly heard."""
    said = AN_AMOUNT if step in AMOUNT_STEPS and value.isdigit() else value
    return bool({(step, said), (step, value), (ANY_STEP, value)} & ALWAYS_READ_BACK)


def _spoken(turn: Turn, answer: Answer) -> None:
    """A spoken answer is read back and confirmed by a keypress ("您说的是钢筋工，对请按1，
    不对请按2") before it counts when it was heard with too little confidence, or when it
    would end the call or throw work away (ALWAYS_READ_BACK)."""
    speech, step = turn.ctx.speech, turn.dialogues.steps.get(turn.state.step)
    if speech is None or step is None or step.on_answer is None:
        turn.ask()  # speech that no longer fits the call (it moved on): ask again
        return
    if (answer.confidence >= speech.confirm_below
            and not always_read_back(turn.state.step, answer.value)):
        _answer(turn, answer.value)
        return
    state = turn.state
    state.confirm = {"value": answer.value, "heard": answer.heard or answer.value,
                     "step": state.step, "page": state.page, "failures": state.failures}
    state.step, state.failures = "confirm_speech", 0
    turn.ask()


def _on_confirm_speech(turn: Turn, value: str) -> None:
    if value not in ("1", "2"):
        turn.fail()
        return
    state, confirm = turn.state, turn.state.confirm
    state.step, state.page, state.failures = confirm["step"], confirm["page"], confirm["failures"]
    state.confirm = {}
    if value == "1":
        _answer(turn, confirm["value"])
    else:
        turn.say("speech_retry")
        turn.ask()


def _on_offer_agent(turn: Turn, value: str) -> None:
    if value == "1":
        turn.go(turn.state.resume_step or "main_menu")
    else:
        turn.fail()


# --- prompts -------------------------------------------------------------------------
def asks(prompt_id: str, **kwargs) -> Callable[[CallState, CallContext], Ask]:
    """The prompt of a step that asks one catalogue question."""
    return lambda state, ctx: Ask((ctx.catalogue.text(prompt_id),), **kwargs)


def spoken_date(day: date, ctx: CallContext) -> str:
    delta = (day - ctx.today).days
    if delta <= 0:
        return ctx.catalogue.text("today")
    if delta == 1:
        return ctx.catalogue.text("tomorrow")
    return ctx.catalogue.text("date", month=day.month, day=day.day)


def _confirm_speech(state: CallState, ctx: CallContext) -> Ask:
    return Ask((ctx.catalogue.text("speech_confirm", heard=state.confirm["heard"]),))


STEPS = {
    "offer_agent": Step(asks("offer_agent"), _on_offer_agent),
    "confirm_speech": Step(_confirm_speech, _on_confirm_speech),
    "ended": Step(lambda state, ctx: HangUp()),
}
