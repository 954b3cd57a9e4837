"""What Vosk's Mandarin model heard, turned into the answers keys would give.

Vosk prints words separated by spaces ("三 百 五" / "焊 工") and numbers as Chinese
numerals; callers add words like 块 or 是的. Everything here is text in, answer out."""

from __future__ import annotations

import re
import unicodedata

import cn2an

# Said after an amount: 五百块, 三百五十元, 一千块钱.
_UNITS = re.compile(r"(块钱|块|元钱|元|钱|左右|吧|啊)+$")
_SPACES_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def normalise(text: str) -> str:
    """Full-width forms folded, Vosk's spaces between characters removed."""
    text = unicodedata.normalize("NFKC", text).strip()
    return _SPACES_BETWEEN_HAN.sub("", text)


def parse_amount(text: str) -> int | None:
    """A whole number of yuan from "三百五", "五百块", "一千二", "350"; None if not one."""
    text = _UNITS.sub("", normalise(text).replace(" ", ""))
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError):
        return None
    return int(value) if float(value).is_integer() and value > 0 else None


def yes_or_no(text: str, yes_words: list[str], no_words: list[str]) -> bool | None:
    """True, False, or None when neither was said. "不是" is a no, though it holds 是."""
    text = normalise(text).replace(" ", "")
    for answer, words in ((False, no_words), (True, yes_words)):
        if any(text.startswith(word) for word in sorted(words, key=len, reverse=True)):
            return answer
    return None


def pick(text: str, choices: dict[str, list[str]]) -> tuple[str, bool] | None:
    """The choice whose name or synonym was said (the longest one heard wins: 电焊工 is
    焊工, not 电工), and whether another choice was said as fully: then the one said last
    wins (a caller who corrects themselves, "电工……木工", means the last), to be read
    back. None if no choice was said."""
    text = normalise(text).replace(" ", "")
    heard = [(len(word), text.rfind(word), key) for key, words in choices.items()
             for word in words if word and word in text]
    if not heard:
        return None
    best = max(length for length, _, _ in heard)
    longest = [(at, key) for length, at, key in heard if length == best]
    return max(longest)[1], len({key for _, key in longest}) > 1
