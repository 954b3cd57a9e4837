"""The hotline call: registration, main menu, offers, wage reports, reaching an agent.

`step(state, event, ctx) -> (state, commands)` is pure. The turn core (ivr_flows.turn)
holds what every step shares; this module gives the dialogues' steps as the table a
turn runs on, and is what callers import.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from basics.identity import is_valid_id_number
from basics.market_views import HireView, OfferView, PayQuestionView
from ivr_flows.commands import (
    AnswerPay,
    Ask,
    CheckIn,
    CompleteRegistration,
    FindHires,
    FindOffers,
    RecordConsent,
    RecordName,
    RecordWageReport,
    ReserveSlot,
    SaveProfile,
    StoreIdNumber,
)
from ivr_flows.context import CallContext
from ivr_flows.inputs import (
    CallStarted,
    Done,
    FlowInput,
    HiresFound,
    OffersFound,
    Recorded,
    SlotResult,
)
from ivr_flows.listening import ITEM, page_of
from ivr_flows.turn import (
    ALWAYS_READ_BACK,
    AN_AMOUNT,
    ANY_STEP,
    STEPS,
    CallState,
    Dialogues,
    Step,
    Turn,
    always_read_back,
    asks,
    listening,
    run_turn,
    spoken_date,
)

__all__ = ["ALWAYS_READ_BACK", "AN_AMOUNT", "ANY_STEP", "CallState", "always_read_back",
           "listening", "step"]

WAGE_MIN_YUAN = 30
WAGE_MAX_YUAN = 3000
WAGE_REPORT_MAX_YUAN = 999_999
AVAILABILITY = {"1": "today", "2": "tomorrow", "3": "week", "4": "not_now"}
ALERT_CHANNELS = {"1": "sms", "2": "call"}


# --- start ---------------------------------------------------------------------------
def _call_started(turn: Turn, event: CallStarted) -> None:
    """Which call this is: one we placed (a job alert, a pay question, news of a hire), or
    the worker's own."""
    if event.alert is not None:
        _start_alert(turn, event.alert)
    elif event.pay is not None:
        _start_pay_question(turn, event.pay)
    elif event.hired is not None:
        turn.say("hired_intro")
        _read_hires(turn, (event.hired,))
    else:
        _start(turn)


def _start(turn: Turn) -> None:
    ctx, worker = turn.ctx, turn.ctx.worker
    if not ctx.caller:
        turn.say("hidden_number")
        if ctx.market.agent_numbers:
            turn.reach_agent("hidden_number")
        else:
            turn.end()
        return
    _greet(turn)
    if ctx.speech is not None:
        turn.say("speech_hint")
    if worker and worker.status == "active":
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


def _greet(turn: Turn) -> None:
    ctx, worker = turn.ctx, turn.ctx.worker
    if not (worker and worker.status == "active"):
        turn.say("greeting_new", market=ctx.market.name)
    elif worker.name:
        turn.say("greeting_registered_name", name=worker.name, market=ctx.market.name)
    else:
        turn.say("greeting_registered_number", number=ctx.catalogue.digits(worker.number),
                 market=ctx.market.name)


def _start_alert(turn: Turn, offer: OfferView) -> None:
    """We called the worker about one job: read it, take 1 to accept, then goodbye."""
    turn.state.mode = "alert"
    turn.state.offers = [_offer_to_dict(offer)]
    turn.state.offer_index = 0
    turn.say("alert_intro")
    turn.go("offer")


def _next_registration_step(turn: Turn) -> None:
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


def _on_consent(turn: Turn, value: str) -> None:
    if value == "1":
        turn.do(RecordConsent())
        turn.state.mode = "register"
        turn.state.draft = {}
        _next_registration_step(turn)
    elif value == "2":
        turn.say("consent_declined")
        turn.end()
    else:
        turn.fail()


def _on_trades(turn: Turn, value: str) -> None:
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


def _on_trades_more(turn: Turn, value: str) -> None:
    if value == "1":
        turn.go("trades")
    elif value == "2":
        _after_profile_change(turn)
    else:
        turn.fail()


def _on_district(turn: Turn, value: str) -> None:
    districts = turn.ctx.market.districts
    chosen = _menu_choice(turn, [d.id for d in districts], value)
    if chosen is None:
        return
    turn.state.draft["district_id"] = chosen
    turn.go("town")


def _on_town(turn: Turn, value: str) -> None:
    district = turn.ctx.market.district(turn.state.draft.get("district_id"))
    towns = [t.id for t in district.towns] if district else []
    chosen = _menu_choice(turn, towns, value)
    if chosen is None:
        return
    turn.state.draft["town_id"] = chosen
    turn.do(SaveProfile({"district_id": district.id, "town_id": chosen}))
    _next_registration_step(turn)


def _on_wage(turn: Turn, value: str) -> None:
    if not value.isdigit() or not WAGE_MIN_YUAN <= int(value) <= WAGE_MAX_YUAN:
        turn.fail("wage_invalid", min=WAGE_MIN_YUAN, max=WAGE_MAX_YUAN)
        return
    fen = int(value) * 100
    turn.state.draft["day_wage_fen"] = fen
    turn.do(SaveProfile({"day_wage_fen": fen}))
    _next_registration_step(turn)


def _on_availability(turn: Turn, value: str) -> None:
    if value not in AVAILABILITY:
        turn.fail()
        return
    turn.state.draft["availability"] = AVAILABILITY[value]
    turn.do(SaveProfile({"availability": AVAILABILITY[value]}))
    _after_profile_change(turn)


def _on_alert_channel(turn: Turn, value: str) -> None:
    """Workers who cannot read get their job alerts as automated calls."""
    if value not in ALERT_CHANNELS:
        turn.fail()
        return
    turn.state.draft["alert_channel"] = ALERT_CHANNELS[value]
    turn.do(SaveProfile({"alert_channel": ALERT_CHANNELS[value]}))
    _after_profile_change(turn)


def _on_id_ask(turn: Turn, value: str) -> None:
    if value == "1":
        turn.go("id_entry")
    elif value == "2":
        turn.state.draft["id_done"] = True
        _next_registration_step(turn)
    else:
        turn.fail()


def _on_id_entry(turn: Turn, value: str) -> None:
    id_number = value.replace("*", "X")
    if not is_valid_id_number(id_number):
        turn.fail("id_invalid")
        return
    turn.do(StoreIdNumber(id_number))
    turn.state.draft.update(id_done=True, id_last4=id_number[-4:])
    _next_registration_step(turn)


def _on_name(turn: Turn, event: Recorded) -> None:
    if event.duration_seconds <= 0 or not event.url:
        turn.fail("name_missing")
        return
    turn.state.draft["name_recorded"] = True
    turn.do(SaveProfile({"name_recording_url": event.url}))
    _next_registration_step(turn)


def _on_review(turn: Turn, value: str) -> None:
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


def _on_main_menu(turn: Turn, value: str) -> None:
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


def _checked_in(turn: Turn, result: Done) -> None:
    if turn.state.step != "check_in_wait":
        return
    if result.ok:
        turn.say("checked_in", code=result.detail)
    else:
        turn.say("nothing_to_check_in")
    turn.go("main_menu")


# --- hires: the contract summary, for workers who cannot read the SMS ------------------
def _hires_found(turn: Turn, found: HiresFound) -> None:
    if turn.state.step == "hires_wait":
        _read_hires(turn, found.hires)


def _read_hires(turn: Turn, hires: tuple[HireView, ...]) -> None:
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


def _on_hired(turn: Turn, value: str) -> None:
    if value == "1":
        turn.ask()
    elif value == "2":
        turn.state.hires = []
        turn.go("main_menu")
    else:
        turn.fail()


# --- "were you paid?" calls ----------------------------------------------------------
def _start_pay_question(turn: Turn, pay: PayQuestionView) -> None:
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


def _on_pay_question(turn: Turn, value: str) -> None:
    pay = turn.state.pay
    if value == "1":
        turn.do(AnswerPay(pay["check_id"], "yes"))
        turn.say("pay_call_thanks")
        turn.end()
    elif value == "2":
        turn.do(AnswerPay(pay["check_id"], "no"))
        turn.say("pay_call_unpaid", days=pay["grace_days"])
        turn.end()
    elif value == "3":
        turn.go("pay_amount")
    else:
        turn.fail()


def _on_pay_amount(turn: Turn, value: str) -> None:
    pay = turn.state.pay
    if not value.isdigit() or not 0 < int(value) * 100 < pay["owed_fen"]:
        turn.fail("pay_call_amount_invalid", amount=turn.ctx.catalogue.yuan(pay["owed_fen"]))
        return
    turn.do(AnswerPay(pay["check_id"], "partly", int(value) * 100))
    turn.say("pay_call_unpaid", days=pay["grace_days"])
    turn.end()


def _on_update_menu(turn: Turn, value: str) -> None:
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


def _after_profile_change(turn: Turn) -> None:
    if turn.state.mode == "update":
        turn.say("updated")
        turn.state.mode = "register"
        turn.go("main_menu")
    else:
        _next_registration_step(turn)


def _on_wage_report(turn: Turn, value: str) -> None:
    if not value.isdigit() or not 1 <= int(value) <= WAGE_REPORT_MAX_YUAN:
        turn.fail()
        return
    turn.do(RecordWageReport(int(value) * 100))
    turn.say("wage_report_saved")
    turn.go("main_menu")


# --- offers --------------------------------------------------------------------------
def _offers_found(turn: Turn, found: OffersFound) -> None:
    if not found.offers:
        turn.say("no_offers")
        turn.go("main_menu")
        return
    turn.state.offers = [_offer_to_dict(o) for o in found.offers]
    turn.state.offer_index = 0
    turn.go("offer")


def _on_offer(turn: Turn, value: str) -> None:
    offer = turn.state.offers[turn.state.offer_index]
    if value == "1":
        turn.state.step = "offer_wait"
        turn.do(ReserveSlot(offer["job_line_id"]))
    elif value == "2":
        _next_offer(turn)
    else:
        turn.fail()


def _slot_result(turn: Turn, result: SlotResult) -> None:
    if turn.state.step != "offer_wait":
        turn.ask()
        return
    if result.outcome == "reserved":
        turn.say("offer_reserved")
        turn.state.offers = []
        if turn.state.mode == "alert":
            turn.say("goodbye")
            turn.end()
        else:
            turn.go("main_menu")
    elif turn.state.mode == "alert":
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        turn.say("alert_refused")
        turn.end()
    else:
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        _next_offer(turn)


_REFUSALS = {"full": "offer_full", "overlap": "offer_overlap"}


def _next_offer(turn: Turn) -> None:
    turn.state.offer_index += 1
    if turn.state.mode == "alert":
        turn.say("alert_declined")
        turn.end()
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


def _menu_choice(turn: Turn, items: list, value: str) -> object | None:
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
        alert_channel=cat.text(f"alert_channel_{draft.get('alert_channel') or 'sms'}"),
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


DIALOGUES = Dialogues(
    steps={
        **STEPS,
        "consent": Step(asks("consent"), _on_consent),
        "trades": Step(_trades_menu, _on_trades),
        "trades_more": Step(asks("trades_more"), _on_trades_more),
        "district": Step(_district_menu, _on_district),
        "town": Step(_town_menu, _on_town),
        "wage": Step(asks("wage_ask", max_digits=5, finish_on_key="#", timeout_seconds=10),
                     _on_wage),
        "availability": Step(asks("availability_menu"), _on_availability),
        "alert_channel": Step(asks("alert_channel_menu"), _on_alert_channel),
        "id_ask": Step(asks("id_ask"), _on_id_ask),
        "id_entry": Step(asks("id_entry", max_digits=18, finish_on_key="#", timeout_seconds=15),
                         _on_id_entry),
        "name": Step(lambda state, ctx: RecordName((ctx.catalogue.text("name_record"),)),
                     on_recorded=_on_name),
        "review": Step(_review, _on_review),
        "main_menu": Step(asks("main_menu"), _on_main_menu),
        "offer": Step(_offer, _on_offer),
        "update_menu": Step(asks("update_menu"), _on_update_menu),
        "wage_report": Step(
            asks("wage_report_ask", max_digits=7, finish_on_key="#", timeout_seconds=10),
            _on_wage_report),
        "pay_question": Step(lambda state, ctx: Ask((state.pay["question"],)),
                             _on_pay_question),
        "pay_amount": Step(
            asks("pay_call_amount", max_digits=7, finish_on_key="#", timeout_seconds=10),
            _on_pay_amount),
        "check_in_wait": Step(asks("main_menu")),
        "offers_wait": Step(asks("main_menu")),
        "hires_wait": Step(asks("main_menu")),
        "hired": Step(lambda state, ctx: Ask((*state.hires, ctx.catalogue.text("hired_choices"))),
                      _on_hired),
        "offer_wait": Step(_offer),
    },
    call_started=_call_started,
    results={
        OffersFound: _offers_found,
        SlotResult: _slot_result,
        HiresFound: _hires_found,
        Done: _checked_in,
    },
)


def step(state: CallState, event: FlowInput, ctx: CallContext) -> tuple[CallState, list]:
    return run_turn(state, event, ctx, DIALOGUES)
