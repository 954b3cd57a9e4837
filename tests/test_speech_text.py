"""Speech groundwork at the text and sample level: μ-law decoding and Mandarin answers."""

from __future__ import annotations

import warnings

import pytest

from ivr_flows.mandarin import normalise, parse_amount, pick, yes_or_no
from market.seed import market_data
from prompts.catalogue import load_catalogue
from speech.mulaw import TABLE, mulaw_to_pcm16


def test_mulaw_table_matches_the_standard_decoder():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the reference, still in 3.11; Gigline itself never imports it

    every_byte = bytes(range(256))
    assert mulaw_to_pcm16(every_byte) == audioop.ulaw2lin(every_byte, 2)


def test_mulaw_silence_and_extremes():
    assert TABLE[0xFF] == 0 and TABLE[0x7F] == 0  # the two zeros
    assert TABLE[0x00] == -32124 and TABLE[0x80] == 32124
    assert len(mulaw_to_pcm16(b"\xff" * 160)) == 320, "a 20 ms frame: 160 bytes -> 320"


@pytest.mark.parametrize("heard, yuan", [
    ("三 百 五", 350), ("三百五", 350), ("五百块", 500), ("一千二", 1200), ("两百", 200),
    ("三百五十元", 350), ("八十 块钱", 80), ("350", 350), ("３５０", 350), ("一万", 10000),
])
def test_amounts_as_callers_say_them(heard, yuan):
    assert parse_amount(heard) == yuan


@pytest.mark.parametrize("heard", ["", "焊工", "块", "零", "三点五"])
def test_what_is_not_an_amount(heard):
    assert parse_amount(heard) is None


@pytest.mark.parametrize("heard, answer", [
    ("是", True), ("是 的", True), ("对", True), ("好", True), ("要", True), ("接", True),
    ("行", True), ("不", False), ("不是", False), ("不 要", False), ("不行", False),
    ("嗯", None), ("焊工", None),
])
def test_yes_and_no(heard, answer):
    words = load_catalogue("zh-CN").words
    assert yes_or_no(heard, words["yes"], words["no"]) is answer


TRADES = {t["code"]: [t["name"], *t["synonyms"]] for t in market_data("yuncheng")["trades"]}


@pytest.mark.parametrize("heard, code", [
    ("焊 工", "welder"), ("电焊工", "welder"), ("电 工", "electrician"),
    ("我 是 力工", "labourer"), ("杂工", "labourer"), ("木匠", "carpenter"),
    ("送外卖", "courier"), ("月嫂", "nanny"),
])
def test_trades_by_name_or_synonym(heard, code):
    assert pick(heard, TRADES) == (code, False)


@pytest.mark.parametrize("heard, code, tied", [
    ("电 工 木 工", "carpenter", True), ("木 工 电 工", "electrician", True),
    ("电 焊 工 电 工", "electrician", True),  # corrected to a shorter word: still the last
    ("电 工 电 工", "electrician", False),  # one trade said twice
    ("焊 工 电 焊 工", "welder", False),  # two names of one trade
    ("水 电 工", "plumber", False),  # 电工 inside 水电工 is not said
])
def test_when_two_trades_are_said_the_last_wins_and_is_marked_a_tie(heard, code, tied):
    assert pick(heard, TRADES) == (code, tied)


def test_nothing_recognisable_picks_nothing():
    assert pick("天气 不错", TRADES) is None


def test_vosk_spacing_is_removed_between_han_characters_only():
    assert normalise("三 百 五 块") == "三百五块"
    assert normalise("J 101") == "J 101"
