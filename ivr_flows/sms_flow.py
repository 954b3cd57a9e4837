"""Inbound SMS, read as plain words. Opt-out and opt-in words always win over any open
question; then HELP; then an employer's answer (Y123 / N123 / 是123 / 否123); then a
worker taking a job ("1", "接", "J101", "J101 1"); anything else gets a plain answer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from prompts.catalogue import Catalogue

_TRAILING = " .。!！~～"
_JOB_CODE = re.compile(r"^(J\d{1,8})\s*(.*)$")
_CODED = re.compile(r"^([PR])(\d{1,9})\s*(\d)?(?:\s+(\d{1,7}))?$")  # P12 3 200, R7 5
_EMPLOYER_NOTE = re.compile(r"^(到|改|D|K)\s*(\d{1,9})(?:\s+(\d{1,3}))?$")  # 到12 改12 4
_BARE = re.compile(r"^(\d)(?:\s+(\d{1,7}))?$")  # 1, 2, 3 200, 5
_EMPLOYER = re.compile(r"^(\D{1,4}?)\s*(\d{1,10})$")


@dataclass(frozen=True)
class SmsDecision:
    # opt_out | opt_in | help | employer_answer | accept | pay_answer | rating | answer
    # (a bare number for whichever question is open) | report_unpaid | check_in |
    # employer_check_in (到12) | employer_correct (改12 4: days worked) | unknown
    intent: str
    reply: str = ""  # the answer when no market rule has to look first
    opted_out: bool | None = None  # the new opt-out state, None if unchanged
    job_code: str | None = None  # accept: the job named, None for "the one open"
    offer_id: int | None = None  # employer_answer: which application
    hire: bool | None = None  # employer_answer: yes or no
    question_id: int | None = None  # pay_answer: the pay check; rating: the rating
    value: int | None = None  # pay_answer 1 yes 2 no 3 partly; rating 0-5; answer: the digit
    amount_fen: int | None = None  # partly paid: what was received
    # A bare yes or no (Y, 是, 好, N, 不要 …): an employer's answer to their one waiting
    # request if they have one; otherwise the text is read as `intent` says.
    bare_hire: bool | None = None


def normalise(body: str) -> str:
    """Full-width letters and digits to plain ones, spaces and trailing marks trimmed."""
    return unicodedata.normalize("NFKC", body).strip().strip(_TRAILING).upper()


def decide(body: str, catalogue: Catalogue, hotline: str) -> SmsDecision:
    decision = _decide(normalise(body), catalogue, hotline)
    if decision.opted_out is not None or decision.intent == "help":
        return decision
    text = normalise(body)
    for hire, group in ((True, "employer_yes"), (False, "employer_no")):
        if catalogue.is_word(group, text):
            return replace(decision, bare_hire=hire)
    return decision


def _decide(text: str, catalogue: Catalogue, hotline: str) -> SmsDecision:
    if catalogue.is_word("opt_out", text):
        return SmsDecision("opt_out", catalogue.text("sms_opted_out"), opted_out=True)
    if catalogue.is_word("opt_in", text):
        return SmsDecision("opt_in", catalogue.text("sms_opted_in"), opted_out=False)
    if catalogue.is_word("help", text):
        return SmsDecision("help", catalogue.text("sms_help", hotline=hotline))
    if employer := _EMPLOYER.match(text):
        word, number = employer.groups()
        for hire, group in ((True, "employer_yes"), (False, "employer_no")):
            if catalogue.is_word(group, word):
                return SmsDecision("employer_answer", offer_id=int(number), hire=hire)
    if note := _EMPLOYER_NOTE.match(text):
        word, number, days = note.groups()
        if word in ("到", "K"):
            return SmsDecision("employer_check_in", offer_id=int(number))
        if days is not None:
            return SmsDecision("employer_correct", offer_id=int(number), value=int(days))
    if catalogue.is_word("report_unpaid", text):
        return SmsDecision("report_unpaid")
    if catalogue.is_word("check_in", text):
        return SmsDecision("check_in")
    if coded := _CODED.match(text):
        kind, number, digit, amount = coded.groups()
        return SmsDecision("pay_answer" if kind == "P" else "rating", question_id=int(number),
                           value=None if digit is None else int(digit),
                           amount_fen=None if amount is None else int(amount) * 100)
    if bare := _BARE.match(text):
        digit, amount = bare.groups()
        return SmsDecision("answer", value=int(digit),
                           amount_fen=None if amount is None else int(amount) * 100)
    if job := _JOB_CODE.match(text):
        code, rest = job.groups()
        if not rest or catalogue.is_word("accept", rest):
            return SmsDecision("accept", job_code=code)
    if catalogue.is_word("accept", text):
        return SmsDecision("accept")
    return SmsDecision("unknown", catalogue.text("sms_unknown", hotline=hotline))
