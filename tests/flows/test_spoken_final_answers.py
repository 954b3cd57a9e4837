"""Spoken answers that end the call or throw work away are read back and confirmed by a
key however sure the recogniser was; other answers heard clearly are taken as said."""

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from basics.market_views import OfferView, PayQuestionView
from ivr_flows.commands import AnswerPay, CompleteRegistration, RecordWageReport, ReserveSlot
from ivr_flows.inputs import Answer, CallStarted
from prompts.speech_words import load_speech_words
from tests.flows.harness import FlowCall, World, registered

MANDARIN = load_speech_words("zh-CN")
KOREAN = load_speech_words("ko")
SURE = 0.99  # above either pack's confirm_below
RETRY = "bot: 好的，请再说一遍，或者按键。"
J7 = OfferView(7, "J7", "焊工", 50000, 5, "北城街道", date(2026, 11, 24))
J8 = OfferView(8, "J8", "焊工", 45000, 3, "东郭镇", date(2026, 11, 25))
PAY = PayQuestionView(5, "J1", 60000, date(2026, 11, 20), date(2026, 11, 22), 3)


def read_back(heard: str) -> str:
    return f"bot: 您说的是{heard}，对请按1，不对请按2。"


def new_lines(call: FlowCall, act: Callable[[FlowCall], object]) -> list[str]:
    before = len(call.lines)
    act(call)
    return call.lines[before:]


# --- each prompt that listens, reached by keys --------------------------------------
def _new_caller() -> FlowCall:
    return FlowCall(speech=MANDARIN).start()


def _registering(*keys: str) -> Callable[[], FlowCall]:
    def reach() -> FlowCall:
        call = _new_caller()
        for k in keys:
            call.press(k)
        return call
    return reach


def _review() -> FlowCall:
    return _registering("1", "1", "2", "1", "1", "300", "1", "1", "2")().record(2)


def _registered(*keys: str, offers: tuple[OfferView, ...] = ()) -> Callable[[], FlowCall]:
    def reach() -> FlowCall:
        call = FlowCall(speech=MANDARIN, worker=registered(),
                        world=World(offers=list(offers))).start()
        for k in keys:
            call.press(k)
        return call
    return reach


def _alert() -> FlowCall:
    return FlowCall(speech=MANDARIN, worker=registered()).start(CallStarted(alert=J7))


def _pay(*keys: str) -> Callable[[], FlowCall]:
    def reach() -> FlowCall:
        call = FlowCall(speech=MANDARIN, worker=registered()).start(CallStarted(pay=PAY))
        for k in keys:
            call.press(k)
        return call
    return reach


REACH: dict[str, Callable[[], FlowCall]] = {
    "consent": _new_caller,
    "trades": _registering("1"),
    "trades_more": _registering("1", "1"),
    "district": _registering("1", "1", "2"),
    "town": _registering("1", "1", "2", "1"),
    "wage": _registering("1", "1", "2", "1", "1"),
    "availability": _registering("1", "1", "2", "1", "1", "300"),
    "alert_channel": _registering("1", "1", "2", "1", "1", "300", "1"),
    "id_ask": _registering("1", "1", "2", "1", "1", "300", "1", "1"),
    "review": _review,
    "main_menu": _registered(),
    "offer": _registered("1", offers=(J7, J8)),
    "last offer": _registered("1", offers=(J7,)),
    "alert offer": _alert,
    "update_menu": _registered("2"),
    "wage_report": _registered("3"),
    "offer_agent": _registered("9", "9", "9"),
    "pay_question": _pay(),
    "pay_amount": _pay("3"),
}


@pytest.mark.parametrize("where", list(REACH))
def test_no_clearly_heard_answer_hangs_up_unconfirmed(where):
    """Every answer a prompt listens for, spoken and heard at full confidence: when its
    key would hang up, the caller hears it read back instead, and the call goes on."""
    call = REACH[where]()
    assert call.state.step in where or where.endswith(call.state.step), "reached"
    listen = call.listening()
    values = [c.value for c in listen.choices] + (["500"] if listen.amount_words else [])
    hanging_up = []
    for value in values:
        keyed = replace(call, lines=[], effects=[])
        if "   (hangs up)" not in new_lines(keyed, lambda c, v=value: c.press(v)):
            continue
        hanging_up.append(value)
        spoken = replace(call, lines=[], effects=[])
        heard = new_lines(spoken, lambda c, v=value: c.send(Answer(v, "speech", 1.0, "X")))
        assert heard[-2] == read_back("X"), f"{where}: {value} said"
        assert "   (hangs up)" not in heard and not spoken.effects
    if where in ("consent", "alert offer", "pay_question", "pay_amount", "main_menu"):
        assert hanging_up, f"{where}: some answer ends the call"


def test_a_clear_no_to_consent_is_read_back_and_only_the_key_declines():
    call = FlowCall(speech=MANDARIN).start()
    heard = new_lines(call, lambda c: c.say("不 同 意", confidence=SURE))
    assert heard[-2] == read_back("不同意")
    assert call.state.step != "ended" and "   (hangs up)" not in heard
    heard = new_lines(call, lambda c: c.press("2"))  # "not what I said"
    assert heard[1] == RETRY and "同意请按1，不同意请按2" in heard[-2]
    call.say("不 同 意", confidence=SURE).press("1")
    assert call.lines[-2] == "bot: 好的，不登记也可以随时再打来。再见。"
    assert call.lines[-1] == "   (hangs up)"


def test_a_korean_yes_misheard_as_two_with_full_confidence_does_not_end_the_call():
    """The issue's case: the Korean model sure it heard 이 ("2": no) when 예 was said."""
    call = FlowCall(speech=KOREAN).start()
    call.say("이", confidence=1.0)
    assert call.lines[-2] == read_back("이") and call.state.step != "ended"
    call.press("2")
    call.say("예", confidence=1.0)  # a clear yes is taken as said
    assert "请选您会的工种" in call.lines[-2]


def test_starting_the_registration_over_is_confirmed_before_the_draft_is_dropped():
    call = _review()
    call.say("重 新 登 记", confidence=SURE)
    assert call.lines[-2] == read_back("重新登记") and call.state.step == "confirm_speech"
    call.press("2")
    assert call.state.step == "review" and call.state.draft.get("trades") == ["welder"]
    call.say("重 新", confidence=SURE).press("1")
    assert call.state.step == "trades" and "trades" not in call.state.draft
    assert not [e for e in call.effects if isinstance(e, CompleteRegistration)]


def test_passing_an_offer_over_by_voice_is_confirmed_first():
    call = _registered("1", offers=(J7, J8))()
    call.say("下 一 个", confidence=SURE)
    assert call.lines[-2] == read_back("下一个")
    call.press("2")
    assert call.lines[-3].startswith("bot: 焊工，一天500元"), "the same offer again"
    call.say("不 接", confidence=SURE).press("1")
    assert call.lines[-3].startswith("bot: 焊工，一天450元"), "on to the next"


def test_an_alert_declined_by_voice_ends_the_call_only_after_the_key():
    call = _alert()
    heard = new_lines(call, lambda c: c.say("不 要", confidence=SURE))
    assert heard[-2] == read_back("不要") and "   (hangs up)" not in heard
    call.press("1")
    assert call.lines[-2:] == ["bot: 好的，有别的活再通知您。再见。", "   (hangs up)"]


def test_taking_a_job_by_voice_is_confirmed_then_the_place_is_held():
    call = _registered("1", offers=(J7,))()
    call.say("接 活", confidence=SURE)
    assert call.lines[-2] == read_back("接活")
    assert not [e for e in call.effects if isinstance(e, ReserveSlot)]
    call.press("1")
    assert "   [reserve line 7: reserved]" in call.lines


@pytest.mark.parametrize("said, keys, recorded", [
    ("是 的", (), AnswerPay(5, "yes")),
    ("没 有", (), AnswerPay(5, "no")),
    ("五 百 块", ("3",), AnswerPay(5, "partly", 50000)),
])
def test_a_pay_answer_by_voice_is_recorded_only_once_confirmed(said, keys, recorded):
    call = _pay(*keys)()
    heard = new_lines(call, lambda c: c.say(said, confidence=SURE))
    assert heard[-2].startswith("bot: 您说的是") and not call.effects
    call.press("1")
    assert [e for e in call.effects if isinstance(e, AnswerPay)] == [recorded]
    assert call.lines[-1] == "   (hangs up)"


def test_a_wage_report_by_voice_is_confirmed_before_a_case_is_opened():
    call = _registered("3")()
    call.say("三 百 块", confidence=SURE)
    assert call.lines[-2] == read_back("300") and not call.effects
    call.press("1")
    assert [e for e in call.effects if isinstance(e, RecordWageReport)] == [
        RecordWageReport(30000)]


def test_asking_for_an_agent_by_voice_is_confirmed_before_the_call_ends():
    call = _registered()()
    call.say("人 工", confidence=SURE)
    assert call.lines[-2] == read_back("人工") and call.state.step != "ended"
    call.press("1")
    assert call.lines[-1] == "   (hangs up)"


@pytest.mark.parametrize("where, said, next_prompt", [
    ("consent", "同 意", "请选您会的工种"),
    ("trades_more", "选 好 了", "您住在哪个区县"),
    ("id_ask", "不 要", "请在嘀声后说出您的名字"),
    ("main_menu", "欠 薪", "被拖欠了多少钱"),
    ("pay_question", "一 部 分", "收到了多少钱"),
    ("offer_agent", "不 用", "听适合您的活请按1"),
])
def test_an_answer_that_loses_nothing_is_taken_as_said_when_heard_clearly(where, said,
                                                                          next_prompt):
    call = REACH[where]()
    heard = new_lines(call, lambda c: c.say(said, confidence=SURE))
    assert not any(line.startswith("bot: 您说的是") for line in heard)
    assert next_prompt in heard[-2]
