"""SMS text as a worker reads it: one segment each (70 UCS-2 characters) at the longest
values it can carry, and a job code or worker number never runs into a date ("J1 12月5日",
not "J112月5日")."""

from __future__ import annotations

import re

import pytest

from basics.phones import spoken_number
from market.seed import market_data
from prompts.catalogue import SMS_SEGMENT, load_catalogue

CATALOGUE = load_catalogue("zh-CN")
DATE = CATALOGUE.text("date", month=12, day=5)
VALUES = {"code": "J1", "worker": "工号000012", "period": DATE, "amount": CATALOGUE.yuan(50000),
          "check": 7, "deadline": DATE, "offer": 3, "trade": "焊工", "start": DATE + "07:00",
          "address": "河东东街88号工地", "wage": CATALOGUE.yuan(50000), "days": 2,
          "pay": CATALOGUE.text("pay_daily"), "place": "北城街道", "record": "新工人"}


@pytest.mark.parametrize("prompt_id", sorted(
    p for p, text in CATALOGUE.prompts.items() if p.startswith("sms_")
    and re.search(r"\{(code|worker)\}", text) and re.search(r"\{(period|start|deadline)\}", text)))
def test_a_code_or_worker_number_never_runs_into_a_date(prompt_id):
    names = set(re.findall(r"\{(\w+)\}", CATALOGUE.prompts[prompt_id]))
    text = CATALOGUE.text(prompt_id, **{name: VALUES[name] for name in names})
    assert not re.search(r"(J\d+|工号\d+)\d+月", text), text



# The longest names in the market data, the largest amounts the API takes, and ids of a
# market that has run for years (seven digits): every SMS must still be one segment.
MARKET = market_data("yuncheng")
LONGEST_TRADE = max((t["name"] for t in MARKET["trades"]), key=len)
LONGEST_TOWN = max((t["name"] for d in MARKET["districts"] for t in d["towns"]), key=len)
LONGEST_ADDRESS = max([j["address"] for j in MARKET["demo"]["jobs"]]
                      + [MARKET["demo"]["employer"]["address"]], key=len)
LONGEST_EMPLOYER = MARKET["demo"]["employer"]["name"]
ID = 1234567
LAST_DATE = CATALOGUE.text("date", month=12, day=25)
WORST = {
    "number": f"{ID:06d}", "hotline": spoken_number(MARKET["market"]["hotline_number"]),
    "trade": LONGEST_TRADE, "place": LONGEST_TOWN, "address": LONGEST_ADDRESS,
    "employer": LONGEST_EMPLOYER, "phone": "139 0000 0002",
    "start": LAST_DATE + "07:00", "deadline": LAST_DATE,
    "period": f"{LAST_DATE}-{CATALOGUE.text('date', month=12, day=31)}",
    "pay": CATALOGUE.text("pay_at_end"),
    "wage": CATALOGUE.yuan(999_999), "amount": CATALOGUE.yuan(999_999_999), "days": 365,
    "code": f"J{ID}", "next": f"J{ID}", "example": f"J{ID}", "worker": f"工号{ID:06d}",
    "offer": ID, "check": ID, "rating": ID, "case": ID, "workers": 500,
    "offers": CATALOGUE.join([f"J{ID}"] * 4),
    "questions": CATALOGUE.join([f"J{ID}", f"P{ID}", f"R{ID}", f"R{ID}"]),
    "record": CATALOGUE.text("worker_record", jobs=999)
    + CATALOGUE.text("worker_rating", stars="4.5"),
}
SMS_PROMPTS = sorted(p for p, text in CATALOGUE.prompts.items()
                     if p.startswith("sms_") or text.startswith("【零工热线】"))


def test_every_sms_prompt_is_a_whole_message():
    """No fragment is glued onto another SMS (that is how one grew past a segment)."""
    assert len(SMS_PROMPTS) > 30
    for prompt_id in SMS_PROMPTS:
        assert CATALOGUE.prompts[prompt_id].startswith("【零工热线】"), prompt_id


@pytest.mark.parametrize("prompt_id", SMS_PROMPTS)
def test_every_sms_fits_one_segment_at_its_longest(prompt_id):
    names = set(re.findall(r"\{(\w+)\}", CATALOGUE.prompts[prompt_id]))
    text = CATALOGUE.text(prompt_id, **{name: WORST[name] for name in names})
    assert len(text) <= SMS_SEGMENT, (len(text), text)


@pytest.mark.parametrize("prompt_id, field", [("sms_worker_hired_place", "address"),
                                               ("sms_worker_hired_employer", "employer")])
def test_typed_in_text_of_any_length_is_split_into_whole_segments(prompt_id, field):
    long_text = "".join(chr(0x4E00 + n % 500) for n in range(500))  # the API's longest
    names = set(re.findall(r"\{(\w+)\}", CATALOGUE.prompts[prompt_id])) - {field}
    parts = CATALOGUE.fit(prompt_id, field, long_text, **{n: WORST[n] for n in names})
    assert len(parts) > 1 and all(len(part) <= SMS_SEGMENT for part in parts)
    before, after = (piece.format(**{n: WORST[n] for n in names})
                     for piece in CATALOGUE.prompts[prompt_id].split("{" + field + "}"))
    assert all(part.startswith(before) and part.endswith(after) for part in parts)
    carried = "".join(part[len(before):len(part) - len(after)] for part in parts)
    assert carried == long_text, "every character arrives, in order"
