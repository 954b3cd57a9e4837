"""Prompt catalogues: text lives in JSON files keyed by id, never in code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Characters in one SMS segment when the text is UCS-2, as any Chinese text is.
SMS_SEGMENT = 70


class UnknownLanguage(LookupError):
    pass


@dataclass(frozen=True)
class Catalogue:
    language: str
    say_language: str
    prompts: dict[str, str]
    words: dict[str, list[str]]
    digit_names: tuple[str, ...]
    list_separator: str

    def text(self, prompt_id: str, **params: object) -> str:
        return self.prompts[prompt_id].format(**params)

    def fit(self, prompt_id: str, field: str, value: str, *, limit: int = SMS_SEGMENT,
            **params: object) -> list[str]:
        """The prompt once per piece of `value`, cut so that each message fits `limit`:
        free text typed by people (an address, a name) has no length a template can
        promise."""
        room = limit - len(self.text(prompt_id, **{field: ""}, **params))
        if room < 1:
            raise ValueError(f"{prompt_id} leaves no room for its {field}")
        pieces = [value[i:i + room] for i in range(0, len(value), room)] or [""]
        return [self.text(prompt_id, **{field: piece}, **params) for piece in pieces]

    def digits(self, value: str) -> str:
        """Identifiers are read digit by digit: 000123 -> 零 零 零 一 二 三."""
        return " ".join(self.digit_names[int(c)] if c.isdigit() else c for c in value)

    def yuan(self, fen: int) -> str:
        """Money is read as an amount: 50000 fen -> 500元."""
        return self.text("yuan", amount=_amount(fen))

    def join(self, items: list[str]) -> str:
        return self.list_separator.join(items)

    def is_word(self, group: str, text: str) -> bool:
        normalised = text.strip().upper()
        return any(normalised == w.upper() for w in self.words[group])


def _amount(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


def _read(name: str) -> dict:
    try:
        raw = resources.files(__package__).joinpath(f"catalogues/{name}.json").read_text(
            encoding="utf-8"
        )
    except FileNotFoundError:
        raise UnknownLanguage(name) from None
    return json.loads(raw)


@cache
def load_catalogue(language: str) -> Catalogue:
    data = _read(language)
    return Catalogue(
        language=data["language"],
        say_language=data["say_language"],
        prompts=data["prompts"],
        words=data["words"],
        digit_names=tuple(data["digits"]),
        list_separator=data["list_separator"],
    )


# The staff's pages speak these, the first by default.
PAGE_LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class PageText:
    """What the staff's pages say in one language: labels, messages and the rules'
    refusals, keyed by id like the callers' prompts."""

    language: str
    texts: dict[str, str]

    def text(self, key: str, **params: object) -> str:
        return self.texts[key].format(**params)

    def yuan(self, fen: int) -> str:
        return self.text("common.yuan", amount=_amount(fen))

    def word(self, vocabulary: str, code: str | None) -> str:
        """A stored code (a status, a channel, a reason) as the pages say it; a code the
        catalogue does not know yet (a row older than its vocabulary) shows as itself."""
        if code is None:
            return ""
        return self.texts.get(f"word.{vocabulary}.{code}", code)


@cache
def load_page_text(language: str) -> PageText:
    if language not in PAGE_LANGUAGES:
        raise UnknownLanguage(language)
    data = _read(f"pages.{language}")
    return PageText(language=data["language"], texts=data["texts"])
