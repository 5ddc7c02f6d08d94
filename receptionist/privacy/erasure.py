"""Erasing a call: every version of its objects, Twilio's copy of the recording, and its rows.

What remains is a tombstone (who erased which call, when, why, and the names of what was removed:
object keys, Twilio recording sids, tables; never content) plus an audit event.

Order matters against a transcription job running at the same time: the database rows go first
(with the tombstone, in one commit), then the objects. A job re-checks the call after it stored
its objects (receptionist.postcall.pipeline): if the erasure committed before that check, the job deletes
what it stored; if after, this erasure's listing comes later than the job's writes and deletes
them. Either way nothing survives.

Nothing is erased unless the database and the bucket are one deployment's
(`privacy.deployment.require_deployment`): DeploymentMismatch, before any row or object is touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from receptionist.webhooks import events as webhook_events
from receptionist.calls.records import find_call
from receptionist.core.db import Database
from receptionist.core.models import (
    AuditEvent,
    Call,
    Delivery,
    Recording,
    TextBack,
    Tombstone,
    utcnow,
)
from receptionist.core.ports import TelephonyApi
from receptionist.privacy.deployment import require_deployment
from receptionist.storage.objects import ObjectStore, ObjectVersion, call_prefix

log = logging.getLogger(__name__)

ERASED_FIELDS = ["transcript", "summary", "lead", "conversation", "said", "handoff", "from_number", "to_number"]


@dataclass
class ErasureResult:
    call_sid: str
    account_id: str
    erased_at: datetime
    erased_by: str
    reason: str
    objects: list[str] = field(default_factory=list)  # object keys whose versions were deleted
    versions_deleted: int = 0  # object versions and delete markers removed
    twilio_deleted: list[str] = field(default_factory=list)  # recording sids deleted (or already gone) at Twilio
    twilio_pending: list[str] = field(default_factory=list)  # recording sids Twilio could not delete yet
    already_erased: bool = False

    @property
    def complete(self) -> bool:
        return not self.twilio_pending

    def as_dict(self) -> dict:
        return {
            "call_sid": self.call_sid, "account_id": self.account_id, "erased_at": self.erased_at.isoformat(),
            "erased_by": self.erased_by, "reason": self.reason, "objects_deleted": self.objects,
            "object_versions_deleted": self.versions_deleted,
            "twilio_recordings_deleted": self.twilio_deleted, "twilio_recordings_pending": self.twilio_pending,
            "complete": self.complete, "already_erased": self.already_erased,
        }


def is_erased(session: Session, call_sid: str) -> bool:
    return session.scalar(select(Tombstone.id).where(Tombstone.call_sid == call_sid)) is not None


def erase_call(db: Database, store: ObjectStore, twilio: TelephonyApi | None, call_sid: str, *, actor: str,
               reason: str = "request") -> ErasureResult | None:
    """Erase one call; None when there is no such call and never was.

    Erasing an erased call again re-runs the deletions (objects, Twilio) and reports
    `already_erased`. With `twilio` None, Twilio's copies are left pending (the caller queues
    `finish_erasure`)."""
    require_deployment(db, store)
    with db.session() as session:
        call = find_call(session, call_sid)
        tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid))
        if call is None and tombstone is None:
            return None
        already = call is None
        if call is not None:
            tombstone = _remove_rows(session, call, tombstone, actor=actor, reason=reason)
        result = ErasureResult(call_sid, tombstone.account_id, tombstone.erased_at, tombstone.erased_by,
                               tombstone.reason, already_erased=already)
        recording_sids = list((tombstone.removed or {}).get("twilio_recordings", []))
        account_id = tombstone.account_id
    deleted, result.twilio_deleted, result.twilio_pending = finish_erasure(db, store, twilio, account_id, call_sid,
                                                                          recording_sids)
    result.objects, result.versions_deleted = sorted({v.key for v in deleted}), len(deleted)
    log.info("call %s erased (%s by %s): %d object(s), Twilio %s deleted, %s pending", call_sid, reason, actor,
             len(result.objects), result.twilio_deleted, result.twilio_pending)
    return result


def finish_erasure(db: Database, store: ObjectStore, twilio: TelephonyApi | None, account_id: str, call_sid: str,
                   recording_sids: list[str]) -> tuple[list[ObjectVersion], list[str], list[str]]:
    """The deletions outside the database: (object versions deleted, Twilio sids deleted, pending)."""
    deleted = store.delete_prefix(call_prefix(account_id, call_sid))
    keys = sorted({v.key for v in deleted})
    if keys:
        with db.session() as session:
            tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid))
            if tombstone is not None:
                removed = dict(tombstone.removed or {})
                removed["objects"] = sorted(set(removed.get("objects", [])) | set(keys))
                tombstone.removed = removed
    done, pending = [], []
    for sid in recording_sids:
        if twilio is None:
            pending.append(sid)
            continue
        try:
            twilio.delete_recording(sid)  # False when Twilio no longer had it: gone either way
            done.append(sid)
        except Exception as exc:  # Twilio down past the retry window: queue the rest
            log.warning("Twilio's copy of recording %s (call %s) not deleted yet: %s", sid, call_sid, exc)
            pending.append(sid)
    if not pending:
        _deletions_done(db, call_sid, recording_sids)
    return deleted, done, pending


def _deletions_done(db: Database, call_sid: str, recording_sids: list[str]) -> None:
    """Nothing of the call is left outside the database: the reconciler stops queueing its
    completion. Unless a recording was reported meanwhile (it joined the tombstone's list after
    `recording_sids` was read): then it stays pending, for the next run."""
    with db.session() as session:
        tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid).with_for_update())
        if tombstone is not None and set((tombstone.removed or {}).get("twilio_recordings", [])) <= set(recording_sids):
            tombstone.deletions_pending = False


def finish_erasure_of(db: Database, store: ObjectStore, twilio: TelephonyApi, call_sid: str) -> list[str]:
    """Re-run an erased call's deletions from its tombstone (the `finish_erasure` job); raises
    while Twilio still cannot delete, so the job is retried."""
    require_deployment(db, store)
    with db.session() as session:
        tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid))
        if tombstone is None:
            return []
        account_id, sids = tombstone.account_id, list((tombstone.removed or {}).get("twilio_recordings", []))
    _deleted, done, pending = finish_erasure(db, store, twilio, account_id, call_sid, sids)
    if pending:
        raise RuntimeError(f"Twilio's copies of {', '.join(pending)} are not deleted yet")
    return done


def erase_caller(db: Database, store: ObjectStore, twilio: TelephonyApi | None, account_id: str, caller: str, *,
                 actor: str) -> list[ErasureResult]:
    """Erase every call of one caller to one account, and the texts sent back to that caller.

    The caller's STOP record (sms_consents) is kept: it is what stops this service from texting
    them again, which is itself the caller's request."""
    require_deployment(db, store)
    with db.session() as session:
        call_sids = session.scalars(select(Call.call_sid).where(Call.account_id == account_id,
                                                                 Call.from_number == caller)
                                    .order_by(Call.started_at)).all()
        session.execute(delete(TextBack).where(TextBack.account_id == account_id, TextBack.caller == caller))
    results = []
    for call_sid in call_sids:
        result = erase_call(db, store, twilio, call_sid, actor=actor, reason="caller-erasure")
        if result is not None:
            results.append(result)
    return results


def _remove_rows(session: Session, call: Call, tombstone: Tombstone | None, *, actor: str, reason: str) -> Tombstone:
    recordings = session.scalars(select(Recording).where(Recording.call_id == call.id)).all()
    removed = {
        "objects": sorted({key for r in recordings for key in (r.audio_key, r.transcript_key) if key}),
        "twilio_recordings": sorted(r.recording_sid for r in recordings),
        "database": {
            "calls": ERASED_FIELDS,
            "recordings": len(recordings),
            "deliveries": session.execute(delete(Delivery).where(Delivery.call_id == call.id)).rowcount,
            "text_backs": session.execute(delete(TextBack).where(TextBack.call_id == call.id)).rowcount,
        },
    }
    account_id, call_sid, call_id = call.account_id, call.call_sid, call.id
    session.expunge(call)  # statements below remove the rows; the ORM must not try to cascade too
    session.execute(delete(Recording).where(Recording.call_id == call_id))
    session.execute(delete(Call).where(Call.id == call_id))
    now = utcnow()
    if tombstone is None:
        tombstone = Tombstone(call_sid=call_sid, account_id=account_id, erased_at=now, erased_by=actor,
                              reason=reason, removed=removed, deletions_pending=True)
        session.add(tombstone)
    else:  # a call re-created after an erasure (a late duplicate webhook) is erased again
        previous = tombstone.removed or {}
        removed["objects"] = sorted(set(previous.get("objects", [])) | set(removed["objects"]))
        removed["twilio_recordings"] = sorted(set(previous.get("twilio_recordings", []))
                                              | set(removed["twilio_recordings"]))
        tombstone.removed, tombstone.erased_at, tombstone.erased_by, tombstone.reason = removed, now, actor, reason
        tombstone.deletions_pending = True
    session.flush()
    # In the erasure's transaction: what was still to be sent about the call is dropped, and
    # receivers are told to delete their copy (queued by the workers' reconciler).
    webhook_events.call_erased(session, account_id, call_sid, now, reason)
    session.add(AuditEvent(at=now, actor=actor, action="call.erase", account_id=account_id, call_sid=call_sid,
                           detail={"reason": reason, "objects": len(removed["objects"]),
                                   "twilio_recordings": len(removed["twilio_recordings"])}))
    session.flush()
    return tombstone
