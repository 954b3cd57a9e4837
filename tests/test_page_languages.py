"""The staff's pages speak Chinese first and English on request, from one catalogue per
language: every text a template or the code asks for exists in both, with the same
placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

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
