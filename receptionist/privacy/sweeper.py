"""The retention sweep: the app's own guarantee that what is past its time is gone, beside S3's
lifecycle rules (which a bucket may lack, which some S3 servers only store, and which know
nothing of the database or of Twilio's copy).

Each day it erases calls whose `expires_at` has passed (every object version, Twilio's copy, the
rows, leaving a tombstone), purges accounts closed more than 90 days ago, and deletes objects
whose call no longer exists in the database (left by an erasure interrupted half-way, or delete
markers lifecycle left behind). `now` is a parameter so tests, and a dry run, can move the clock.

The daily schedule is a job that schedules its own successor: the worker already runs RQ's
scheduler (`with_scheduler`), so a job enqueued for tomorrow 03:00 UTC needs nothing more, and
the job id names the day, so any number of workers or restarts still make one sweep a day. RQ's
cron support would need its own long-running `rq cron` process to deploy and keep single.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from redis import Redis
from sqlalchemy import delete, select

from receptionist.core.db import Database
from receptionist.core.models import Account, AuditEvent, Call
from receptionist.core.ports import TelephonyApi
from receptionist.core.queue import JobQueue
from receptionist.privacy.erasure import erase_call
from receptionist.privacy.retention import CLOSED_ACCOUNT_GRACE_DAYS
from receptionist.storage.objects import (
    ACCOUNTS_PREFIX,
    ObjectStore,
    account_prefix,
    call_prefix,
    parse_key,
)

log = logging.getLogger(__name__)

SWEEP_ACTOR = "system:retention-sweep"
SWEEP_HOUR_UTC = 3
LAST_SWEEP_KEY = "receptionist:retention-sweep:last"
SWEEP_LOCK = "receptionist:retention-sweep:lock"
_BATCH = 200


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    expired_calls: list[str] = field(default_factory=list)
    purged_accounts: list[str] = field(default_factory=list)
    orphaned_calls: list[str] = field(default_factory=list)  # "account/call" prefixes with no call row
    objects_deleted: int = 0
    twilio_pending: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "expired_calls": self.expired_calls,
                "purged_accounts": self.purged_accounts, "orphaned_calls": self.orphaned_calls,
                "objects_deleted": self.objects_deleted, "twilio_pending": self.twilio_pending}

    def describe(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"retention sweep at {self.now.isoformat()}: {verb} {len(self.expired_calls)} expired call(s), "
                f"{len(self.purged_accounts)} closed account(s), {len(self.orphaned_calls)} orphaned call folder(s)"
                + ("" if self.dry_run else f", {self.objects_deleted} object version(s)")
                + (f"; Twilio deletion pending for {len(self.twilio_pending)}" if self.twilio_pending else ""))


def sweep(db: Database, store: ObjectStore, twilio: TelephonyApi | None, *, now: datetime,
          queue: JobQueue | None = None, dry_run: bool = False) -> SweepReport:
    """Delete everything that is past its time at `now`. With `queue`, Twilio deletions that
    failed are retried by a `finish_erasure` job."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = SweepReport(now, dry_run)
    if not dry_run:
        _fill_missing_expiry(db)
    for call_sid in _expired_calls(db, now):
        report.expired_calls.append(call_sid)
        if not dry_run:
            _erase(db, store, twilio, queue, call_sid, "retention", report)
    for account_id in _accounts_past_grace(db, now):
        report.purged_accounts.append(account_id)
        if not dry_run:
            purge_account(db, store, twilio, queue, account_id, report)
    for prefix in _orphaned_call_prefixes(db, store):
        report.orphaned_calls.append(prefix)
        if not dry_run:
            report.objects_deleted += len(store.delete_prefix(prefix))
    log.info(report.describe())
    return report


def purge_account(db: Database, store: ObjectStore, twilio: TelephonyApi | None, queue: JobQueue | None,
                  account_id: str, report: SweepReport) -> None:
    """A closed account past its grace period: every call erased, every object gone, the account
    row (with its numbers, users and text-backs) deleted; tombstones and the audit log remain."""
    with db.session() as session:
        call_sids = session.scalars(select(Call.call_sid).where(Call.account_id == account_id)).all()
    for call_sid in call_sids:
        _erase(db, store, twilio, queue, call_sid, "account-closed", report)
    report.objects_deleted += len(store.delete_prefix(account_prefix(account_id)))
    with db.session() as session:
        session.execute(delete(Account).where(Account.id == account_id))
        session.add(AuditEvent(actor=SWEEP_ACTOR, action="account.purge", account_id=account_id,
                               detail={"calls": len(call_sids), "grace_days": CLOSED_ACCOUNT_GRACE_DAYS}))


def _erase(db, store, twilio, queue, call_sid: str, reason: str, report: SweepReport) -> None:
    result = erase_call(db, store, twilio, call_sid, actor=SWEEP_ACTOR, reason=reason)
    if result is None:
        return
    report.objects_deleted += result.versions_deleted
    if result.twilio_pending:
        report.twilio_pending.extend(result.twilio_pending)
        if queue is not None:
            queue.enqueue_finish_erasure(call_sid)


def _fill_missing_expiry(db: Database) -> None:
    with db.session() as session:
        for call in session.scalars(select(Call).where(Call.expires_at.is_(None))):
            call.expires_at = call.started_at + timedelta(days=call.retention_days)


def _expired_calls(db: Database, now: datetime) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Call.call_sid).where(Call.expires_at <= now).order_by(Call.expires_at)))


def _accounts_past_grace(db: Database, now: datetime) -> list[str]:
    cutoff = now - timedelta(days=CLOSED_ACCOUNT_GRACE_DAYS)
    with db.session() as session:
        for account in session.scalars(select(Account).where(Account.status == "closed",
                                                             Account.closed_at.is_(None))):
            account.closed_at = now  # closed without a date: the grace period starts now
        session.flush()
        return list(session.scalars(select(Account.id).where(Account.status == "closed",
                                                              Account.closed_at <= cutoff)))


def _orphaned_call_prefixes(db: Database, store: ObjectStore) -> list[str]:
    """Call folders in the bucket (any version or delete marker) whose call row is gone."""
    seen: dict[str, str] = {}
    for version in store.iter_versions(ACCOUNTS_PREFIX):
        parsed = parse_key(version.key)
        if parsed is not None:
            seen.setdefault(parsed.call_sid, call_prefix(parsed.account_id, parsed.call_sid))
    orphans = []
    sids = list(seen)
    with db.session() as session:
        for start in range(0, len(sids), _BATCH):
            batch = sids[start:start + _BATCH]
            live = set(session.scalars(select(Call.call_sid).where(Call.call_sid.in_(batch))))
            orphans.extend(seen[sid] for sid in batch if sid not in live)
    return orphans


# -- the daily schedule -----------------------------------------------------------------------

def next_slot(now: datetime) -> tuple[str, datetime]:
    """The next daily sweep after `now`: (its name, the day in UTC; when)."""
    utc_now = now.astimezone(timezone.utc)
    at = utc_now.replace(hour=SWEEP_HOUR_UTC, minute=0, second=0, microsecond=0)
    if at <= utc_now:
        at += timedelta(days=1)
    return at.date().isoformat(), at


def ensure_daily_sweep(queue: JobQueue, now: datetime) -> list[str]:
    """At worker start: the next daily sweep is scheduled, and one runs now if none ran in the
    last day (a deployment that was down at 03:00 does not skip a day). Returns what was queued."""
    queued = []
    slot, at = next_slot(now)
    if queue.schedule_retention_sweep(slot, at):
        queued.append(slot)
    last = last_sweep(queue.redis)
    if last is None or last < now - timedelta(hours=25):
        catch_up = f"{now.date().isoformat()}-catch-up"
        if queue.schedule_retention_sweep(catch_up, None):
            queued.append(catch_up)
    return queued


def run_scheduled_sweep(db: Database, store: ObjectStore, twilio: TelephonyApi | None, queue: JobQueue, *,
                        now: datetime) -> SweepReport | None:
    """The daily job: schedule tomorrow's first (so a failing sweep does not end the schedule),
    then sweep; None when another sweep is running."""
    slot, at = next_slot(now)
    queue.schedule_retention_sweep(slot, at)
    lock = queue.redis.lock(SWEEP_LOCK, timeout=6 * 3600, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        log.info("another retention sweep is running; this one stops")
        return None
    try:
        report = sweep(db, store, twilio, now=now, queue=queue)
        queue.redis.set(LAST_SWEEP_KEY, now.isoformat())
        return report
    finally:
        lock.release()


def last_sweep(redis: Redis) -> datetime | None:
    raw = redis.get(LAST_SWEEP_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None
