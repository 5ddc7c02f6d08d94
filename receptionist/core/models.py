"""Database records: accounts and their phone numbers and blocked callers, users, calls, their recordings, alert
deliveries, SMS consents, missed-call text-backs, the audit log, the tombstones of erased calls, webhook endpoints and their deliveries,
and which deployment the database belongs to.

Portable types only (JSON, not JSONB; strings for ids) so one schema runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from receptionist.settings import DEFAULT_RETENTION_DAYS


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on both backends (SQLite stores naive values and forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    business: Mapped[dict] = mapped_column(JSON, default=dict)
    greeting: Mapped[str | None] = mapped_column(Text)
    disclosure: Mapped[str | None] = mapped_column(Text)
    transfer_number: Mapped[str | None] = mapped_column(String(20))
    alert_sms: Mapped[list] = mapped_column(JSON, default=list)
    alert_emails: Mapped[list] = mapped_column(JSON, default=list)
    retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_DAYS)
    training_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_call_text_back: Mapped[bool] = mapped_column(Boolean, default=False)
    # Robocall screening of callers whose caller ID failed its STIR/SHAKEN check (calls.screening):
    # "off", "flag" (answered, flagged suspected-spam, no SMS alert or text-back) or "block".
    spam_screening: Mapped[str] = mapped_column(String(8), default="flag", server_default="flag")
    # The text-to-speech voice callers hear ("provider:voice"); None means the deployment's default.
    voice: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin", order_by="PhoneNumber.number"
    )

    @property
    def phone_numbers(self) -> list[str]:
        return [n.number for n in self.numbers]


class PhoneNumber(Base):
    """A Twilio number routed to an account; unique, so a call's `To` finds exactly one account."""

    __tablename__ = "phone_numbers"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    account: Mapped[Account] = relationship(back_populates="numbers")


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    from_number: Mapped[str] = mapped_column(String(32), index=True)
    to_number: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    twilio_status: Mapped[str] = mapped_column(String(20), default="in-progress")
    outcome: Mapped[str | None] = mapped_column(String(20))
    transcript: Mapped[list | None] = mapped_column(JSON)
    summary: Mapped[str | None] = mapped_column(Text)
    lead: Mapped[dict | None] = mapped_column(JSON)
    training_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_DAYS)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Processing of the recording: pending → processing → done | failed (with the reason).
    processing_status: Mapped[str] = mapped_column(String(16), default="pending")
    processing_error: Mapped[str | None] = mapped_column(Text)
    # A call-level job the call is owed ("call-ended": the missed-call text-back and alert;
    # "alert": the alert without a transcript), set in the same commit as the event that owes it
    # and cleared by the job, so the worker's reconciler queues it again whatever Redis lost.
    followup: Mapped[str | None] = mapped_column(String(24), index=True)
    # The outcome's evidence still to come (calls.outcome): what the call's <Start><Recording> is
    # known to have done ("started": the answer's <Connect> was reached; "absent": Twilio said none
    # will come), and until when a recording that has not reported is waited for before the
    # workers' reconciler decides the outcome and alerts without it.
    recording_state: Mapped[str | None] = mapped_column(String(16))
    recording_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The live conversation as the relay heard it, turn by turn: [{speaker, text, at}], where a
    # receptionist turn holds only what the caller actually heard (cut at an interruption).
    conversation: Mapped[list | None] = mapped_column(JSON)
    # What the call's own TwiML said after the relay session, in order: [{kind, text, at}] (kind:
    # transfer, take_message, message_goodbye), written by the relay's action URL (calls.said).
    # With `conversation` it is every word the receptionist said into the recording.
    said: Mapped[list | None] = mapped_column(JSON)
    # Set when the receptionist handed the call to a human: {reason, transfer_to, ...}.
    handoff: Mapped[dict | None] = mapped_column(JSON)
    # The live conversation's owner: the relay session that may write `conversation`, `lead`,
    # `handoff` and `outcome` (None once it closed), and the highest relay attempt that connected
    # (a reconnect is a higher attempt and takes over; the same attempt never connects twice).
    relay_session: Mapped[str | None] = mapped_column(String(64))
    relay_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The team's follow-up (calls.handling): when someone first opened the call, and when someone
    # marked it handled (None: still open), each with who did it (an audit actor's display name).
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by: Mapped[str | None] = mapped_column(String(320))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    handled_by: Mapped[str | None] = mapped_column(String(320))
    # What screening decided (calls.screening): the flags as space-separated words ("blocked",
    # "suspected-spam"), None for none; a plain string so one LIKE filters them on both databases.
    flags: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(lazy="joined")
    recordings: Mapped[list[Recording]] = relationship(back_populates="call", order_by="Recording.id")
    deliveries: Mapped[list[Delivery]] = relationship(order_by="Delivery.id", viewonly=True)

    @property
    def flag_list(self) -> list[str]:
        return (self.flags or "").split()

    def flagged(self, flag: str) -> bool:
        return flag in self.flag_list


class Recording(Base):
    """One Twilio recording; its unique sid is what makes the recording callback idempotent."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    media_url: Mapped[str] = mapped_column(Text)
    channels: Mapped[int] = mapped_column(Integer, default=2)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|processing|done|failed
    error: Mapped[str | None] = mapped_column(Text)
    # Every run that claims the recording counts, including runs that killed the process
    # transcribing it; a run whose whole worker died is given back and counted as abandoned
    # (`postcall.claims`).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The worker processing it and how long its claim holds unless renewed (the worker renews it
    # while alive); a lapsed claim may be taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it was given up, as a kind: unusable | too-large | attempts-exhausted | abandoned-exhausted |
    # retries-exhausted.
    failure: Mapped[str | None] = mapped_column(String(32))
    audio_key: Mapped[str | None] = mapped_column(Text)
    transcript_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship(back_populates="recordings")


class Delivery(Base):
    """One alert to one recipient over one channel: the record that makes alerts exactly-once."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("call_id", "channel", "recipient", name="uq_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SmsConsent(Base):
    """Whether a phone number may receive texts from this service, and how that came to be.

    STOP (and its synonyms) opts a number out of everything this service sends, alerts and
    text-backs alike, until START/UNSTOP/YES.
    """

    __tablename__ = "sms_consents"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_in_via: Mapped[str | None] = mapped_column(String(200))  # "account setup", "keyword START", …
    last_keyword: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TextBack(Base):
    """A missed-call text to a caller: at most one per caller per account per day."""

    __tablename__ = "text_backs"
    __table_args__ = (UniqueConstraint("account_id", "caller", "day", name="uq_text_back_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    caller: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the account's timezone
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|suppressed
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BlockedNumber(Base):
    """A caller an account's owners blocked: their calls hear a short message and end (calls.screening).
    The unique (account_id, number) index is what the voice webhook's one lookup uses."""

    __tablename__ = "blocked_numbers"
    __table_args__ = (UniqueConstraint("account_id", "number", name="uq_blocked_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320))  # the audit actor's display name


class User(Base):
    """Someone who can use the API and the dashboard: an admin of the deployment, or an owner or
    member of one account. Only a hash of the bearer token is kept; the token is shown once. A
    user of a closed account, or whose token has expired, is refused everywhere."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))  # admin | owner | member
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # When the token stops working (None: when it is rotated or the user removed); rotating sets a new one.
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who did or read what, when: every read of a recording or transcript, every change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))  # "user:<id> <email>", "admin-token", "system:<job>"
    action: Mapped[str] = mapped_column(String(64))  # "call.read", "recording.read", "call.erase", …
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict | None] = mapped_column(JSON)


class Tombstone(Base):
    """What remains of an erased call: who erased what and when, and nothing of its content."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(64))  # "request", "caller-erasure", "retention", "account-closed"
    removed: Mapped[dict] = mapped_column(JSON, default=dict)  # object keys, Twilio recording sids, db fields
    # Deletions outside the database (S3 versions, Twilio's copies) not yet known done: the
    # reconciler queues the erasure's completion until they are (`privacy.erasure`).
    deletions_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)


class Deployment(Base):
    """The one row saying which deployment this database belongs to; the bucket carries the same id
    in its marker object, and nothing is deleted unless the two agree (receptionist.privacy.deployment)."""

    __tablename__ = "deployment"
    __table_args__ = (CheckConstraint("slot = 1", name="ck_deployment_one_row"),)

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, default=1, autoincrement=False)  # always 1
    deployment_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marker_written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None until the bucket has it


class WebhookEndpoint(Base):
    """A URL an account's owners chose to receive call events, signed per Standard Webhooks
    (`receptionist.webhooks`). During a rotation the previous secret signs too, until
    `previous_secret_expires_at`. `failing_since` is when its deliveries began to fail without a
    success since; failing for a day disables it (`disabled_reason` says why)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: the outbox row written before anything is sent, unique per
    (endpoint, event), so an event is recorded, and accepted, once per endpoint. `event_id` is the
    `webhook-id` header, the same on every attempt. `call_sid` (no foreign key: the call row goes
    at erasure, its deliveries' payloads with it) says which call the event is about."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict | None] = mapped_column(JSON)  # None once dropped at an erasure
    # pending → sending (claimed by a worker until lease_until) → delivered | failed | dropped
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Every attempt: [{at, status_code, error, duration_ms}], oldest first.
    log: Mapped[list] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Since when it is being retried: its creation, or the last "send again"; retried for a day from here.
    retrying_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
