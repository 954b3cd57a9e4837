"""Golden transcripts of whole calls, plus the rules every prompt must keep."""

from dataclasses import replace
from datetime import date

import pytest

from basics.market_views import HireView, OfferView, WorkerView
from ivr_flows.commands import (
    CompleteRegistration,
    RecordConsent,
    RecordWageReport,
    RequestCallback,
    SaveProfile,
    StoreIdNumber,
)
from ivr_flows.inputs import CallStarted
from tests.flows.harness import FlowCall, World, assert_golden, demo_market, registered

VALID_ID = "11010519491231002X"


def waiting_for_name() -> WorkerView:
    """A caller who hung up just before saying their name."""
    return WorkerView(number="7", status="registering", consented=True, trades=("rebar",),
                      district_id=1, town_id=2, day_wage_fen=30000, availability="week",
                      alert_channel="sms", id_last4="002X")


def effects_of(call: FlowCall, kind: type) -> list:
    return [e for e in call.effects if isinstance(e, kind)]


def test_registration_happy_path(update_golden):
    call = FlowCall().start()
    call.press("1")  # consent
    call.press("1").press("1")  # 焊工, add another
    call.press("4").press("2").press("2")  # more, 水电工, done
    call.press("1").press("2")  # 盐湖区, 东郭镇
    call.press("350")  # wage, ended with #
    call.press("1")  # today
    call.press("2")  # job alerts by phone call
    call.press("1").press(VALID_ID.replace("X", "*"))  # ID
    call.record(2)
    transcript = call.transcript() + _after_confirm(call)
    assert_golden("registration_happy_path", transcript, update_golden)
    assert effects_of(call, RecordConsent)
    assert effects_of(call, StoreIdNumber) == [StoreIdNumber(VALID_ID)]
    saved = {}
    for effect in effects_of(call, SaveProfile):
        saved.update(effect.fields)
    assert saved["trades"] == ["welder", "plumber"]
    assert saved["day_wage_fen"] == 35000 and saved["availability"] == "today"
    assert saved["alert_channel"] == "call"
    assert effects_of(call, CompleteRegistration)
    assert VALID_ID[:17] not in call.state_json, "the stored state must not hold the ID number"


def _after_confirm(call: FlowCall) -> str:
    call.worker = WorkerView(number="000007", status="registering", consented=True)
    before = len(call.lines)
    call.press("1")
    return "\n".join(call.lines[before:]) + "\n"


def test_silence_and_wrong_keys_reprompt_then_offer_an_agent(update_golden):
    call = FlowCall().start()
    call.silence().press("9").press("#")
    assert call.state.step == "offer_agent"
    call.press("1")  # try again: back at consent
    assert call.state.step == "consent"
    call.silence().silence().silence()  # three more failures, offered an agent again
    call.silence().silence().silence()  # and three at the offer: a callback is booked
    assert_golden("failures_then_agent", call.transcript(), update_golden)
    assert effects_of(call, RequestCallback) == [RequestCallback("repeated_failures")]
    assert call.state.step == "ended"


@pytest.mark.parametrize("step_keys", [
    [],  # consent
    ["1"],  # trades menu
    ["1", "1"],  # trades more
    ["1", "1", "2"],  # district
    ["1", "1", "2", "1"],  # town
    ["1", "1", "2", "1", "1"],  # wage
    ["1", "1", "2", "1", "1", "300"],  # availability
    ["1", "1", "2", "1", "1", "300", "1"],  # alert channel
    ["1", "1", "2", "1", "1", "300", "1", "1"],  # id ask
    ["1", "1", "2", "1", "1", "300", "1", "1", "1"],  # id entry
])
def test_star_repeats_and_zero_reaches_an_agent_at_every_prompt(step_keys):
    call = FlowCall(market=demo_market(agent_numbers=("+8613900000099",))).start()
    for keys in step_keys:
        call.press(keys)
    step, before = call.state.step, len(call.lines)
    asked = [line for line in call.lines if line.startswith("bot:")][-1]
    call.press("*")
    assert call.state.step == step
    assert asked in call.lines[before:], "* must say the question again"
    call.press("0")
    assert "   (dialling agents +8613900000099)" in call.lines
    assert call.state.step == "ended"


REGISTERED_PROMPTS = {
    "main_menu": [],
    "offer": ["1"],
    "update_menu": ["2"],
    "wage_report": ["3"],
}


@pytest.mark.parametrize("step, keys", REGISTERED_PROMPTS.items())
def test_star_and_zero_work_at_the_registered_callers_prompts(step, keys):
    world = World(offers=[OfferView(11, "J101", "焊工", 50000, 10, "北城街道", date(2026, 11, 23))])
    call = FlowCall(worker=registered(), world=world,
                    market=demo_market(agent_numbers=("+8613900000099",))).start()
    for key in keys:
        call.press(key)
    assert call.state.step == step
    asked = [line for line in call.lines if line.startswith("bot:")][-1]
    before = len(call.lines)
    call.press("*")
    assert call.state.step == step and asked in call.lines[before:]
    call.press("0")
    assert "   (dialling agents +8613900000099)" in call.lines


@pytest.mark.parametrize("key, expect", [("*", "name"), ("0", "ended")])
def test_star_and_zero_end_a_recording_like_any_prompt(key, expect):
    call = FlowCall(worker=waiting_for_name()).start()
    assert call.state.step == "name"
    call.record(1, finish_key=key)
    assert call.state.step == expect
    if key == "*":
        assert call.lines[-1] == "   (recording)"


def test_zero_without_agents_on_duty_books_a_callback():
    call = FlowCall().start().press("0")
    assert effects_of(call, RequestCallback) == [RequestCallback("caller_asked")]
    assert call.lines[-1] == "   (hangs up)"


def test_declining_consent_ends_the_call_and_records_nothing():
    call = FlowCall().start().press("2")
    assert call.effects == []
    assert call.lines[-1] == "   (hangs up)"


def test_bad_id_check_digit_is_refused(update_golden):
    call = FlowCall(worker=WorkerView(number="000007", status="registering", consented=True,
                                      trades=("welder",), district_id=1, town_id=2,
                                      day_wage_fen=30000, availability="today",
                                      alert_channel="sms"))
    call.start().press("1")
    assert call.state.step == "id_entry"
    call.press("110105194912310021")  # check digit should be X
    call.press("1101051949")  # too short
    assert call.state.step == "id_entry"
    assert effects_of(call, StoreIdNumber) == []
    call.press(VALID_ID.replace("X", "*"))
    assert call.state.step == "name"
    assert_golden("bad_id_number", call.transcript(), update_golden)


def test_hang_up_mid_registration_resumes_where_it_stopped(update_golden):
    call = FlowCall().start().press("1").press("3").press("2")  # consent, 钢筋工, done
    assert call.state.step == "district"
    saved = WorkerView(number="000007", status="registering", consented=True, trades=("rebar",))
    call.hang_up_and_call_back(saved)
    assert call.state.step == "district"
    assert_golden("resume_registration", call.transcript(), update_golden)


def test_redo_at_review_starts_over_from_trades():
    worker = WorkerView(number="000007", status="registering", consented=True, trades=("rebar",),
                        district_id=1, town_id=2, day_wage_fen=30000, availability="week",
                        alert_channel="sms",
                        id_last4="002X", has_name_recording=True)
    call = FlowCall(worker=worker).start()
    assert call.state.step == "review"
    review = [line for line in call.lines if "请核对" in line][-1]
    assert "钢筋工" in review and "300元" in review and "尾号零 零 二 X" in review
    call.press("2")
    assert call.state.step == "trades"


def test_wage_out_of_range_is_asked_again():
    worker = WorkerView(number="000007", status="registering", consented=True, trades=("rebar",),
                        district_id=1, town_id=2)
    call = FlowCall(worker=worker).start()
    assert call.state.step == "wage"
    call.press("5").press("99999")
    assert call.state.step == "wage"
    assert sum("日工资要在30元到3000元之间" in line for line in call.lines) == 2
    call.press("280")
    assert call.state.step == "availability"


def test_trade_menu_pages_wrap_round():
    call = FlowCall(worker=WorkerView(number="1", status="registering", consented=True)).start()
    first = call.lines[-2]
    assert "焊工请按1" in first and "更多请按4" in first
    for _ in range(5):  # 16 trades, 3 a page: 6 pages
        call.press("4")
    assert "从头再听请按4" in call.lines[-2]
    call.press("4")
    assert call.lines[-2] == first


OFFERS = [
    OfferView(11, "J101", "焊工", 50000, 10, "北城街道", date(2026, 11, 23)),
    OfferView(12, "J103", "焊工", 45000, 3, "东郭镇", date(2026, 11, 25)),
]


def test_registered_caller_hears_offers_and_takes_one(update_golden):
    world = World(offers=list(OFFERS), full_lines={11})
    call = FlowCall(worker=registered(), world=world).start()
    call.press("1")  # hear offers
    call.press("*")  # repeat the first
    call.press("1")  # accept: already full
    call.press("1")  # accept the second
    assert call.state.step == "main_menu"
    assert_golden("offers_accept", call.transcript(), update_golden)


def test_no_offers_returns_to_the_main_menu():
    call = FlowCall(worker=registered()).start().press("1")
    assert any("现在还没有适合您的活" in line for line in call.lines)
    assert call.state.step == "main_menu"


def test_passing_every_offer_ends_the_list():
    call = FlowCall(worker=registered(), world=World(offers=list(OFFERS))).start()
    call.press("1").press("2").press("2")
    assert any("没有更多的活了" in line for line in call.lines)
    assert call.state.step == "main_menu"


def test_a_refused_offer_says_why_then_moves_on():
    world = World(offers=list(OFFERS), refused={11: "overlap", 12: "not_open"})
    call = FlowCall(worker=registered(), world=world).start()
    call.press("1").press("1")
    assert "bot: 您这几天已经有活了，这个活不能再接。" in call.lines
    call.press("1")
    assert "bot: 这个活现在不对您开放。" in call.lines
    assert not any("满" in line for line in call.lines)
    assert call.state.step == "main_menu"


def test_an_alert_call_answered_too_late_hears_the_line_filled_and_goodbye():
    call = FlowCall(worker=registered(), world=World(full_lines={11}))
    call.start(CallStarted(alert=OFFERS[0])).press("1")
    said = call.lines[call.lines.index("   [reserve line 11: full]"):]
    assert said[1:3] == ["bot: 这个活的名额已经满了。", "bot: 有别的活再通知您。再见。"], said
    assert call.state.step == "ended"


HIRE = HireView(hire_id=7, job_code="J101", trade="焊工", employer="运城安居建筑劳务",
                employer_phone="13900000001", address="河东东街88号工地",
                start_date=date(2026, 11, 24), start_time="07:00", days=10,
                day_wage_fen=50000, daily_pay=False, insured=True)


def test_a_worker_who_cannot_read_hears_the_contract_from_the_main_menu():
    call = FlowCall(worker=registered(), world=World(hires=[HIRE])).start()
    call.press("5")
    said = " ".join(call.lines)
    for part in ("焊工", "日薪500元", "干10天", "完工结清", "河东东街88号工地", "运城安居建筑劳务",
                 "一 三 九 零 零 零 零 零 零 零 一", "意外险"):
        assert part in said, part
    call.press("1")  # again
    assert sum("河东东街88号工地" in line for line in call.lines) == 2
    call.press("2")
    assert call.state.step == "main_menu" and call.state.hires == []


def test_with_no_hires_the_main_menu_says_so():
    call = FlowCall(worker=registered()).start().press("5")
    assert "bot: 您现在没有已录用的活。" in call.lines
    assert call.state.step == "main_menu"


def test_the_hire_call_reads_the_contract_first():
    call = FlowCall(worker=registered()).start(CallStarted(hired=HIRE))
    assert "老板确认录用您了" in call.lines[1] and "河东东街88号工地" in " ".join(call.lines)
    assert call.state.step == "hired"


def test_update_trades_and_availability(update_golden):
    call = FlowCall(worker=registered()).start()
    call.press("2").press("1").press("2").press("2")  # update trades: 木工, done
    assert call.state.step == "main_menu"
    call.press("2").press("2").press("4")  # update availability: not now
    assert_golden("update_profile", call.transcript(), update_golden)
    saved = [e.fields for e in effects_of(call, SaveProfile)]
    assert {"trades": ["carpenter"]} in saved and {"availability": "not_now"} in saved


def test_report_unpaid_wage(update_golden):
    call = FlowCall(worker=registered()).start()
    call.press("3").press("#").press("6400")
    assert effects_of(call, RecordWageReport) == [RecordWageReport(640000)]
    assert call.state.step == "main_menu"
    assert_golden("wage_report", call.transcript(), update_golden)


def test_registered_caller_with_a_name_is_greeted_by_it():
    call = FlowCall(worker=registered(name="杨根山")).start()
    assert call.lines[1].startswith("bot: 杨根山您好")


def test_registered_caller_without_a_name_hears_the_number_digit_by_digit():
    call = FlowCall(worker=registered()).start()
    assert "工号零 零 零 零 四 二的工友您好" in call.lines[1]


def test_name_not_recorded_is_asked_again():
    call = FlowCall(worker=waiting_for_name()).start()
    assert call.state.step == "name"
    call.record(0)
    assert call.state.step == "name" and any("没有录到您的名字" in line for line in call.lines)
    call.silence()  # the Record fell through without audio
    assert call.state.step == "name"
    call.record(3)
    assert call.state.step == "review"


def test_state_survives_unknown_keys_in_stored_json():
    call = FlowCall(worker=registered()).start()
    data = call.state.to_dict() | {"from_a_newer_release": 1}
    assert type(call.state).from_dict(data) == call.state


def test_a_finished_call_only_hangs_up():
    call = FlowCall().start().press("2")
    call.press("1")
    assert call.lines[-1] == "   (hangs up)"
    assert replace(call.state).step == "ended"


def test_a_withheld_number_is_told_why_it_cannot_register():
    call = FlowCall(caller="").start()
    assert any("号码是隐藏的" in line for line in call.lines)
    assert call.effects == [] and call.lines[-1] == "   (hangs up)"


def test_a_worker_who_cannot_read_switches_alerts_to_phone_calls():
    call = FlowCall(worker=registered()).start()
    call.press("2").press("3").press("2")
    assert {"alert_channel": "call"} in [e.fields for e in effects_of(call, SaveProfile)]
    assert call.state.step == "main_menu"
