"""What a prompt listens for when the caller speaks instead of pressing keys.

Each spoken choice maps to the value keys would have sent ("1", "*", "0"), or names an
item directly ("@welder": a trade said at any page of the trades menu). Amounts are
spoken numerals. Identifiers (ID numbers) and the read-back confirmation stay keypad-only.
A Listen is stored with the call, so the media socket knows the prompt's grammar."""

from __future__ import annotations

from dataclasses import dataclass

from basics.market_views import AreaView, MarketView, TradeView
from prompts.speech_words import SpeechWords

ITEM = "@"  # an Answer value naming a menu item rather than its key
AMOUNT_STEPS = frozenset({"wage", "wage_report", "pay_amount"})
# Keys each keyed prompt takes; (yes, no) for prompts a yes or a no answers.
KEYS = {"consent": "12", "trades_more": "12", "id_ask": "12", "review": "12", "offer": "12",
        "pay_question": "123", "offer_agent": "1", "main_menu": "12345", "hired": "12",
        "update_menu": "1234", "availability": "1234", "alert_channel": "12"}
YES_NO = {"consent": ("1", "2"), "trades_more": ("1", "2"), "id_ask": ("1", "2"),
          "review": ("1", "2"), "offer": ("1", "2"), "pay_question": ("1", "2"),
          "offer_agent": ("0", "1")}


@dataclass(frozen=True)
class Choice:
    value: str
    words: tuple[str, ...]
    label: str = ""  # read back instead of the words heard (an item's name)


@dataclass(frozen=True)
class Listen:
    choices: tuple[Choice, ...] = ()
    amount_words: tuple[str, ...] = ()  # set when the prompt asks for a number

    @property
    def grammar(self) -> list[str]:
        words = [w for choice in self.choices for w in choice.words] + list(self.amount_words)
        return list(dict.fromkeys(words))


def page_of(items: list, page: int) -> tuple[list, bool]:
    """At most 4 keys a page: 4 items, or 3 and a key that pages on."""
    if len(items) <= 4:
        return items, False
    return items[page * 3 : page * 3 + 3], True


def listen_for(step: str, page: int, district_id: int | None, market: MarketView,
               speech: SpeechWords | None) -> Listen | None:
    """None where only keys make sense (identifiers, recordings, the read-back)."""
    if speech is None:
        return None
    if step in AMOUNT_STEPS:
        return Listen(_always(speech), speech.numerals) if speech.numerals else None
    if step in KEYS:
        return Listen(_keyed(speech, step))
    items = _items(step, district_id, market, speech)
    if items is None:
        return None
    page_items, paged = page_of(items, page)
    keys = [str(i + 1) for i in range(len(page_items))] + (["4"] if paged else [])
    choices = [Choice(ITEM + item_id, words, name) for item_id, name, words in items]
    choices += [Choice(key, speech.digits.get(key, ())) for key in keys]
    return Listen(tuple(c for c in choices if c.words) + _always(speech))


def _keyed(speech: SpeechWords, step: str) -> tuple[Choice, ...]:
    yes_key, no_key = YES_NO.get(step, (None, None))
    words: dict[str, list[str]] = {}
    for key in KEYS[step]:
        words[key] = [*speech.digits.get(key, ()), *speech.menus.get(step, {}).get(key, ())]
    for key, said in ((yes_key, speech.yes), (no_key, speech.no)):
        if key is not None:
            words.setdefault(key, []).extend(said)
    choices = tuple(Choice(key, tuple(dict.fromkeys(w))) for key, w in words.items() if w)
    return tuple(c for c in choices if c.value != "0") + _always(speech, words.get("0", ()))


def _always(speech: SpeechWords, agent_too: tuple | list = ()) -> tuple[Choice, ...]:
    """Every prompt: a repeat (as *) and an agent (as 0), when the pack has the words."""
    agent = tuple(dict.fromkeys([*speech.agent, *speech.digits.get("0", ()), *agent_too]))
    return tuple(c for c in (Choice("*", speech.repeat), Choice("0", agent)) if c.words)


def _items(step: str, district_id: int | None, market: MarketView,
           speech: SpeechWords) -> list[tuple[str, str, tuple[str, ...]]] | None:
    if step == "trades":
        return [(t.code, t.name, trade_words(t)) for t in market.trades]
    if step == "district":
        areas = market.districts
    elif step == "town":
        district = market.district(district_id)
        areas = district.towns if district else ()
    else:
        return None
    return [(str(a.id), a.name, place_words(a, speech)) for a in areas]


def trade_words(trade: TradeView) -> tuple[str, ...]:
    return tuple(dict.fromkeys((trade.name, *trade.synonyms)))


def place_words(area: AreaView, speech: SpeechWords) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*speech.spoken_place(area.name), *area.synonyms)))


def market_words(market: MarketView, speech: SpeechWords) -> list[str]:
    """Every word any prompt may listen for: the pack's and the market's."""
    said = list(speech.all_words)
    said += [w for trade in market.trades for w in trade_words(trade)]
    for district in market.districts:
        for area in (district, *district.towns):
            said += place_words(area, speech)
    return list(dict.fromkeys(said))
