"""SMS text as a worker reads it: a job code or worker number never runs into a date
("J1 12月5日", not "J112月5日")."""

from __future__ import annotations

import re

import pytest

from ivr_flows.catalogue import load_catalogue

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

