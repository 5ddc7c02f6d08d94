"""A call's life in the database: started by the voice webhook, ended by the status callback,
handed to the worker by the recording callback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receptionist.directory import RoutedAccount
from receptionist.models import Call, Recording, UTCDateTime, utcnow
from receptionist.twilio.events import CallStarted, CallStatusChanged, RecordingReady

# Twilio's final CallStatus values mapped to the call's outcome; a completed call keeps an outcome
# the conversation already set (transferred, message-taken, …).
FINAL_OUTCOMES = {"busy": "missed", "no-answer": "missed", "canceled": "missed", "failed": "failed"}
FINAL_STATUSES = {"completed", "busy", "no-answer", "canceled", "failed"}


# One statement, one round trip: the voice webhook is on the caller's ring time. ON CONFLICT makes
# a repeated webhook for the same CallSid a no-op (PostgreSQL ≥ 9.5 and SQLite ≥ 3.24 both speak it).
_INSERT_CALL = text(
    "INSERT INTO calls (call_sid, account_id, from_number, to_number, started_at, created_at, twilio_status,"
    " training_opt_out, retention_days, expires_at, processing_status)"
    " VALUES (:call_sid, :account_id, :from_number, :to_number, :started_at, :started_at, 'in-progress',"
    " :training_opt_out, :retention_days, :expires_at, 'pending')"
    " ON CONFLICT (call_sid) DO NOTHING"
).bindparams(bindparam("started_at", type_=UTCDateTime()), bindparam("expires_at", type_=UTCDateTime()))


def start_call(engine: Engine, event: CallStarted, account: RoutedAccount) -> bool:
    """Record the call; False when a row for this CallSid already existed (a repeated webhook)."""
    now = utcnow()
    with engine.connect() as connection:
        result = connection.execute(_INSERT_CALL, {
            "call_sid": event.call_sid,
            "account_id": account.id,
            "from_number": event.from_number,
            "to_number": event.to_number,
            "started_at": now,
            "training_opt_out": account.training_opt_out,
            "retention_days": account.retention_days,
            "expires_at": now + timedelta(days=account.retention_days),
        })
        return result.rowcount == 1


def record_status(session: Session, event: CallStatusChanged) -> Call | None:
    call = session.scalar(select(Call).where(Call.call_sid == event.call_sid))
    if call is None:
        return None
    call.twilio_status = event.status
    if event.status in FINAL_STATUSES:
        if event.duration_s is not None:
            call.duration_s = event.duration_s
        ended = event.timestamp or utcnow()
        call.ended_at = ended
        if call.duration_s is None:
            call.duration_s = max(0, int((ended - call.started_at).total_seconds()))
        if call.outcome is None:
            call.outcome = FINAL_OUTCOMES.get(event.status, "answered")
    return call


def register_recording(session: Session, event: RecordingReady) -> tuple[Recording | None, bool]:
    """The recording row for a completed recording; (row, created). None when the call is unknown."""
    call = session.scalar(select(Call).where(Call.call_sid == event.call_sid))
    if call is None:
        return None, False
    existing = session.scalar(select(Recording).where(Recording.recording_sid == event.recording_sid))
    if existing is not None:
        return existing, False
    recording = Recording(
        recording_sid=event.recording_sid,
        call_id=call.id,
        media_url=event.media_url,
        channels=event.channels,
        duration_s=event.duration_s,
    )
    session.add(recording)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return session.scalar(select(Recording).where(Recording.recording_sid == event.recording_sid)), False
    return recording, True
