"""A speech language pack: the words a caller may say instead of pressing a key.

Packs are data (prompts/speech_packs/<language>.json), in one format for every language: the
Mandarin pack is what production uses, the Korean one is the test pack for the only Vosk
model installable here. Trades and towns are not in the pack: they come, with their
synonyms, from the market's data, the same data the menus read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


class UnknownSpeechPack(LookupError):
    pass


@dataclass(frozen=True)
class SpeechWords:
    language: str
    confirm_below: float  # a speech answer heard with less confidence is read back first
    digits: dict[str, tuple[str, ...]]  # key -> words
    yes: tuple[str, ...]
    no: tuple[str, ...]
    repeat: tuple[str, ...]
    agent: tuple[str, ...]
    numerals: tuple[str, ...]  # what spoken amounts are made of (empty: amounts by keys)
    menus: dict[str, dict[str, tuple[str, ...]]]  # prompt -> key -> words
    place_suffixes: tuple[str, ...]  # 东郭镇 may be said 东郭

    @property
    def all_words(self) -> tuple[str, ...]:
        """Every word of the pack (the market's trades and places are not in it)."""
        said = [*self.yes, *self.no, *self.repeat, *self.agent, *self.numerals]
        said += [w for keys in self.digits.values() for w in keys]
        said += [w for menu in self.menus.values() for keys in menu.values() for w in keys]
        return tuple(dict.fromkeys(said))

    def spoken_place(self, name: str) -> tuple[str, ...]:
        """A place's name and its name without a suffix (东郭镇, 东郭)."""
        short = next((name[: -len(s)] for s in self.place_suffixes
                      if name.endswith(s) and len(name) > len(s) + 1), None)
        return (name, short) if short else (name,)


@cache
def load_speech_words(language: str) -> SpeechWords:
    try:
        raw = resources.files(__package__).joinpath(f"speech_packs/{language}.json").read_text(
            encoding="utf-8")
    except FileNotFoundError:
        raise UnknownSpeechPack(f"no speech pack for {language!r}") from None
    data = json.loads(raw)
    return SpeechWords(
        language=data["language"],
        confirm_below=float(data["confirm_below"]),
        digits={key: tuple(words) for key, words in data["digits"].items()},
        yes=tuple(data["yes"]),
        no=tuple(data["no"]),
        repeat=tuple(data["repeat"]),
        agent=tuple(data["agent"]),
        numerals=tuple(data["numerals"]),
        menus={prompt: {key: tuple(words) for key, words in keys.items()}
               for prompt, keys in data["menus"].items()},
        place_suffixes=tuple(data["place_suffixes"]),
    )
