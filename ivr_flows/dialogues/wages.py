"""Wages: the worker's report of an unpaid wage (from the main menu), and the automated
"were you paid?" call about one pay period (yes, no, or paid in part and how much)."""

from __future__ import annotations

from basics.market_views import PayAnswer, PayQuestionView
from ivr_flows.commands import AnswerPay, Ask, RecordWageReport
from ivr_flows.turn import Step, Turn, asks

WAGE_REPORT_MAX_YUAN = 999_999


def _on_wage_report(turn: Turn, value: str) -> None:
    if not value.isdigit() or not 1 <= int(value) <= WAGE_REPORT_MAX_YUAN:
        turn.fail()
        return
    turn.do(RecordWageReport(int(value) * 100))
    turn.say("wage_report_saved")
    turn.go("main_menu")


# --- "were you paid?" calls ----------------------------------------------------------
def start_pay_call(turn: Turn, pay: PayQuestionView) -> None:
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
        turn.do(AnswerPay(pay["check_id"], PayAnswer.YES))
        turn.say("pay_call_thanks")
        turn.end()
    elif value == "2":
        turn.do(AnswerPay(pay["check_id"], PayAnswer.NO))
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
    turn.do(AnswerPay(pay["check_id"], PayAnswer.PARTLY, int(value) * 100))
    turn.say("pay_call_unpaid", days=pay["grace_days"])
    turn.end()


STEPS = {
    "wage_report": Step(
        asks("wage_report_ask", max_digits=7, finish_on_key="#", timeout_seconds=10),
        _on_wage_report),
    "pay_question": Step(lambda state, ctx: Ask((state.pay["question"],)), _on_pay_question),
    "pay_amount": Step(
        asks("pay_call_amount", max_digits=7, finish_on_key="#", timeout_seconds=10),
        _on_pay_amount),
}
