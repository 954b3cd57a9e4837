"""The market's tables. Times are UTC; money is integer fen; phones are E.164."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    Date,
    Double,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.statuses import (
    CallbackStatus,
    CallStatus,
    CaseStatus,
    Channel,
    HireStatus,
    JobStatus,
    OfferStatus,
    OutboxStatus,
    PayCheckStatus,
    ReminderStatus,
    Role,
    Verification,
    WorkerStatus,
)
from store.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict: JSON, list: JSON}


class Market(Base):
    __tablename__ = "markets"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    hotline_number: Mapped[str] = mapped_column(String(20))


class Area(Base):
    """A district (区/县) or a town (镇/街道) inside one; towns carry coordinates."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    kind: Mapped[str] = mapped_column(String(16))  # AreaKind
    name: Mapped[str] = mapped_column(String(64))
    synonyms: Mapped[list] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (UniqueConstraint("market_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(32))
    synonyms: Mapped[list] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)


class WorkerTrade(Base):
    __tablename__ = "worker_trades"
    __table_args__ = (
        # A trade's workers: (trade_id, worker_id) covers that lookup.
        Index("ix_worker_trades_trade_worker", "trade_id", "worker_id"),
        # A trade's workers in one town, best ranked first: matching reads the top of
        # each town within the job's reach and no further (market.matching.match_line).
        Index("ix_worker_trades_match", "trade_id", "town_id", "match_rank", "worker_id"),
    )
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), primary_key=True, index=True)
    # The worker's town_id and match_rank, copied by the database's triggers (migration
    # 0010) whenever the row is inserted or the worker's town or rank changes: written by
    # no one else, and never out of step with the worker.
    town_id: Mapped[int | None]
    match_rank: Mapped[float | None] = mapped_column(Double)


# The part of market.matching's score that is the worker's own (reliability plus the
# priority group), written with the same operations; kept by the database as the row
# changes, so whoever updates a worker keeps it right without knowing of it.
MATCH_RANK_SQL = (
    "(CASE WHEN jobs_completed < 10 THEN jobs_completed ELSE 10 END) * 2 - no_shows * 10"
    " + CASE WHEN rating_avg IS NULL THEN 0 ELSE (rating_avg - 3) * 5 END"
    " + CASE WHEN priority_group THEN 15 ELSE 0 END"
)


class Worker(Base):
    __tablename__ = "workers"
    __table_args__ = (
        Index("ix_workers_match", "status", "town_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=WorkerStatus.REGISTERING)
    name: Mapped[str | None] = mapped_column(String(64))  # typed in by an agent
    name_recording_url: Mapped[str | None] = mapped_column(Text)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number_last4: Mapped[str | None] = mapped_column(String(4))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    day_wage_fen: Mapped[int | None] = mapped_column(BigInteger)
    availability: Mapped[str | None] = mapped_column(String(16))  # Availability
    available_from: Mapped[date | None] = mapped_column(Date)
    priority_group: Mapped[bool] = mapped_column(Boolean, default=False)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)  # seeded by the demo market
    # Channel (a call for workers who cannot read); None until asked: alerts then go by SMS
    alert_channel: Mapped[str | None] = mapped_column(String(8))
    jobs_completed: Mapped[int] = mapped_column(default=0)
    no_shows: Mapped[int] = mapped_column(default=0)
    rating_avg: Mapped[float | None]
    # days since 1970-01-01 of the last hire: integer maths ranks fairly on any database
    last_hired_day: Mapped[int | None]
    # Stored; on SQLite migration 0008 adds it virtual (ALTER TABLE cannot add a stored
    # column there). Copied to the worker's trades (WorkerTrade.match_rank).
    match_rank: Mapped[float] = mapped_column(Double, Computed(MATCH_RANK_SQL, persisted=True))
    consent_at: Mapped[datetime | None]
    consent_call_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    registered_at: Mapped[datetime | None]
    trades: Mapped[list[Trade]] = relationship(secondary="worker_trades", lazy="raise")


class Employer(Base):
    __tablename__ = "employers"
    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    address: Mapped[str] = mapped_column(Text, default="")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    verification: Mapped[str] = mapped_column(String(16), default=Verification.UNVERIFIED)
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verification_note: Mapped[str | None] = mapped_column(Text)  # what the agent checked
    # An open rights case holds the employer's alerts until an agent clears it.
    alerts_held: Mapped[bool] = mapped_column(Boolean, default=False)
    rating_avg: Mapped[float | None]
    created_at: Mapped[datetime]


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.OPEN)
    start_at: Mapped[datetime]
    days: Mapped[int]
    end_at: Mapped[datetime]  # start_at + days: overlapping hires are found by range
    daily_pay: Mapped[bool] = mapped_column(Boolean, default=False)  # 日结
    town_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    address: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    # when the waves sweep next looks at this job; None once no more waves are due
    next_wave_at: Mapped[datetime | None] = mapped_column(index=True)
    waves_sent: Mapped[int] = mapped_column(default=0)
    lines: Mapped[list[JobLine]] = relationship(back_populates="job", lazy="raise")


class JobLine(Base):
    """One trade of a job: 4 welders at ¥500 and 2 helpers at ¥200 are two lines."""

    __tablename__ = "job_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), index=True)
    headcount: Mapped[int]
    filled: Mapped[int] = mapped_column(default=0)
    day_wage_fen: Mapped[int] = mapped_column(BigInteger)
    job: Mapped[Job] = relationship(back_populates="lines", lazy="raise")


class Offer(Base):
    """A job put to a worker (through one of its lines), at most once per job and worker.

    Its status is an OfferStatus: an accepted offer holds a slot (filled counts it)."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("job_line_id", "worker_id"),
        UniqueConstraint("job_id", "worker_id"),
        Index("ix_offers_hold", "status", "alert_hold_until"),
        Index("ix_offers_employer_wait", "status", "employer_asked_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    job_line_id: Mapped[int] = mapped_column(ForeignKey("job_lines.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.OFFERED)
    channel: Mapped[str] = mapped_column(String(16))  # OfferChannel: how it was taken
    wave: Mapped[int] = mapped_column(default=0)  # 0: heard by calling in, not alerted
    score: Mapped[dict] = mapped_column(default=dict)  # the ranking's parts, for agents
    alert_hold_until: Mapped[datetime | None]  # quiet hours: the alert waits until then
    alerted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    employer_asked_at: Mapped[datetime | None]
    employer_reminded_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class Hire(Base):
    """A confirmed hire: the record of what was agreed (the contract summary) and of
    the work and the pay. confirmed -> started -> finished -> paid | unpaid; cancelled."""

    __tablename__ = "hires"
    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    job_line_id: Mapped[int] = mapped_column(ForeignKey("job_lines.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=HireStatus.CONFIRMED)
    contract_summary: Mapped[str] = mapped_column(Text, default="")
    insurance_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    day_wage_fen: Mapped[int | None] = mapped_column(BigInteger)
    days_worked: Mapped[int | None]  # as agreed until corrected
    owed_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(16))  # StartedBy
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PayCheck(Base):
    """One pay period of a hire (each day for 日结, the whole job otherwise) and the
    worker's answer to "were you paid in full?"."""

    __tablename__ = "pay_checks"
    __table_args__ = (UniqueConstraint("hire_id", "period_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hire_id: Mapped[int] = mapped_column(ForeignKey("hires.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    owed_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PayCheckStatus.DUE)
    asks: Mapped[int] = mapped_column(default=0)
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None]
    answered_via: Mapped[str | None] = mapped_column(String(16))  # sms | call | agent


class Reminder(Base):
    """Something to say at a time: stored, claimed by the sweep, sent once; one that
    fell due while Gigline was down goes out within the grace window, else it is missed."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # ReminderKind
    hire_id: Mapped[int] = mapped_column(ForeignKey("hires.id"), index=True)
    pay_check_id: Mapped[int | None] = mapped_column(ForeignKey("pay_checks.id"))
    rater: Mapped[str | None] = mapped_column(String(16))  # rating: Rater
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING)
    done_at: Mapped[datetime | None]


class RightsCase(Base):
    """劳动维权: unpaid wages of one employer on one job, worked by agents."""

    __tablename__ = "rights_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN)
    opened_by: Mapped[str] = mapped_column(String(16))  # auto | worker_call | worker_sms
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    owed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    referred_to: Mapped[str | None] = mapped_column(String(32))  # arbitration | platform
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CaseWorker(Base):
    __tablename__ = "case_workers"
    case_id: Mapped[int] = mapped_column(ForeignKey("rights_cases.id"), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), primary_key=True)
    hire_id: Mapped[int | None] = mapped_column(ForeignKey("hires.id"))
    owed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # this worker's share of what the case recovered (market.cases.shares), as told by SMS
    recovered_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class CaseEvent(Base):
    """The case's status history: who did what, when, with what amount."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("rights_cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)


class Rating(Base):
    """回访: after a hire, each side rates the other 1-5 or reports a no-show."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("hire_id", "rater"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hire_id: Mapped[int] = mapped_column(ForeignKey("hires.id"))
    rater: Mapped[str] = mapped_column(String(16))  # Rater
    stars: Mapped[int | None]
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class CallSession(Base):
    """A call's dialogue state, keyed by CallSid so any instance can take the next webhook."""

    __tablename__ = "call_sessions"
    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.IN_PROGRESS)
    state: Mapped[dict] = mapped_column(default=dict)
    turn: Mapped[int] = mapped_column(default=0)
    last_response: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class InboundSms(Base):
    __tablename__ = "sms_inbox"
    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]


class OutboundSms(Base):
    """The outbox: every SMS (and alert call) Gigline sends, exactly once, by dedupe key.
    A call's `body` is the webhook URL the carrier fetches when the phone answers."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        # Due rows in the order they are claimed: a claim reads only the rows it takes.
        Index("ix_sms_outbox_due", "status", "priority", "next_attempt_at", "id"),
        # A row waits for the earlier unsettled rows to its phone (hotline.sender.claim).
        Index("ix_sms_outbox_phone_id", "phone", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(8), default=Channel.SMS)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(default=5)  # lower sends first
    kind: Mapped[str] = mapped_column(String(24))  # registration | reply | opt_out_ack | ...
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # When the latest attempt went to the carrier: what it is asked about since then.
    handed_at: Mapped[datetime | None]
    carrier_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OptOut(Base):
    __tablename__ = "opt_outs"
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    keyword: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # sms | carrier
    changed_at: Mapped[datetime]


class WageReport(Base):
    __tablename__ = "wage_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]


class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    # The agents' queue: the open ones, oldest first.
    __table_args__ = (Index("ix_callback_requests_status_created", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.OPEN)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(64))  # the agent who called back
    note: Mapped[str | None] = mapped_column(Text)  # what came of it


class AuditEntry(Base):
    """Who (an agent's name, or "caller" for what a caller did by phone), when, what
    (`subject` is "type:id", or a caller's phone) and a short detail. Agents' entries are
    written in the transaction of what they record."""

    __tablename__ = "audit_log"
    # Supervisors read it by agent, by subject, newest first (console/audit.py).
    __table_args__ = (Index("ix_audit_log_actor_at", "actor", "at"),
                      Index("ix_audit_log_subject_at", "subject", "at"),
                      Index("ix_audit_log_at", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(default=dict)


class Agent(Base):
    """A member of staff who signs in to the console or calls the API: an agent or a
    supervisor (store.statuses.Role). Never deleted, so the audit log's names stay theirs;
    a revoked one is disabled."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.AGENT)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class AgentToken(Base):
    """An agent's API token. Only its SHA-256 is kept: the token is shown once."""

    __tablename__ = "agent_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AgentSession(Base):
    """A signed-in browser. Kept here, not in the cookie, so that log-out and revocation
    end it at once; the key is the SHA-256 of the cookie's value."""

    __tablename__ = "agent_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in, by the name typed: names with no account count too, so the
    lock-out tells no one which names exist."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_name_at", "name", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
