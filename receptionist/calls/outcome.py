"""What an ended call achieved, decided once, on all the evidence there will be.

A call is missed only when neither the live conversation (the relay stores every caller turn it
hears) nor the recording's caller channel (what Whisper found on it) holds caller speech. The
evidence arrives by separate callbacks in any order: the final status, the relay's last write,
the recording's `completed` (then the worker's transcript) or `absent`. So:

- When no recording can come, the outcome is decided at the final status. `<Start><Recording>`
  runs just before `<Connect>` in the answer, so a call whose relay never connected and whose
  `<Connect>` never reported back hung up during the disclosure: nothing was recorded.
- When a recording is coming, the outcome waits for it: the worker decides once it has the caller
  channel's transcript (`after_transcript`), the `absent` callback decides from the relay alone,
  and a recording that never reports is waited for until `Call.recording_due_at`, after which the
  workers' reconciler decides without it (`overdue`).
- A caller turn stored by the relay decides "answered" at once, whatever else is coming (the alert
  still waits for the recording, so it carries the transcript).

A call screening refused (`calls.screening`) is decided at the voice webhook, `blocked`, and owes
nothing at its final status.

Each decision says which call-level job the call is now owed (`Call.followup`): the missed-call
job (text-back and alert) or the alert alone. Where the worker decides, it alerts (and texts a
missed caller back) in the same job, so nothing is owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from receptionist.calls.records import FOLLOWUP_ALERT, FOLLOWUP_CALL_ENDED, caller_spoke
from receptionist.calls.screening import FLAG_BLOCKED
from receptionist.core.models import Call, utcnow

# `Call.recording_state`: what the call's `<Start><Recording>` is known to have done.
RECORDING_STARTED = "started"  # the answer's <Connect> was reached (so the recording before it runs)
RECORDING_ABSENT = "absent"  # Twilio reported that no recording will come


@dataclass(frozen=True)
class Decision:
    outcome: str | None  # the outcome set now; None when it was set before or still waits
    owed: str | None  # the call-level job owed now (FOLLOWUP_CALL_ENDED, FOLLOWUP_ALERT), to queue after the commit


NOTHING = Decision(None, None)


def caller_said_on_recording(call: Call) -> bool:
    """Did Whisper find words on the recording's caller channel?"""
    return any(segment.get("speaker") == "caller" and (segment.get("text") or "").strip()
               for segment in call.transcript or [])


def recording_coming(call: Call) -> bool:
    """Can a recording still report for this call? Once the answer's <Connect> was reached (the
    relay connected, or its action was posted) the <Start><Recording> before it ran; `absent` says
    no recording will come; a completed one is already here (its worker decides and alerts)."""
    if call.recording_state == RECORDING_ABSENT or call.recordings:
        return False
    return call.recording_state == RECORDING_STARTED or (call.relay_attempt or 0) > 0


def _locked(session: Session, call_sid: str) -> Call | None:
    """The call, locked until the commit (PostgreSQL): the final status and the recording's callback
    may decide at the same moment, and each must see what the other stored."""
    return session.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update(of=Call))


def note_recording_started(session: Session, call_sid: str) -> None:
    """The answer's <Connect> was reached for this call: its recording runs."""
    session.execute(update(Call).where(Call.call_sid == call_sid, Call.recording_state.is_(None))
                    .values(recording_state=RECORDING_STARTED).execution_options(synchronize_session=False))


def _set(session: Session, call: Call, outcome: str) -> bool:
    """Set the outcome unless one was stored meanwhile (the relay's, or another decision's)."""
    changed = session.execute(update(Call).where(Call.id == call.id, Call.outcome.is_(None))
                              .values(outcome=outcome).execution_options(synchronize_session=False))
    session.refresh(call, ["outcome"])
    return changed.rowcount == 1


def _owe(call: Call, kind: str) -> str:
    """The call is owed the job `kind` (no longer waiting for a recording)."""
    call.recording_due_at = None
    if not (call.followup == FOLLOWUP_CALL_ENDED and kind == FOLLOWUP_ALERT):  # the call-ended job alerts too
        call.followup = kind
    return call.followup


def _without_recording(session: Session, call: Call, *, text_back: bool = True) -> Decision:
    """No transcript is coming: decide from the relay (unless decided already) and owe the alert,
    with the text-back when the call is missed."""
    outcome = "answered" if caller_spoke(call) else "missed"
    decided = _set(session, call, outcome)
    kind = FOLLOWUP_CALL_ENDED if call.outcome == "missed" and decided and text_back else FOLLOWUP_ALERT
    return Decision(outcome if decided else None, _owe(call, kind))


def at_final_status(session: Session, call_sid: str, unanswered_outcome: str | None, wait_s: float) -> Decision:
    """The call's first final status: decide now unless a recording is coming; then wait for it,
    at most `wait_s` more (the reconciler decides past `Call.recording_due_at`)."""
    call = _locked(session, call_sid)
    if call is None:
        return NOTHING
    if call.flagged(FLAG_BLOCKED):
        # Refused by screening at the voice webhook (outcome "blocked" since): nothing was recorded or
        # said, and nobody is owed anything, neither the owner an alert nor the caller a text-back.
        return NOTHING
    if unanswered_outcome is not None and call.outcome is None:
        # Never answered (busy, no-answer, failed): nothing was said, nothing recorded.
        if not _set(session, call, unanswered_outcome):
            return NOTHING
        owed = _owe(call, FOLLOWUP_CALL_ENDED) if unanswered_outcome == "missed" else None
        return Decision(unanswered_outcome, owed)
    if call.recordings:
        return NOTHING  # the worker decides with the caller channel's transcript, and alerts
    if recording_coming(call):
        decided = call.outcome is None and caller_spoke(call) and _set(session, call, "answered")
        call.recording_due_at = utcnow() + timedelta(seconds=wait_s)
        return Decision("answered" if decided else None, None)
    return _without_recording(session, call)


def on_recording_absent(session: Session, call_sid: str, wait_s: float) -> Decision | None:
    """Twilio reported that no recording will come; None for an unknown call. Decided from the
    relay once the call has ended; before that, its final status decides."""
    call = _locked(session, call_sid)
    if call is None:
        return None
    call.recording_state = RECORDING_ABSENT
    if call.recordings:
        return NOTHING
    if call.ended_at is None:
        # The final status decides when it comes; should it never come, the reconciler does.
        call.recording_due_at = utcnow() + timedelta(seconds=wait_s)
        return NOTHING
    return _without_recording(session, call)


def after_transcript(session: Session, call: Call) -> str | None:
    """The worker has the recording's transcript: decide on everything (unless decided already).
    The worker alerts, and texts a missed caller back, in the same job. Returns the outcome."""
    call.recording_due_at = None
    spoke = caller_spoke(call) or caller_said_on_recording(call)
    if call.outcome is None:
        _set(session, call, "answered" if spoke else "missed")
    elif call.outcome == "missed" and spoke:
        # Decided missed with no recording thought to be coming, and the caller is on it after all:
        # the better evidence wins (the missed-call job, if it has not run, then texts no one).
        session.execute(update(Call).where(Call.id == call.id, Call.outcome == "missed")
                        .values(outcome="answered").execution_options(synchronize_session=False))
        session.refresh(call, ["outcome"])
    return call.outcome


def on_recording_given_up(session: Session, call: Call) -> Decision:
    """The recording was given up, so its caller channel was never heard: decided from the relay,
    and a caller it cannot show to be silent is not texted "sorry we missed you" (only the owner is
    alerted)."""
    return _without_recording(session, call, text_back=False)


def overdue(session: Session, call: Call) -> Decision:
    """The recording was waited for until `Call.recording_due_at` and never reported: decide
    without it."""
    if call.recordings:
        call.recording_due_at = None
        return NOTHING
    return _without_recording(session, call)
