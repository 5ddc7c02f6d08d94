"""A call's life in the database: started by the voice webhook, ended by the status callback,
handed to the worker by the recording callback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Boolean, Engine, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receptionist.calls.directory import RoutedAccount
from receptionist.calls.events import CallStarted, CallStatusChanged, RecordingReady
from receptionist.calls.screening import ANSWER, OUTCOME_BLOCKED, Verdict
from receptionist.core.models import Call, Recording, Tombstone, UTCDateTime, utcnow


class CallStarts:
    """Records calls as they start: the one database write on the voice webhook's path.

    The caller's phone rings while this runs, so it is one statement, one round trip, autocommit,
    straight on the driver connection with the SQL SQLAlchemy compiled once for the dialect (the
    ORM's per-statement machinery cost more than the round trip itself, measured). ON CONFLICT
    makes a repeated webhook for the same call SID a no-op (PostgreSQL ≥ 9.5, SQLite ≥ 3.24).
    """

    STATEMENT = text(
        "INSERT INTO calls (call_sid, account_id, from_number, to_number, started_at, created_at, twilio_status,"
        " training_opt_out, retention_days, expires_at, processing_status, flags, outcome)"
        " VALUES (:call_sid, :account_id, :from_number, :to_number, :started_at, :started_at, 'in-progress',"
        " :training_opt_out, :retention_days, :expires_at, 'pending', :flags, :outcome)"
        " ON CONFLICT (call_sid) DO NOTHING"
    )

    def __init__(self, engine: Engine):
        self.engine = engine
        compiled = self.STATEMENT.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positiontup  # qmark/format drivers take a tuple in this order
        self.to_db_time = UTCDateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect) or (lambda v: v)
        self.to_db_bool = Boolean().dialect_impl(engine.dialect).bind_processor(engine.dialect) or (lambda v: v)

    def record(self, event: CallStarted, account: RoutedAccount, verdict: Verdict = ANSWER) -> bool:
        """Record the call with what screening decided (a refused call is recorded as ended in
        `blocked`); False when a row for this call SID already existed (a repeated webhook)."""
        now = utcnow()
        params = {
            "call_sid": event.call_sid,
            "account_id": account.id,
            "from_number": event.from_number,
            "to_number": event.to_number,
            "started_at": self.to_db_time(now),
            "training_opt_out": self.to_db_bool(account.training_opt_out),
            "retention_days": account.retention_days,
            "expires_at": self.to_db_time(now + timedelta(days=account.retention_days)),
            "flags": verdict.stored,
            "outcome": OUTCOME_BLOCKED if verdict.blocked else None,
        }
        if self.positional:
            params = tuple(params[name] for name in self.positional)
        try:
            return self._execute(params)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            # A connection the server dropped (a restart): the pool has no pre-ping for this path,
            # so try once more on a fresh connection.
            return self._execute(params, fresh=True)

    def _execute(self, params, fresh: bool = False) -> bool:
        connection = self.engine.raw_connection()
        try:
            if fresh:
                connection.invalidate()
                connection = self.engine.raw_connection()
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, params)
                inserted = cursor.rowcount == 1
            finally:
                cursor.close()
            connection.commit()
            return inserted
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()


def find_call(session: Session, call_sid: str) -> Call | None:
    """The call with this call SID (the one way every module looks a call up)."""
    return session.scalar(select(Call).where(Call.call_sid == call_sid))


@dataclass(frozen=True)
class StatusRecorded:
    call: Call
    ended_now: bool  # this callback ended the call (the first final status it got)


def record_status(session: Session, event: CallStatusChanged) -> StatusRecorded | None:
    """Record a status change; None for an unknown call.

    A final status is final: status callbacks are separate requests that may arrive in any order
    and more than once, so once a call has ended nothing reopens it (a late `ringing` or
    `in-progress`) and a repeated final callback moves neither `ended_at` nor the duration. The
    outcome is decided apart, on all the evidence (`calls.outcome`).
    """
    call = find_call(session, event.call_sid)
    if call is None:
        return None
    if call.ended_at is not None:
        return StatusRecorded(call, False)
    call.twilio_status = event.status
    if event.final:
        if event.duration_s is not None:
            call.duration_s = event.duration_s
        ended = event.timestamp or utcnow()
        call.ended_at = ended
        if call.duration_s is None:
            call.duration_s = max(0, int((ended - call.started_at).total_seconds()))
    return StatusRecorded(call, event.final)


def caller_spoke(call: Call) -> bool:
    """Did the caller say anything to the receptionist? (The relay stores every turn it hears.)"""
    return any(turn.get("speaker") == "caller" and (turn.get("text") or "").strip()
               for turn in call.conversation or [])


def note_recording_of_erased_call(session: Session, call_sid: str, recording_sid: str) -> bool:
    """A recording reported after its call was erased: add it to what the erasure must delete at
    Twilio. True when the call was indeed erased (the caller then queues the erasure's completion)."""
    tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid))
    if tombstone is None:
        return False
    removed = dict(tombstone.removed or {})
    sids = list(removed.get("twilio_recordings") or [])
    if recording_sid not in sids:
        removed["twilio_recordings"] = sids + [recording_sid]
        tombstone.removed = removed
    tombstone.deletions_pending = True  # Twilio's copy goes too: the reconciler sees to it if the job is lost
    return True


def register_recording(session: Session, event: RecordingReady) -> tuple[Recording | None, bool]:
    """The recording row for a completed recording; (row, created). None when the call is unknown."""
    call = find_call(session, event.call_sid)
    if call is None:
        return None, False
    call.recording_due_at = None  # reported: its worker decides the outcome and alerts (calls.outcome)
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


# The call-level jobs a call can be owed, set in the commit of the event that owes it (the status
# callback of a missed call, the recording callback saying none will come, a recording given up)
# and cleared by the job when it is done; the workers' reconciler queues what is still owed.
FOLLOWUP_CALL_ENDED = "call-ended"  # the missed-call text-back, the summary and the owner's alert
FOLLOWUP_ALERT = "alert"  # the summary and the owner's alert from the live conversation alone


def owe_followup(session: Session, call_sid: str, kind: str) -> bool:
    """Record that the call is owed the job `kind`; False for an unknown call."""
    call = find_call(session, call_sid)
    if call is None:
        return False
    if not (call.followup == FOLLOWUP_CALL_ENDED and kind == FOLLOWUP_ALERT):  # the call-ended job alerts too
        call.followup = kind
    return True


def settle_followup(session: Session, call_id: int, kind: str) -> None:
    """The job `kind` is done (or given up): the call owes it no more, unless it is owed another."""
    session.execute(update(Call).where(Call.id == call_id, Call.followup == kind)
                    .values(followup=None).execution_options(synchronize_session=False))
