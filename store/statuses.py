"""The words the market's tables hold for statuses and other small vocabularies. Each
member is the very string stored (a StrEnum member is a str), so a row written as
"active" and a row written as WorkerStatus.ACTIVE are the same row, and no migration
is needed to name them here."""

from __future__ import annotations

from enum import StrEnum


class WorkerStatus(StrEnum):
    REGISTERING = "registering"  # consented, profile not complete
    ACTIVE = "active"


class Availability(StrEnum):
    """When a worker can start, as they said on the phone."""

    TODAY = "today"
    TOMORROW = "tomorrow"
    WEEK = "week"
    NOT_NOW = "not_now"  # not looking for work: no alerts


class Channel(StrEnum):
    """How a message reaches a phone: a worker's alert preference (None until asked:
    SMS) and an outbox row's way out (a call's body is the URL fetched on answer)."""

    SMS = "sms"
    CALL = "call"  # an automated call, for workers who cannot read


class Verification(StrEnum):
    """An employer as agents checked it: only verified employers' jobs are offered."""

    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    BLACKLISTED = "blacklisted"


class AreaKind(StrEnum):
    DISTRICT = "district"  # 区/县
    TOWN = "town"  # 镇/街道, inside a district


class JobStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class OfferStatus(StrEnum):
    """offered -> accepted (holds a slot) -> confirmed by the employer (a Hire) |
    declined | released (the employer never answered); cancelled with the job."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    RELEASED = "released"
    CANCELLED = "cancelled"


# An accepted or confirmed offer holds a slot of its line and the worker's days.
HOLDING_A_SLOT = (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED)


class OfferChannel(StrEnum):
    """How an offer was taken."""

    CALL_IN = "call_in"  # the worker called the hotline and heard it
    SMS = "sms"
    ALERT_CALL = "alert_call"  # answered an automated alert call


class HireStatus(StrEnum):
    CONFIRMED = "confirmed"
    STARTED = "started"
    FINISHED = "finished"  # the last pay period's question was asked
    PAID = "paid"
    UNPAID = "unpaid"
    CANCELLED = "cancelled"


# A hire whose work is still to do or under way.
UNDER_WAY = (HireStatus.CONFIRMED, HireStatus.STARTED)


class StartedBy(StrEnum):
    WORKER = "worker"  # checked in
    EMPLOYER = "employer"  # checked the worker in
    ASSUMED = "assumed"  # the start time passed with no word from either


class PayCheckStatus(StrEnum):
    DUE = "due"
    ASKED = "asked"
    PAID = "paid"
    UNPAID = "unpaid"
    PARTLY = "partly"
    UNANSWERED = "unanswered"  # asked as often as the rules allow
    CANCELLED = "cancelled"  # a day not worked


# Still waiting for the worker's answer.
AWAITING_ANSWER = (PayCheckStatus.DUE, PayCheckStatus.ASKED)
# Answered "not paid in full".
NOT_PAID_IN_FULL = (PayCheckStatus.UNPAID, PayCheckStatus.PARTLY)


class ReminderKind(StrEnum):
    ASSUME_STARTED = "assume_started"
    EMPLOYER_PAY_DUE = "employer_pay_due"
    PAY_QUESTION = "pay_question"
    CASE_CHECK = "case_check"
    RATING = "rating"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    MISSED = "missed"  # fell due while Gigline was down for longer than the late window
    CANCELLED = "cancelled"


class Rater(StrEnum):
    """Who rates whom after a hire: each side rates the other."""

    WORKER = "worker"
    EMPLOYER = "employer"


class CaseStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    MEDIATION = "mediation"
    REFERRED = "referred"
    RECOVERED = "recovered"
    CLOSED = "closed"


# A case a worker's report joins and that holds its employer's alerts.
CASE_OPEN = (CaseStatus.OPEN, CaseStatus.ASSIGNED, CaseStatus.CONTACTED,
             CaseStatus.MEDIATION, CaseStatus.REFERRED)


class CallStatus(StrEnum):
    """A call: queued or ringing at the carrier, in progress (a session's status from its
    first turn), then how it ended. Each carrier's channel maps its words to these."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def ended(self) -> bool:
        return self in ENDED_CALLS


ENDED_CALLS = frozenset({CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED,
                         CallStatus.NO_ANSWER, CallStatus.CANCELED})


class CallbackStatus(StrEnum):
    OPEN = "open"  # an agent is to call the phone back
    DONE = "done"  # called back; the agent's note says what came of it


class OutboxStatus(StrEnum):
    """An outbox row. Ours first: pending | claimed (in flight) | unknown (the carrier's
    answer never came: ask it before sending again) | suppressed (opted out); then the
    carrier's, once it has the message, which only move forward (hotline.sender)."""

    PENDING = "pending"
    CLAIMED = "claimed"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    QUEUED = "queued"
    ACCEPTED = "accepted"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"


class Role(StrEnum):
    """What a member of staff may do. A supervisor may do all an agent may, and besides
    verify or blacklist employers, clear holds, manage agents and read the audit log."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"

    def allows(self, needed: Role) -> bool:
        return self is Role.SUPERVISOR or needed is Role.AGENT
