"""Every catalogue says everything the flows need, with the same placeholders."""

import string

import pytest

from prompts.catalogue import UnknownLanguage, load_catalogue

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


def test_unknown_language_is_a_clear_error():
    with pytest.raises(UnknownLanguage):
        load_catalogue("xx")
