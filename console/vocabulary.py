"""The small vocabularies the market's rows hold (statuses, channels, reasons) and that
the pages show: each code is said from the page-text catalogue as `word.<vocabulary>.<code>`,
so a status reads "已验证" or "verified" by the browser's language, never as a bare code."""

from __future__ import annotations

from market.cases import REFERRALS, CaseAction
from store.statuses import (
    Availability,
    CallStatus,
    CaseStatus,
    Channel,
    HireStatus,
    JobStatus,
    OfferChannel,
    OfferStatus,
    PayCheckStatus,
    Role,
    Verification,
    WorkerStatus,
)

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "worker": tuple(WorkerStatus),
    "availability": tuple(Availability),
    "alert_channel": tuple(Channel),
    "verification": tuple(Verification),
    "job": tuple(JobStatus),
    "offer": tuple(OfferStatus),
    "offer_channel": tuple(OfferChannel),
    "hire": tuple(HireStatus),
    "pay": tuple(PayCheckStatus),
    "case": tuple(CaseStatus),
    # a case's history: the agents' actions and the two events the rules write themselves
    "case_event": (*CaseAction, "opened", "worker_added"),
    "referral": REFERRALS,
    # who opened a case (market.cases); a history row's actor is one of these or an agent's
    # name, which no vocabulary holds and so shows as itself
    "opened_by": ("auto", "worker_call", "worker_sms"),
    "call": tuple(CallStatus),
    "call_direction": ("inbound", "outbound"),
    "sms_direction": ("in", "out"),
    "contact": ("call_in", "call_out", "sms_in", "sms_out"),
    # why a caller waits for a callback (ivr_flows.turn.reach_agent, gigline.outage)
    "callback": ("caller_asked", "hidden_number", "repeated_failures", "database_down"),
    "role": tuple(Role),
}
