"""Calls: what happened on each call, with the speaker-labelled transcript."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.api.deps import require_admin, session
from receptionist.api.schemas import AlertOut, CallOut
from receptionist.errors import ApiError
from receptionist.models import Call

router = APIRouter(prefix="/api/calls", tags=["calls"])


def call_out(call: Call) -> CallOut:
    return CallOut(
        call_sid=call.call_sid, **{"from": call.from_number}, to=call.to_number, started_at=call.started_at,
        ended_at=call.ended_at, duration_s=call.duration_s, outcome=call.outcome,
        transcript=call.transcript or [], summary=call.summary, lead=call.lead,
        training_opt_out=call.training_opt_out, retention_days=call.retention_days, expires_at=call.expires_at,
        processing_status=call.processing_status, processing_error=call.processing_error,
        conversation=call.conversation or [], handoff=call.handoff,
        alerts=[AlertOut(channel=d.channel, recipient=d.recipient, status=d.status, attempts=d.attempts,
                         error=d.error, sent_at=d.sent_at) for d in call.deliveries],
    )


@router.get("/{call_sid}", response_model=CallOut, response_model_by_alias=True)
def get_call(call_sid: str, db: Session = Depends(session), _role: str = Depends(require_admin)):
    call = db.scalar(select(Call).where(Call.call_sid == call_sid))
    if call is None:
        raise ApiError(404, f"no call {call_sid}")
    return call_out(call)
