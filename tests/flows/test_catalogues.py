"""Every catalogue says everything the flows need, with the same placeholders."""

import string

import pytest

from ivr_flows.catalogue import UnknownLanguage, load_catalogue

LANGUAGES = ["zh-CN", "en"]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_prompts_and_placeholders():
    zh, en = (load_catalogue(lang) for lang in LANGUAGES)
    assert zh.prompts.keys() == en.prompts.keys()
    for key in zh.prompts:
        assert placeholders(zh.prompts[key]) == placeholders(en.prompts[key]), key
    assert zh.words.keys() == en.words.keys()


@pytest.mark.parametrize("language", LANGUAGES)
def test_opt_out_words_always_include_the_carriers_and_chinese_ones(language):
    words = {w.upper() for w in load_catalogue(language).words["opt_out"]}
    assert {"STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD", "T"} <= words


LONG_VALUES = {"number": "123456", "hotline": "0359 212 3456", "trade": "搬运装卸",
               "place": "城东街道", "start": "12月25日07:00", "wage": "1000元", "code": "J12345",
               "days": 30, "offers": "J12345、J12346、J12347、J12348", "example": "J12345",
               "worker": "工号000123", "record": "做过12次", "offer": 123456,
               "address": "盐湖区河东东街安居小区三号楼工地", "pay": "完工结清",
               "amount": "12500元", "period": "11月25日-12月24日", "check": 123456,
               "workers": 12, "deadline": "12月28日", "questions": "J12345、P123456、R123456",
               "rating": 123456, "case": 12345}


def test_alerts_fit_one_ucs2_segment_and_other_sms_two():
    zh = load_catalogue("zh-CN")
    for key, text in zh.prompts.items():
        if key.startswith("sms_"):
            rendered = text.format(**{k: LONG_VALUES[k] for k in placeholders(text)})
            limit = 70 if key in ("sms_alert", "sms_opted_out", "sms_registered") else 134
            assert len(rendered) <= limit, (key, len(rendered))


def test_unknown_language_is_a_clear_error():
    with pytest.raises(UnknownLanguage):
        load_catalogue("xx")
