"""Inbound SMS, read as plain words. Opt-out and opt-in words always win over any open
question; then HELP; then an employer's answer (Y123 / N123 / 是123 / 否123); then a
worker taking a job ("1", "接", "J101", "J101 1"); anything else gets a plain answer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum

from prompts.catalogue import Catalogue

_TRAILING = " .。!！~～"
_JOB_CODE = re.compile(r"^(J\d{1,8})\s*(.*)$")
_CODED = re.compile(r"^([PR])(\d{1,9})\s*(\d)?(?:\s+(\d{1,7}))?$")  # P12 3 200, R7 5
_EMPLOYER_NOTE = re.compile(r"^(到|改|D|K)\s*(\d{1,9})(?:\s+(\d{1,3}))?$")  # 到12 改12 4
_BARE = re.compile(r"^(\d)(?:\s+(\d{1,7}))?$")  # 1, 2, 3 200, 5
_EMPLOYER = re.compile(r"^(\D{1,4}?)\s*(\d{1,10})$")


class SmsIntent(StrEnum):
    """What an inbound SMS asks for; stored with it (sms_inbox.intent)."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    EMPLOYER_ANSWER = "employer_answer"  # Y12 / N12: hire the applicant or not
    EMPLOYER_CHECK_IN = "employer_check_in"  # 到12
    EMPLOYER_CORRECT = "employer_correct"  # 改12 4: days worked
    REPORT_UNPAID = "report_unpaid"  # 欠薪
    CHECK_IN = "check_in"  # 到: the worker is at the site
    PAY_ANSWER = "pay_answer"  # P12 1
    RATING = "rating"  # R7 5
    ANSWER = "answer"  # a bare number, for whichever question is open
    ACCEPT = "accept"  # a worker takes a job
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SmsDecision:
    intent: SmsIntent
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
    text = normalise(body)
    decision = _decide(text, catalogue, hotline)
    if decision.opted_out is not None or decision.intent == SmsIntent.HELP:
        return decision
    return replace(decision, bare_hire=_yes_or_no(text, catalogue))


def _yes_or_no(word: str, catalogue: Catalogue) -> bool | None:
    """An employer's yes (hire: True) or no (False); None for neither."""
    for hire, group in ((True, "employer_yes"), (False, "employer_no")):
        if catalogue.is_word(group, word):
            return hire
    return None


def _decide(text: str, catalogue: Catalogue, hotline: str) -> SmsDecision:
    if catalogue.is_word("opt_out", text):
        return SmsDecision(SmsIntent.OPT_OUT, catalogue.text("sms_opted_out"), opted_out=True)
    if catalogue.is_word("opt_in", text):
        return SmsDecision(SmsIntent.OPT_IN, catalogue.text("sms_opted_in"), opted_out=False)
    if catalogue.is_word("help", text):
        return SmsDecision(SmsIntent.HELP, catalogue.text("sms_help", hotline=hotline))
    if employer := _EMPLOYER.match(text):
        word, number = employer.groups()
        if (hire := _yes_or_no(word, catalogue)) is not None:
            return SmsDecision(SmsIntent.EMPLOYER_ANSWER, offer_id=int(number), hire=hire)
    if note := _EMPLOYER_NOTE.match(text):
        word, number, days = note.groups()
        if word in ("到", "K"):
            return SmsDecision(SmsIntent.EMPLOYER_CHECK_IN, offer_id=int(number))
        if days is not None:
            return SmsDecision(SmsIntent.EMPLOYER_CORRECT, offer_id=int(number),
                               value=int(days))
    if catalogue.is_word("report_unpaid", text):
        return SmsDecision(SmsIntent.REPORT_UNPAID)
    if catalogue.is_word("check_in", text):
        return SmsDecision(SmsIntent.CHECK_IN)
    if coded := _CODED.match(text):
        kind, number, digit, amount = coded.groups()
        intent = SmsIntent.PAY_ANSWER if kind == "P" else SmsIntent.RATING
        return SmsDecision(intent, question_id=int(number),
                           value=None if digit is None else int(digit),
                           amount_fen=None if amount is None else int(amount) * 100)
    if bare := _BARE.match(text):
        digit, amount = bare.groups()
        return SmsDecision(SmsIntent.ANSWER, value=int(digit),
                           amount_fen=None if amount is None else int(amount) * 100)
    if job := _JOB_CODE.match(text):
        code, rest = job.groups()
        if not rest or catalogue.is_word("accept", rest):
            return SmsDecision(SmsIntent.ACCEPT, job_code=code)
    if catalogue.is_word("accept", text):
        return SmsDecision(SmsIntent.ACCEPT)
    return SmsDecision(SmsIntent.UNKNOWN, catalogue.text("sms_unknown", hotline=hotline))
