"""Hires: the contract summary read to a worker who cannot read the SMS, in the call we
place when they are hired, or from the main menu for every hire still to finish."""

from __future__ import annotations

from basics.market_views import HireView
from ivr_flows.commands import Ask
from ivr_flows.context import CallContext
from ivr_flows.inputs import HiresFound
from ivr_flows.turn import Step, Turn, asks, spoken_date


def start_hired_call(turn: Turn, hire: HireView) -> None:
    turn.say("hired_intro")
    _read_hires(turn, (hire,))


def hires_found(turn: Turn, found: HiresFound) -> None:
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


STEPS = {
    "hires_wait": Step(asks("main_menu")),  # keys while the hires are looked up
    "hired": Step(lambda state, ctx: Ask((*state.hires, ctx.catalogue.text("hired_choices"))),
                  _on_hired),
}
