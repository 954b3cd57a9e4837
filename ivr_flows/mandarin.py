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
    """The choice whose name or synonym was said, and whether another choice was said
    too: then the one said last wins (a caller who corrects themselves, "电工……木工",
    means the last), to be read back. A word inside a longer one said is not said
    (水电工 is not 电工, 不是 is not 是). None if no choice was said."""
    text = normalise(text).replace(" ", "")
    said = [(start, start + len(word), key) for key, words in choices.items() for word in words
            if word for start in _places(text, word)]
    alone = [(start, end, key) for start, end, key in said
             if not any(s <= start and end <= e and e - s > end - start for s, e, _ in said)]
    if not alone:
        return None
    _, _, last = max(alone, key=lambda span: (span[1], span[1] - span[0]))
    return last, len({key for _, _, key in alone}) > 1


def _places(text: str, word: str) -> list[int]:
    """Where `word` starts in `text`, each time it is said."""
    places, start = [], text.find(word)
    while start != -1:
        places.append(start)
        start = text.find(word, start + 1)
    return places
