"""Calls: what happened on each call, with the speaker-labelled transcript and the recording."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.accounts.access import load_call
from receptionist.accounts.auth import Principal
from receptionist.api.deps import TokenFirst, principal
from receptionist.api.schemas import AlertOut, CallListItem, CallOut, CallUpdate
from receptionist.calls import handling
from receptionist.core import audit
from receptionist.core.models import Call, Recording
from receptionist.privacy.retention import training_opted_out
from receptionist.storage.objects import PRESIGNED_TTL_S
from receptionist.web.deps import services, session
from receptionist.web.errors import ApiError

router = APIRouter(prefix="/api/calls", tags=["calls"], route_class=TokenFirst)



def call_list_item(call: Call) -> CallListItem:
    return CallListItem(call_sid=call.call_sid, **{"from": call.from_number}, to=call.to_number,
                        started_at=call.started_at, ended_at=call.ended_at, duration_s=call.duration_s,
                        outcome=call.outcome, summary=call.summary, processing_status=call.processing_status,
                        read_at=call.read_at, handled_at=call.handled_at, handled_by=call.handled_by,
                        flags=call.flag_list)


def call_out(call: Call) -> CallOut:
    return CallOut(
        **call_list_item(call).model_dump(by_alias=True),
        transcript=call.transcript or [], lead=call.lead,
        # The effective flag: opted out when the call or its account is (what the objects' tag says).
        training_opt_out=training_opted_out(call), retention_days=call.retention_days, expires_at=call.expires_at,
        processing_error=call.processing_error, conversation=call.conversation or [], handoff=call.handoff,
        alerts=[AlertOut(channel=d.channel, recipient=d.recipient, status=d.status, attempts=d.attempts,
                         error=d.error, sent_at=d.sent_at) for d in call.deliveries],
    )




@router.get("/{call_sid}", response_model=CallOut, response_model_by_alias=True)
def get_call(call_sid: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    call = load_call(db, who, call_sid)
    audit.record(db, who.actor, "transcript.read", account_id=call.account_id, call_sid=call.call_sid)
    db.commit()
    return call_out(call)


@router.patch("/{call_sid}", response_model=CallOut, response_model_by_alias=True)
def patch_call(call_sid: str, body: CallUpdate, db: Session = Depends(session), who: Principal = Depends(principal),
               svc=Depends(services)):
    """Opt this one call out of (or back into) AI training (owners; its objects are re-tagged), or
    mark it handled or unread for the team (members too)."""
    call = load_call(db, who, call_sid, write=body.training_opt_out is not None)
    from receptionist.privacy import retention

    if body.training_opt_out is not None:
        retention.apply_call_training(db, call, body.training_opt_out, queue=svc.queue)
        audit.record(db, who.actor, "call.update", account_id=call.account_id, call_sid=call.call_sid,
                     training_opt_out=body.training_opt_out)
    by = who.actor.split(" ", 1)[-1]
    if body.handled is not None:
        handling.set_handled(db, call, body.handled, actor=who.actor, by=by, via="api")
    if body.read is not None:
        handling.set_read(db, call, body.read, actor=who.actor, by=by, via="api")
    db.commit()
    return call_out(call)


@router.get("/{call_sid}/recording", status_code=302, response_class=RedirectResponse,
            responses={302: {"description": "a presigned URL of the recording, valid 15 minutes"}})
def get_recording(call_sid: str, db: Session = Depends(session), who: Principal = Depends(principal),
                  svc=Depends(services)):
    call = load_call(db, who, call_sid)
    key = db.scalar(select(Recording.audio_key).where(Recording.call_id == call.id, Recording.audio_key.is_not(None))
                    .order_by(Recording.id.desc()).limit(1))
    if key is None:
        raise ApiError(404, "this call has no stored recording")
    audit.record(db, who.actor, "recording.read", account_id=call.account_id, call_sid=call.call_sid, key=key)
    db.commit()
    return RedirectResponse(svc.store.presigned_url(key, expires_in=PRESIGNED_TTL_S), status_code=302)
