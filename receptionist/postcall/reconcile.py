"""The reconciler: queue again every piece of committed work that has no live job.

The database, not Redis, remembers what is owed: a recording row that is queued (or whose
worker's claim has lapsed), a call owed its missed-call job or its alert (`Call.followup`). A
webhook that committed its row while Redis was down, or a Redis restarted without persistence,
leaves work no job stands for (a webhook delivery due, or whose sender died mid-attempt, among it); so
does an erasure whose deletions outside the database (S3 versions, Twilio's copies) were not
confirmed done, and a retry left waiting past its time because the worker whose process ran RQ's
scheduler was killed. A call whose recording was waited for and never reported (neither
`completed` nor `absent` by `Call.recording_due_at`) is decided here without it, so the wait
survives restarts and the owner is still alerted. Every worker runs this at start and on a schedule
(`RECEPTIONIST_RECONCILE_INTERVAL_S`). It is safe to run anywhere at any time: jobs have
deterministic ids and `JobQueue.enqueue_once` queues none that is already queued, running or
waiting for its retry, and a recording's claim (`postcall.claims`) keeps a second run from
processing what a live worker is processing. A recording given up is never queued again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select

from receptionist.calls.outcome import overdue
from receptionist.calls.records import FOLLOWUP_CALL_ENDED
from receptionist.core.db import Database
from receptionist.core.models import Call, Recording, Tombstone, WebhookDelivery, utcnow
from receptionist.core.queue import JobQueue


ERASURE_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Reconciled:
    recordings_owed: int
    recordings_queued: int
    calls_owed: int
    calls_queued: int
    outcomes_overdue: int = 0  # calls decided without the recording they waited for
    erasures_owed: int = 0  # erased calls with deletions outside the database not known done
    erasures_queued: int = 0
    webhooks_owed: int = 0  # webhook deliveries due (or whose sender's claim lapsed)
    webhooks_queued: int = 0
    overdue_released: int = 0  # retries and timed jobs past due that no scheduler had queued

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def reconcile(db: Database, queue: JobQueue, *, limit: int = 1000) -> Reconciled:
    """Queue what the database says is owed and Redis holds no job for (oldest first, at most
    `limit` of each kind per run). Raises `QueueUnavailable` when Redis is away."""
    now = utcnow()
    decided = decide_overdue(db, now, limit=limit)
    with db.session() as session:
        recordings = session.scalars(
            select(Recording.recording_sid)
            .where(or_(Recording.status == "queued",
                       and_(Recording.status == "processing",
                            or_(Recording.lease_until.is_(None), Recording.lease_until < now))))
            .order_by(Recording.id).limit(limit)).all()
        calls = session.execute(select(Call.call_sid, Call.followup).where(Call.followup.is_not(None))
                                .order_by(Call.id).limit(limit)).all()
        # An erasure finishes its deletions itself a moment after its rows are gone: only one left
        # pending for a while lost its job (or is waiting for Twilio, whose retry is queued).
        erasures = session.scalars(select(Tombstone.call_sid)
                                   .where(Tombstone.deletions_pending.is_(True),
                                          Tombstone.erased_at < now - ERASURE_GRACE)
                                   .order_by(Tombstone.id).limit(limit)).all()
        webhooks = session.execute(select(WebhookDelivery.id, WebhookDelivery.attempts)
                                   .where(or_(and_(WebhookDelivery.status == "pending",
                                                   WebhookDelivery.next_attempt_at <= now),
                                              and_(WebhookDelivery.status == "sending",
                                                   WebhookDelivery.lease_until < now)))
                                   .order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
    queued_recordings = sum(1 for sid in recordings if queue.enqueue_recording(sid))
    queued_calls = 0
    for call_sid, kind in calls:
        enqueue = queue.enqueue_call_ended if kind == FOLLOWUP_CALL_ENDED else queue.enqueue_alert_without_recording
        queued_calls += bool(enqueue(call_sid))
    queued_erasures = sum(1 for sid in erasures if queue.enqueue_finish_erasure(sid))
    queued_webhooks = sum(1 for delivery_id, attempts in webhooks if queue.enqueue_webhook(delivery_id, attempts))
    released = queue.release_overdue()
    return Reconciled(len(recordings), queued_recordings, len(calls), queued_calls, decided, len(erasures),
                      queued_erasures, len(webhooks), queued_webhooks, released)


def decide_overdue(db: Database, now, *, limit: int = 1000) -> int:
    """Calls whose recording was waited for past `Call.recording_due_at` and never reported: decide
    their outcome without it and owe their alert (queued below with the rest of what is owed).
    Returns how many were decided."""
    decided = 0
    with db.session() as session:
        # Locked (PostgreSQL), and skipped when another worker's reconciler holds them.
        calls = session.scalars(select(Call).where(Call.recording_due_at.is_not(None), Call.recording_due_at < now)
                                .order_by(Call.id).limit(limit).with_for_update(of=Call, skip_locked=True)).all()
        for call in calls:
            decided += overdue(session, call).owed is not None
    return decided
