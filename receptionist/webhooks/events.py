"""The events webhooks carry, and the outbox they are recorded in.

An event is recorded as one `WebhookDelivery` row per enabled endpoint of the account that wants
it, in the session (the transaction) of what caused it, so it is committed with its cause or not at
all. Its id is derived from the event's type and call, so recording it again (a job run twice, a
"send again") inserts nothing: one row, and one `webhook-id`, per event and endpoint.

Payloads are versioned (`VERSION`, documented in docs/webhooks.md) and carry the call's fields,
summary, lead, outcome and flags and a link to its dashboard page; never the audio, never a
presigned URL. Nothing about an erased call is recorded or sent but `call.erased`: at the erasure
its other deliveries still queued are dropped and every payload about it is emptied.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receptionist.core.models import Call, Tombstone, WebhookDelivery, WebhookEndpoint, utcnow

CALL_COMPLETED = "call.completed"
CALL_MISSED = "call.missed"
LEAD_CAPTURED = "lead.captured"
CALL_ERASED = "call.erased"
EVENTS = (CALL_COMPLETED, CALL_MISSED, LEAD_CAPTURED, CALL_ERASED)
VERSION = 1


def event_id(event_type: str, call_sid: str) -> str:
    """The `webhook-id` of an event: the same for every endpoint and every attempt."""
    return "msg_" + hashlib.sha256(f"{event_type}:{call_sid}".encode()).hexdigest()[:32]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def call_data(call: Call, public_url: str) -> dict:
    """What a receiver learns of a call: its fields, never its audio or a link that opens it."""
    return {
        "call_sid": call.call_sid,
        "account_id": call.account_id,
        "from": call.from_number,
        "to": call.to_number,
        "started_at": _iso(call.started_at),
        "ended_at": _iso(call.ended_at),
        "duration_s": call.duration_s,
        "outcome": call.outcome,
        "summary": call.summary,
        "lead": call.lead,
        "flags": call.flag_list,
        "dashboard_url": f"{public_url.rstrip('/')}/calls/{call.call_sid}" if public_url else None,
    }


def envelope(event_type: str, at: datetime, data: dict) -> dict:
    return {"type": event_type, "version": VERSION, "timestamp": _iso(at), "data": data}


def record(session: Session, account_id: str, call_sid: str, event_type: str, payload: dict) -> list[int]:
    """Record an event for every enabled endpoint of the account that wants it; the ids of the
    deliveries recorded now (none for an endpoint that already has this event)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    if event_type != CALL_ERASED and _erased(session, call_sid):
        return []
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.account_id == account_id,
                                                              WebhookEndpoint.enabled.is_(True))
                                .order_by(WebhookEndpoint.created_at)).all()
    message_id, now, recorded = event_id(event_type, call_sid), utcnow(), []
    for endpoint in endpoints:
        if event_type not in (endpoint.events or []):
            continue
        exists = session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                                 WebhookDelivery.event_id == message_id))
        if exists is not None:
            continue
        row = WebhookDelivery(endpoint_id=endpoint.id, account_id=account_id, call_sid=call_sid,
                              event_type=event_type, event_id=message_id, payload=payload, status="pending",
                              attempts=0, log=[], next_attempt_at=now, created_at=now,
                              retrying_since=now)
        try:
            with session.begin_nested():  # another process recorded it meanwhile: the unique index says so
                session.add(row)
        except IntegrityError:
            continue
        recorded.append(row.id)
    return recorded


def _erased(session: Session, call_sid: str) -> bool:
    return session.scalar(select(Tombstone.id).where(Tombstone.call_sid == call_sid)) is not None


def call_ended(session: Session, call: Call, public_url: str) -> list[int]:
    """`call.missed` for a missed call, `call.completed` for any other that was heard and summarised.
    A blocked call is no event (screening refused it; nobody is told)."""
    if call.flagged("blocked"):
        return []
    kind = CALL_MISSED if call.outcome == "missed" else CALL_COMPLETED
    return record(session, call.account_id, call.call_sid, kind,
                  envelope(kind, call.ended_at or utcnow(), call_data(call, public_url)))


def lead_captured(session: Session, call: Call, public_url: str) -> list[int]:
    """The live conversation captured the caller's details (before the recording is processed)."""
    if not call.lead or call.flagged("blocked"):
        return []
    data = call_data(call, public_url)
    data.pop("summary")  # not written yet: the worker summarises after the call
    return record(session, call.account_id, call.call_sid, LEAD_CAPTURED, envelope(LEAD_CAPTURED, utcnow(), data))


def call_erased(session: Session, account_id: str, call_sid: str, erased_at: datetime, reason: str) -> list[int]:
    """The call was erased: drop what was still to be sent about it, empty every payload that held
    it, and record `call.erased` (the call's id and when, nothing of its content)."""
    session.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.call_sid == call_sid, WebhookDelivery.event_type != CALL_ERASED,
                           WebhookDelivery.status.in_(("pending", "sending")))
                    .values(status="dropped", last_error="the call was erased", next_attempt_at=None,
                            lease_until=None))
    session.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.call_sid == call_sid, WebhookDelivery.event_type != CALL_ERASED)
                    .values(payload=None))
    data = {"call_sid": call_sid, "account_id": account_id, "erased_at": _iso(erased_at), "reason": reason}
    return record(session, account_id, call_sid, CALL_ERASED, envelope(CALL_ERASED, erased_at, data))
