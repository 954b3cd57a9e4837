"""Speaking instead of pressing keys, at the text level: what Vosk's Mandarin model prints
(space-separated characters) is understood at each prompt and drives the same flow."""

from collections import defaultdict
from datetime import date

import pytest

from basics.market_views import PayQuestionView
from ivr_flows.commands import AnswerPay, SaveProfile, StoreIdNumber
from ivr_flows.context import CallContext
from ivr_flows.inputs import Answer, CallStarted
from ivr_flows.listening import listen_for
from prompts.catalogue import load_catalogue
from prompts.speech_words import load_speech_words
from tests.flows.harness import TODAY, FlowCall, assert_golden, demo_market, registered
from tests.flows.test_call_flow import waiting_for_name

MANDARIN = load_speech_words("zh-CN")


def speaking(**kwargs) -> FlowCall:
    return FlowCall(speech=MANDARIN, **kwargs).start()


def saved_profile(call: FlowCall) -> dict:
    saved = {}
    for effect in call.effects:
        if isinstance(effect, SaveProfile):
            saved.update(effect.fields)
    return saved


def test_a_whole_registration_by_voice(update_golden):
    call = speaking()
    call.say("同 意")
    call.say("电 焊 工").say("还 有").say("力 工").say("选 好 了")
    call.say("盐 湖 区").say("东 郭")
    call.say("三 百 五 块")
    call.say("明 天").say("打 电 话")
    call.say("不 要")  # no ID number
    call.record(2)
    assert call.state.step == "review"
    assert_golden("registration_by_voice", call.transcript(), update_golden)
    saved = saved_profile(call)
    assert saved["trades"] == ["welder", "labourer"]
    assert saved["day_wage_fen"] == 35000
    assert saved["availability"] == "tomorrow" and saved["alert_channel"] == "call"
    assert "town_id" in saved


def test_a_doubtful_answer_is_read_back_and_confirmed_by_a_key():
    call = speaking()
    call.say("同 意")
    call.say("钢 筋", confidence=0.4)
    assert "您说的是钢筋工，对请按1，不对请按2。" in call.lines[-2]
    assert call.listening() is None, "the confirmation is keypad-only"
    call.press("1")
    assert saved_profile(call)["trades"] == ["rebar"]
    assert call.state.step == "trades_more"


def test_two_choices_said_alike_read_back_the_last_however_clearly_heard():
    """A caller who corrects themselves ("电工……木工") meant the last; two choices tie, so
    a key confirms it even when Vosk was sure of both words."""
    call = speaking()
    call.say("同 意")
    call.say("电 工 木 工", confidence=0.99)
    assert "您说的是木工，对请按1，不对请按2。" in call.lines[-2]
    call.press("1")
    assert saved_profile(call)["trades"] == ["carpenter"]


def test_a_wrong_read_back_asks_again_and_keeps_the_menu_page():
    call = speaking()
    call.say("同 意").press("4")  # page 2 of the trades
    call.say("司 机", confidence=0.3).press("2")
    assert "好的，请再说一遍，或者按键。" in call.lines[-3]
    assert call.state.step == "trades" and call.state.page == 1
    assert not saved_profile(call)


def test_a_trade_can_be_named_whatever_page_is_playing():
    call = speaking()
    call.say("同 意").say("送 外 卖")  # 骑手配送 is on the last page
    assert saved_profile(call)["trades"] == ["courier"]


def test_keys_still_work_at_every_listening_prompt():
    call = speaking()
    call.press("1").press("1").press("2")
    assert saved_profile(call)["trades"] == ["welder"]


def test_identifiers_and_the_name_are_keypad_only():
    call = speaking(worker=None)
    call.say("同 意").say("焊 工").say("选 好 了").say("盐 湖 区").say("东 郭")
    call.say("三 百").say("今 天").say("短 信")
    assert call.listening() is not None, "the ID question listens"
    call.say("要")
    assert call.state.step == "id_entry" and call.listening() is None
    call.press("11010519491231002*")
    assert [e for e in call.effects if isinstance(e, StoreIdNumber)]
    assert call.state.step == "name" and call.listening() is None


def test_words_that_answer_nothing_here_leave_the_prompt_listening():
    call = speaking()
    before = call.state_json
    call.say("明 天")  # an availability word, at the consent prompt
    assert call.lines[-1] == "   (not an answer here: still listening)"
    assert call.state_json == before


@pytest.mark.parametrize("said, expect", [("再 说 一 遍", "repeat"), ("人 工", "agent")])
def test_repeat_and_agent_can_be_said_anywhere(said, expect):
    call = speaking(worker=registered())
    call.say("找 活")  # main menu 1: offers (none)
    prompt_before = call.lines[-2]
    call.say(said)
    if expect == "repeat":
        assert call.lines[-2] == prompt_before
    else:  # reaching an agent ends this call: a key confirms it first
        assert call.lines[-2] == "bot: 您说的是人工，对请按1，不对请按2。"
        call.press("1")
        assert call.state.step == "ended"


def test_a_pay_question_answered_partly_by_voice():
    call = FlowCall(speech=MANDARIN, worker=registered()).start(CallStarted(
        pay=PayQuestionView(5, "J1", 60000, date(2026, 11, 20), date(2026, 11, 22), 3)))
    call.say("只 付 了 一 部 分")
    assert call.state.step == "pay_amount"
    call.say("五 百 块")  # recorded, and the call ends: read back first
    assert call.lines[-2] == "bot: 您说的是500，对请按1，不对请按2。"
    call.press("1")
    assert [e for e in call.effects if isinstance(e, AnswerPay)] == [
        AnswerPay(5, "partly", 50000)]


def test_an_amount_outside_the_range_is_refused_like_keys():
    call = speaking()
    call.say("同 意").say("焊 工").say("选 好 了").say("盐 湖 区").say("东 郭")
    call.say("五 块")
    assert call.state.step == "wage" and call.state.failures == 1


def test_speech_at_a_prompt_that_does_not_listen_is_not_applied():
    call = FlowCall(speech=MANDARIN, worker=waiting_for_name()).start()
    assert call.state.step == "name" and call.listening() is None
    saved = len(call.effects)
    call.send(Answer("1", "speech", 0.99, "是"))
    assert call.state.step == "name" and len(call.effects) == saved
    assert call.lines[-1] == "   (recording)", "the name is asked for again"


def test_without_a_speech_pack_no_prompt_listens_and_speech_is_not_mentioned():
    call = FlowCall().start().press("1")
    assert call.listening() is None
    assert not any("直接说" in line for line in call.lines)


def test_the_korean_test_pack_answers_keyed_prompts_with_its_digits_and_yes():
    call = FlowCall(speech=load_speech_words("ko")).start()
    call.say("예")
    assert call.state.step == "trades"
    call.say("삼")  # key 3 on the first page: 钢筋工
    assert saved_profile(call)["trades"] == ["rebar"]


@pytest.mark.parametrize("step", ["consent", "trades_more", "id_ask", "review", "offer",
                                  "pay_question", "offer_agent", "main_menu", "update_menu",
                                  "availability", "alert_channel", "trades", "district",
                                  "town", "wage", "wage_report", "pay_amount"])
def test_no_spoken_word_means_two_things_at_one_prompt(step):
    ctx = CallContext(caller="+8613800000001", today=TODAY, market=demo_market(),
                      catalogue=load_catalogue("zh-CN"), speech=MANDARIN)
    listen = listen_for(step, 0, 1, ctx.market, ctx.speech)
    meanings = defaultdict(set)
    for choice in listen.choices:
        for word in choice.words:
            meanings[word].add(choice.value)
    assert listen.grammar
    assert {word: values for word, values in meanings.items() if len(values) > 1} == {}
