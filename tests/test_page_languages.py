"""The staff's pages speak Chinese first and English on request, from one catalogue per
language: every text a template or the code asks for exists in both, with the same
placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from console.vocabulary import VOCABULARIES
from prompts.catalogue import PAGE_LANGUAGES, load_page_text

ROOT = Path(__file__).resolve().parent.parent
ASKED = re.compile(r"""\bt\(\s*["']([a-zA-Z_.\-]*[a-zA-Z_])["']""")

def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}

def test_both_catalogues_hold_the_same_texts_with_the_same_placeholders():
    chinese, english = (load_page_text(language) for language in PAGE_LANGUAGES)
    assert chinese.texts.keys() == english.texts.keys()
    assert all(f"language.{code}" in chinese.texts for code in PAGE_LANGUAGES)
    for key in chinese.texts:
        assert _placeholders(chinese.texts[key]) == _placeholders(english.texts[key]), key

def test_every_text_a_template_asks_for_is_in_the_catalogue():
    texts = load_page_text("zh-CN").texts
    asked = {key for page in (ROOT / "console" / "templates").glob("*.html")
             for key in ASKED.findall(page.read_text(encoding="utf-8"))}
    assert asked and not asked - texts.keys()

def test_no_console_template_but_the_halls_board_writes_chinese_itself():
    han = re.compile(r"[\u4e00-\u9fff]")
    for page in (ROOT / "console" / "templates").glob("*.html"):
        if page.name != "board.html":
            assert not han.search(page.read_text(encoding="utf-8")), page.name

WORD = re.compile(r"""\bword\(\s*["']([a-z_]+)["']""")

def test_every_stored_code_a_page_shows_is_said_in_both_languages():
    for language in PAGE_LANGUAGES:
        texts = load_page_text(language).texts
        for vocabulary, codes in VOCABULARIES.items():
            for code in codes:
                assert f"word.{vocabulary}.{code}" in texts, (language, vocabulary, code)
    said = {key.split(".")[1] for key in load_page_text("zh-CN").texts if key.startswith("word.")}
    assert said == VOCABULARIES.keys()

def test_every_vocabulary_a_template_names_exists():
    named = {name for page in (ROOT / "console" / "templates").glob("*.html")
             for name in WORD.findall(page.read_text(encoding="utf-8"))}
    assert named and not named - VOCABULARIES.keys()

def test_a_code_said_in_each_language_and_an_unknown_one_shown_as_itself():
    chinese, english = (load_page_text(language) for language in PAGE_LANGUAGES)
    assert chinese.word("verification", "verified") == "已核验"
    assert english.word("verification", "verified") == "verified"
    assert chinese.word("offer", "accepted") != chinese.word("hire", "confirmed")
    assert chinese.word("case", "some_future_status") == "some_future_status"
    assert chinese.word("availability", None) == ""

def test_no_template_writes_a_text_call_outside_its_braces():
    # an attribute written placeholder=t("…") would show the call itself to the agent
    inside_braces = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
    for page in (ROOT / "console" / "templates").glob("*.html"):
        outside = inside_braces.sub("", page.read_text(encoding="utf-8"))
        assert not re.search(r"""\b(t|word)\(["']""", outside), page.name
