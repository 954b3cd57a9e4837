"""Inbound SMS: opt-out and opt-in words always win; HELP gets the hotline; anything
else gets a short plain answer, never silence."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ivr_flows.catalogue import Catalogue

_TRAILING = " .。!！~～"


@dataclass(frozen=True)
class SmsDecision:
    intent: str  # opt_out | opt_in | help | unknown
    reply: str
    opted_out: bool | None  # the new opt-out state, None if unchanged


def normalise(body: str) -> str:
    """Full-width letters and digits to plain ones, spaces and trailing marks trimmed."""
    return unicodedata.normalize("NFKC", body).strip().strip(_TRAILING).upper()


def decide(body: str, catalogue: Catalogue, hotline: str) -> SmsDecision:
    text = normalise(body)
    if catalogue.is_word("opt_out", text):
        return SmsDecision("opt_out", catalogue.text("sms_opted_out"), True)
    if catalogue.is_word("opt_in", text):
        return SmsDecision("opt_in", catalogue.text("sms_opted_in"), False)
    if catalogue.is_word("help", text):
        return SmsDecision("help", catalogue.text("sms_help", hotline=hotline), None)
    return SmsDecision("unknown", catalogue.text("sms_unknown", hotline=hotline), None)
