"""The hotline call: registration, main menu, offers, wage reports, reaching an agent.

`step(state, event, ctx) -> (state, commands)` is pure. Every question is an Ask; at
every Ask `*` repeats it and `0` reaches an agent; silence or a wrong key asks again,
and after three failures the caller is offered an agent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from basics.identity import is_valid_id_number
from basics.market_views import (
    HireView,
    MarketView,
    OfferView,
    PayAnswer,
    PayQuestionView,
    SlotOutcome,
)
from ivr_flows.commands import (
    AnswerPay,
    Ask,
    CheckIn,
    CompleteRegistration,
    ConnectAgent,
    FindHires,
    FindOffers,
    HangUp,
    RecordConsent,
    RecordName,
    RecordWageReport,
    RequestCallback,
    ReserveSlot,
    SaveProfile,
    Say,
    StoreIdNumber,
)
from ivr_flows.context import CallContext
from ivr_flows.inputs import (
    Answer,
    CallStarted,
    Done,
    FlowInput,
    HiresFound,
    OffersFound,
    Recorded,
    SlotResult,
)
from ivr_flows.listening import AMOUNT_STEPS, ITEM, Listen, listen_for, page_of
from prompts.speech_words import SpeechWords
from store.statuses import Availability, Channel, WorkerStatus

MAX_FAILURES = 3
WAGE_MIN_YUAN = 30
WAGE_MAX_YUAN = 3000
WAGE_REPORT_MAX_YUAN = 999_999
# Menu keys to the words stored. Plain strings: the call's state goes to JSON and back
# every turn, so its draft holds plain strings whether saved yet or not.
AVAILABILITY = {"1": Availability.TODAY.value, "2": Availability.TOMORROW.value,
                "3": Availability.WEEK.value, "4": Availability.NOT_NOW.value}
ALERT_CHANNELS = {"1": Channel.SMS.value, "2": Channel.CALL.value}


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


class _Turn:
    """Collects one turn's commands while the handlers move the state along."""

    def __init__(self, state: CallState, ctx: CallContext):
        self.state = state
        self.ctx = ctx
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
        command = _PROMPTS[self.state.step](self.state, self.ctx)
        if isinstance(command, Ask):
            listen = listening(self.state, self.ctx.market, self.ctx.speech)
            if listen is not None:
                command = dataclasses.replace(command, listen=listen)
        self.commands.append(command)

    def fail(self, prompt_id: str = "not_understood", **params: object) -> None:
        self.state.failures += 1
        if self.state.failures >= MAX_FAILURES:
            if self.state.step == "offer_agent":
                _reach_agent(self, "repeated_failures")
                return
            self.state.resume_step = self.state.step
            self.go("offer_agent")
            return
        self.say(prompt_id, **params)
        self.ask()


def listening(state: CallState, market: MarketView, speech: SpeechWords | None) -> Listen | None:
    """What the prompt the call is at hears spoken (None: keys only). Derived, not kept
    in the state: the step, page and district say it, with the market and the pack."""
    return listen_for(state.step, state.page, state.draft.get("district_id"), market, speech)


def step(state: CallState, event: FlowInput, ctx: CallContext) -> tuple[CallState, list]:
    turn = _Turn(dataclasses.replace(state, draft=dict(state.draft)), ctx)
    if isinstance(event, CallStarted) and event.alert is not None:
        _start_alert(turn, event.alert)
    elif isinstance(event, CallStarted) and event.pay is not None:
        _start_pay_question(turn, event.pay)
    elif isinstance(event, CallStarted) and event.hired is not None:
        turn.say("hired_intro")
        _read_hires(turn, (event.hired,))
    elif isinstance(event, CallStarted):
        _start(turn)
    elif turn.state.step == "ended":
        turn.do(HangUp())
    elif isinstance(event, Answer) and event.source == "speech":
        _spoken(turn, event)
    elif isinstance(event, Answer):
        _answer(turn, event.value.strip())
    elif isinstance(event, Recorded):
        _recorded(turn, event)
    elif isinstance(event, OffersFound):
        _offers_found(turn, event.offers)
    elif isinstance(event, HiresFound) and turn.state.step == "hires_wait":
        _read_hires(turn, event.hires)
    elif isinstance(event, SlotResult):
        _slot_result(turn, event)
    elif isinstance(event, Done) and turn.state.step == "check_in_wait":
        _checked_in(turn, event)
    return turn.state, turn.commands


# --- start ---------------------------------------------------------------------------
def _start(turn: _Turn) -> None:
    ctx, worker = turn.ctx, turn.ctx.worker
    if not ctx.caller:
        turn.say("hidden_number")
        if ctx.market.agent_numbers:
            _reach_agent(turn, "hidden_number")
        else:
            _end(turn)
        return
    _greet(turn)
    if ctx.speech is not None:
        turn.say("speech_hint")
    if worker and worker.status == WorkerStatus.ACTIVE:
        turn.go("main_menu")
        return
    if worker and worker.consented:
        turn.state.draft = {
            "trades": list(worker.trades),
            "district_id": worker.district_id,
            "town_id": worker.town_id,
            "day_wage_fen": worker.day_wage_fen,
            "availability": worker.availability,
            "alert_channel": worker.alert_channel,
            "id_last4": worker.id_last4,
            "id_done": worker.id_last4 is not None,
            "name_recorded": worker.has_name_recording,
        }
        turn.say("resume")
        _next_registration_step(turn)
        return
    turn.go("consent")


def _greet(turn: _Turn) -> None:
    ctx, worker = turn.ctx, turn.ctx.worker
    if not (worker and worker.status == WorkerStatus.ACTIVE):
        turn.say("greeting_new", market=ctx.market.name)
    elif worker.name:
        turn.say("greeting_registered_name", name=worker.name, market=ctx.market.name)
    else:
        turn.say("greeting_registered_number", number=ctx.catalogue.digits(worker.number),
                 market=ctx.market.name)


def _start_alert(turn: _Turn, offer: OfferView) -> None:
    """We called the worker about one job: read it, take 1 to accept, then goodbye."""
    turn.state.mode = "alert"
    turn.state.offers = [_offer_to_dict(offer)]
    turn.state.offer_index = 0
    turn.say("alert_intro")
    turn.go("offer")


def _next_registration_step(turn: _Turn) -> None:
    draft = turn.state.draft
    if not draft.get("trades"):
        turn.go("trades")
    elif not draft.get("town_id"):
        turn.go("district")
    elif draft.get("day_wage_fen") is None:
        turn.go("wage")
    elif not draft.get("availability"):
        turn.go("availability")
    elif not draft.get("alert_channel"):
        turn.go("alert_channel")
    elif not draft.get("id_done"):
        turn.go("id_ask")
    elif not draft.get("name_recorded"):
        turn.go("name")
    else:
        turn.go("review")


# --- answers -------------------------------------------------------------------------
def _answer(turn: _Turn, value: str) -> None:
    if value == "*":
        turn.ask()
    elif value == "0":
        _reach_agent(turn, "caller_asked")
    elif turn.state.step == "name" and not value:
        turn.fail("name_missing")  # the Record heard nothing and fell through
    elif turn.state.step in _HANDLERS:
        _HANDLERS[turn.state.step](turn, value)
    elif turn.state.step in _PROMPTS:
        turn.ask()  # keys where none are expected: say the question again
    else:
        _start(turn)


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


def _spoken(turn: _Turn, answer: Answer) -> None:
    """A spoken answer is read back and confirmed by a keypress ("您说的是钢筋工，对请按1，
    不对请按2") before it counts when it was heard with too little confidence, or when it
    would end the call or throw work away (ALWAYS_READ_BACK)."""
    speech = turn.ctx.speech
    if speech is None or turn.state.step not in _HANDLERS:
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


def _on_confirm_speech(turn: _Turn, value: str) -> None:
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


def _on_consent(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.do(RecordConsent())
        turn.state.mode = "register"
        turn.state.draft = {}
        _next_registration_step(turn)
    elif value == "2":
        turn.say("consent_declined")
        _end(turn)
    else:
        turn.fail()


def _on_trades(turn: _Turn, value: str) -> None:
    trades = [t.code for t in turn.ctx.market.trades]
    chosen = _menu_choice(turn, trades, value)
    if chosen is None:
        return
    picked = turn.state.draft.setdefault("trades", [])
    if chosen not in picked:
        picked.append(chosen)
    turn.do(SaveProfile({"trades": list(picked)}))
    names = [turn.ctx.market.trade_name(code) for code in picked]
    turn.say("trade_added", trades=turn.ctx.catalogue.join(names))
    turn.go("trades_more")


def _on_trades_more(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.go("trades")
    elif value == "2":
        _after_profile_change(turn)
    else:
        turn.fail()


def _on_district(turn: _Turn, value: str) -> None:
    districts = turn.ctx.market.districts
    chosen = _menu_choice(turn, [d.id for d in districts], value)
    if chosen is None:
        return
    turn.state.draft["district_id"] = chosen
    turn.go("town")


def _on_town(turn: _Turn, value: str) -> None:
    district = turn.ctx.market.district(turn.state.draft.get("district_id"))
    towns = [t.id for t in district.towns] if district else []
    chosen = _menu_choice(turn, towns, value)
    if chosen is None:
        return
    turn.state.draft["town_id"] = chosen
    turn.do(SaveProfile({"district_id": district.id, "town_id": chosen}))
    _next_registration_step(turn)


def _on_wage(turn: _Turn, value: str) -> None:
    if not value.isdigit() or not WAGE_MIN_YUAN <= int(value) <= WAGE_MAX_YUAN:
        turn.fail("wage_invalid", min=WAGE_MIN_YUAN, max=WAGE_MAX_YUAN)
        return
    fen = int(value) * 100
    turn.state.draft["day_wage_fen"] = fen
    turn.do(SaveProfile({"day_wage_fen": fen}))
    _next_registration_step(turn)


def _on_availability(turn: _Turn, value: str) -> None:
    if value not in AVAILABILITY:
        turn.fail()
        return
    turn.state.draft["availability"] = AVAILABILITY[value]
    turn.do(SaveProfile({"availability": AVAILABILITY[value]}))
    _after_profile_change(turn)


def _on_alert_channel(turn: _Turn, value: str) -> None:
    """Workers who cannot read get their job alerts as automated calls."""
    if value not in ALERT_CHANNELS:
        turn.fail()
        return
    turn.state.draft["alert_channel"] = ALERT_CHANNELS[value]
    turn.do(SaveProfile({"alert_channel": ALERT_CHANNELS[value]}))
    _after_profile_change(turn)


def _on_id_ask(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.go("id_entry")
    elif value == "2":
        turn.state.draft["id_done"] = True
        _next_registration_step(turn)
    else:
        turn.fail()


def _on_id_entry(turn: _Turn, value: str) -> None:
    id_number = value.replace("*", "X")
    if not is_valid_id_number(id_number):
        turn.fail("id_invalid")
        return
    turn.do(StoreIdNumber(id_number))
    turn.state.draft.update(id_done=True, id_last4=id_number[-4:])
    _next_registration_step(turn)


def _recorded(turn: _Turn, event: Recorded) -> None:
    if event.finished_on_key in ("*", "0"):
        _answer(turn, event.finished_on_key)
        return
    if turn.state.step != "name":
        turn.ask()
        return
    if event.duration_seconds <= 0 or not event.url:
        turn.fail("name_missing")
        return
    turn.state.draft["name_recorded"] = True
    turn.do(SaveProfile({"name_recording_url": event.url}))
    _next_registration_step(turn)


def _on_review(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.do(CompleteRegistration())
        worker = turn.ctx.worker
        number = turn.ctx.catalogue.digits(worker.number) if worker else ""
        turn.say("registered", number=number)
        turn.state.draft = {}
        turn.go("main_menu")
    elif value == "2":
        turn.state.draft = {"id_done": False}
        turn.go("trades")
    else:
        turn.fail()


def _on_main_menu(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.state.step = "offers_wait"
        turn.do(FindOffers())
    elif value == "2":
        turn.go("update_menu")
    elif value == "3":
        turn.go("wage_report")
    elif value == "4":
        turn.state.step = "check_in_wait"
        turn.do(CheckIn())
    elif value == "5":
        turn.state.step = "hires_wait"
        turn.do(FindHires())
    else:
        turn.fail()


def _checked_in(turn: _Turn, result: Done) -> None:
    if result.ok:
        turn.say("checked_in", code=result.detail)
    else:
        turn.say("nothing_to_check_in")
    turn.go("main_menu")


# --- hires: the contract summary, for workers who cannot read the SMS ------------------
def _read_hires(turn: _Turn, hires: tuple[HireView, ...]) -> None:
    if not hires:
        turn.say("no_hires")
        turn.go("main_menu")
        return
    turn.state.hires = [_hire_summary(hire, turn.ctx) for hire in hires]
    turn.go("hired")


def _hire_summary(hire: HireView, ctx: CallContext) -> str:
    cat = ctx.catalogue
    text = cat.text(
        "hired_summary", code=cat.digits(hire.job_code), trade=hire.trade,
        start=spoken_date(hire.start_date, ctx) + hire.start_time, days=hire.days,
        wage=cat.yuan(hire.day_wage_fen), pay=cat.text("pay_daily" if hire.daily_pay
                                                       else "pay_at_end"),
        address=hire.address, employer=hire.employer, phone=cat.digits(hire.employer_phone))
    if hire.insured:
        text += cat.text("hired_insured")
    return text


def _on_hired(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.ask()
    elif value == "2":
        turn.state.hires = []
        turn.go("main_menu")
    else:
        turn.fail()


# --- "were you paid?" calls ----------------------------------------------------------
def _start_pay_question(turn: _Turn, pay: PayQuestionView) -> None:
    turn.state.mode = "pay"
    turn.state.pay = {"check_id": pay.check_id, "owed_fen": pay.owed_fen,
                      "grace_days": pay.grace_days}
    cat = turn.ctx.catalogue
    period = cat.text("date", month=pay.period_start.month, day=pay.period_start.day)
    if pay.period_end != pay.period_start:
        period += "-" + cat.text("date", month=pay.period_end.month, day=pay.period_end.day)
    turn.state.pay["question"] = cat.text("pay_call_question", code=pay.job_code,
                                          period=period, amount=cat.yuan(pay.owed_fen))
    turn.go("pay_question")


def _on_pay_question(turn: _Turn, value: str) -> None:
    pay = turn.state.pay
    if value == "1":
        turn.do(AnswerPay(pay["check_id"], PayAnswer.YES))
        turn.say("pay_call_thanks")
        _end(turn)
    elif value == "2":
        turn.do(AnswerPay(pay["check_id"], PayAnswer.NO))
        turn.say("pay_call_unpaid", days=pay["grace_days"])
        _end(turn)
    elif value == "3":
        turn.go("pay_amount")
    else:
        turn.fail()


def _on_pay_amount(turn: _Turn, value: str) -> None:
    pay = turn.state.pay
    if not value.isdigit() or not 0 < int(value) * 100 < pay["owed_fen"]:
        turn.fail("pay_call_amount_invalid", amount=turn.ctx.catalogue.yuan(pay["owed_fen"]))
        return
    turn.do(AnswerPay(pay["check_id"], PayAnswer.PARTLY, int(value) * 100))
    turn.say("pay_call_unpaid", days=pay["grace_days"])
    _end(turn)


def _on_update_menu(turn: _Turn, value: str) -> None:
    turn.state.mode = "update"
    if value == "1":
        turn.state.draft = {"trades": []}
        turn.go("trades")
    elif value == "2":
        turn.go("availability")
    elif value == "3":
        turn.go("alert_channel")
    elif value == "4":
        turn.go("main_menu")
    else:
        turn.fail()


def _after_profile_change(turn: _Turn) -> None:
    if turn.state.mode == "update":
        turn.say("updated")
        turn.state.mode = "register"
        turn.go("main_menu")
    else:
        _next_registration_step(turn)


def _on_wage_report(turn: _Turn, value: str) -> None:
    if not value.isdigit() or not 1 <= int(value) <= WAGE_REPORT_MAX_YUAN:
        turn.fail()
        return
    turn.do(RecordWageReport(int(value) * 100))
    turn.say("wage_report_saved")
    turn.go("main_menu")


def _on_offer_agent(turn: _Turn, value: str) -> None:
    if value == "1":
        turn.go(turn.state.resume_step or "main_menu")
    else:
        turn.fail()


# --- offers --------------------------------------------------------------------------
def _offers_found(turn: _Turn, offers: tuple[OfferView, ...]) -> None:
    if not offers:
        turn.say("no_offers")
        turn.go("main_menu")
        return
    turn.state.offers = [_offer_to_dict(o) for o in offers]
    turn.state.offer_index = 0
    turn.go("offer")


def _on_offer(turn: _Turn, value: str) -> None:
    offer = turn.state.offers[turn.state.offer_index]
    if value == "1":
        turn.state.step = "offer_wait"
        turn.do(ReserveSlot(offer["job_line_id"]))
    elif value == "2":
        _next_offer(turn)
    else:
        turn.fail()


def _slot_result(turn: _Turn, result: SlotResult) -> None:
    if turn.state.step != "offer_wait":
        turn.ask()
        return
    if result.outcome == SlotOutcome.RESERVED:
        turn.say("offer_reserved")
        turn.state.offers = []
        if turn.state.mode == "alert":
            turn.say("goodbye")
            _end(turn)
        else:
            turn.go("main_menu")
    elif turn.state.mode == "alert":
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        turn.say("alert_refused")
        _end(turn)
    else:
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        _next_offer(turn)


_REFUSALS = {SlotOutcome.FULL: "offer_full", SlotOutcome.OVERLAP: "offer_overlap"}


def _next_offer(turn: _Turn) -> None:
    turn.state.offer_index += 1
    if turn.state.mode == "alert":
        turn.say("alert_declined")
        _end(turn)
    elif turn.state.offer_index >= len(turn.state.offers):
        turn.say("offers_end")
        turn.state.offers = []
        turn.go("main_menu")
    else:
        turn.go("offer")


def _offer_to_dict(offer: OfferView) -> dict:
    data = dataclasses.asdict(offer)
    data["start_date"] = offer.start_date.isoformat()
    return data


# --- agent and ending ----------------------------------------------------------------
def _reach_agent(turn: _Turn, reason: str) -> None:
    numbers = turn.ctx.market.agent_numbers
    if numbers:
        turn.say("agent_connecting")
        turn.do(ConnectAgent(numbers))
        turn.say("goodbye")
    else:
        turn.do(RequestCallback(reason))
        turn.say("agent_callback")
    _end(turn)


def _end(turn: _Turn) -> None:
    turn.state.step = "ended"
    turn.do(HangUp())


# --- prompts -------------------------------------------------------------------------
def _menu(state: CallState, ctx: CallContext, labels: list[str], prompt_id: str) -> Ask:
    """At most 4 keys a page: 4 items, or 3 and a key that pages on (wrapping round)."""
    cat = ctx.catalogue
    page_items, paged = page_of(labels, state.page)
    options = [cat.text("menu_option", label=x, key=i + 1) for i, x in enumerate(page_items)]
    if paged:
        last_page = (state.page + 1) * 3 >= len(labels)
        options.append(cat.text("back_to_start_option" if last_page else "more_option", key=4))
    return Ask((cat.text(prompt_id, options="，".join(options)),))


def _menu_choice(turn: _Turn, items: list, value: str) -> object | None:
    """The item for a key on the current page; pages on for 4; None after a failure."""
    if value.startswith(ITEM):  # said by name, whatever page is playing
        chosen = next((item for item in items if str(item) == value[len(ITEM):]), None)
        if chosen is None:
            turn.fail()
        return chosen
    page_items, paged = page_of(items, turn.state.page)
    if paged and value == "4":
        next_page = turn.state.page + 1
        turn.go(turn.state.step, page=next_page if next_page * 3 < len(items) else 0)
        return None
    if value.isdigit() and 1 <= int(value) <= len(page_items):
        return page_items[int(value) - 1]
    turn.fail()
    return None


def _ask(prompt_id: str, **kwargs) -> Callable[[CallState, CallContext], Ask]:
    return lambda state, ctx: Ask((ctx.catalogue.text(prompt_id),), **kwargs)


def _trades_menu(state: CallState, ctx: CallContext) -> Ask:
    return _menu(state, ctx, [t.name for t in ctx.market.trades], "trades_menu")


def _district_menu(state: CallState, ctx: CallContext) -> Ask:
    return _menu(state, ctx, [d.name for d in ctx.market.districts], "district_menu")


def _town_menu(state: CallState, ctx: CallContext) -> Ask:
    district = ctx.market.district(state.draft.get("district_id"))
    return _menu(state, ctx, [t.name for t in district.towns] if district else [], "town_menu")


def _review(state: CallState, ctx: CallContext) -> Ask:
    cat, market, draft = ctx.catalogue, ctx.market, state.draft
    district, town = market.district(draft.get("district_id")), market.town(draft.get("town_id"))
    last4 = draft.get("id_last4")
    id_text = cat.text("review_id_last4", last4=cat.digits(last4)) if last4 else None
    text = cat.text(
        "review",
        trades=cat.join([market.trade_name(c) for c in draft.get("trades", [])]),
        district=district.name if district else "",
        town=town.name if town else "",
        wage=cat.yuan(draft.get("day_wage_fen") or 0),
        availability=cat.text(f"availability_{draft.get('availability')}"),
        alert_channel=cat.text(f"alert_channel_{draft.get('alert_channel') or Channel.SMS}"),
        id=id_text or cat.text("review_id_none"),
    )
    return Ask((text,))


def _offer(state: CallState, ctx: CallContext) -> Ask:
    cat, offer = ctx.catalogue, state.offers[state.offer_index]
    text = cat.text(
        "offer",
        trade=offer["trade"],
        wage=cat.yuan(offer["day_wage_fen"]),
        days=offer["days"],
        place=offer["place"],
        start=spoken_date(date.fromisoformat(offer["start_date"]), ctx),
    )
    return Ask((text, cat.text("offer_choices")))


def spoken_date(day: date, ctx: CallContext) -> str:
    delta = (day - ctx.today).days
    if delta <= 0:
        return ctx.catalogue.text("today")
    if delta == 1:
        return ctx.catalogue.text("tomorrow")
    return ctx.catalogue.text("date", month=day.month, day=day.day)


_PROMPTS: dict[str, Callable[[CallState, CallContext], object]] = {
    "consent": _ask("consent"),
    "trades": _trades_menu,
    "trades_more": _ask("trades_more"),
    "district": _district_menu,
    "town": _town_menu,
    "wage": _ask("wage_ask", max_digits=5, finish_on_key="#", timeout_seconds=10),
    "availability": _ask("availability_menu"),
    "alert_channel": _ask("alert_channel_menu"),
    "id_ask": _ask("id_ask"),
    "id_entry": _ask("id_entry", max_digits=18, finish_on_key="#", timeout_seconds=15),
    "name": lambda state, ctx: RecordName((ctx.catalogue.text("name_record"),)),
    "review": _review,
    "main_menu": _ask("main_menu"),
    "offer": _offer,
    "update_menu": _ask("update_menu"),
    "wage_report": _ask("wage_report_ask", max_digits=7, finish_on_key="#", timeout_seconds=10),
    "offer_agent": _ask("offer_agent"),
    "pay_question": lambda state, ctx: Ask((state.pay["question"],)),
    "pay_amount": _ask("pay_call_amount", max_digits=7, finish_on_key="#", timeout_seconds=10),
    "check_in_wait": _ask("main_menu"),
    "offers_wait": _ask("main_menu"),
    "hires_wait": _ask("main_menu"),
    "hired": lambda state, ctx: Ask((*state.hires, ctx.catalogue.text("hired_choices"))),
    "offer_wait": _offer,
    "confirm_speech": lambda state, ctx: Ask(
        (ctx.catalogue.text("speech_confirm", heard=state.confirm["heard"]),)),
    "ended": lambda state, ctx: HangUp(),
}

_HANDLERS: dict[str, Callable[[_Turn, str], None]] = {
    "consent": _on_consent,
    "trades": _on_trades,
    "trades_more": _on_trades_more,
    "district": _on_district,
    "town": _on_town,
    "wage": _on_wage,
    "availability": _on_availability,
    "alert_channel": _on_alert_channel,
    "id_ask": _on_id_ask,
    "id_entry": _on_id_entry,
    "review": _on_review,
    "main_menu": _on_main_menu,
    "offer": _on_offer,
    "update_menu": _on_update_menu,
    "wage_report": _on_wage_report,
    "offer_agent": _on_offer_agent,
    "pay_question": _on_pay_question,
    "pay_amount": _on_pay_amount,
    "hired": _on_hired,
    "confirm_speech": _on_confirm_speech,
}
