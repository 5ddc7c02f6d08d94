"""The retention sweep: the app's own guarantee that what is past its time is gone, beside S3's
lifecycle rules (which a bucket may lack, which some S3 servers only store, and which know
nothing of the database or of Twilio's copy).

It deletes only what the database positively says to delete: calls whose `expires_at` has
passed (every object version, Twilio's copy, the rows, leaving a tombstone), accounts closed more
than 90 days ago (their calls), and the objects of calls the database says were erased (a
tombstone: left by an erasure interrupted half-way). A call folder the database does not know at
all is reported, never deleted: an empty database (a process started without its environment), a
staging one, or one restored from an older backup would otherwise take the bucket with it.
`purge_orphans` deletes such folders only when asked by name, and only those older than the
longest retention tier. Before deleting anything the sweep requires that the database and the
bucket are one deployment's (`privacy.deployment`), and one run erases at most `max_deletes`
calls; what is due beyond that is reported and left for the next run. `now` is a parameter so
tests, and a dry run, can move the clock.

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
from receptionist.core.errors import Invalid
from receptionist.core.models import Account, AuditEvent, Call, Tombstone
from receptionist.core.ports import TelephonyApi
from receptionist.core.queue import JobQueue
from receptionist.privacy.deployment import DeploymentMismatch, require_deployment
from receptionist.privacy.erasure import erase_call
from receptionist.privacy.retention import CLOSED_ACCOUNT_GRACE_DAYS
from receptionist.settings import DEFAULT_SWEEP_MAX_DELETES, LONGEST_RETENTION_DAYS
from receptionist.storage.objects import (
    ACCOUNTS_PREFIX,
    ObjectStore,
    call_prefix,
    parse_key,
)

log = logging.getLogger(__name__)

SWEEP_ACTOR = "system:retention-sweep"
PURGE_ACTOR = "system:purge-orphans"
SWEEP_HOUR_UTC = 3
LAST_SWEEP_KEY = "receptionist:retention-sweep:last"
SWEEP_LOCK = "receptionist:retention-sweep:lock"
_BATCH = 200


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    max_deletes: int = DEFAULT_SWEEP_MAX_DELETES
    expired_calls: list[str] = field(default_factory=list)
    purged_accounts: list[str] = field(default_factory=list)
    erased_leftovers: list[str] = field(default_factory=list)  # tombstoned calls' folders that were still there
    orphaned_calls: list[str] = field(default_factory=list)  # "accounts/…/calls/…/" the database does not know
    deferred_calls: list[str] = field(default_factory=list)  # due, left for the next run by the cap
    deferred_accounts: list[str] = field(default_factory=list)  # closed accounts not fully purged (the cap)
    objects_deleted: int = 0
    twilio_pending: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "max_deletes": self.max_deletes,
                "expired_calls": self.expired_calls, "purged_accounts": self.purged_accounts,
                "erased_leftovers": self.erased_leftovers, "orphaned_calls": self.orphaned_calls,
                "deferred_calls": self.deferred_calls, "deferred_accounts": self.deferred_accounts,
                "objects_deleted": self.objects_deleted, "twilio_pending": self.twilio_pending}

    def describe(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = (f"retention sweep at {self.now.isoformat()}: {verb} {len(self.expired_calls)} expired call(s), "
                f"{len(self.purged_accounts)} closed account(s), {len(self.erased_leftovers)} erased call folder(s)"
                + ("" if self.dry_run else f", {self.objects_deleted} object version(s)"))
        if self.orphaned_calls:
            text += (f"; {len(self.orphaned_calls)} call folder(s) unknown to this database reported, not deleted "
                     "(see `receptionist retention purge-orphans`)")
        if self.deferred_calls or self.deferred_accounts:
            text += (f"; the cap of {self.max_deletes} call(s) per run was reached: {len(self.deferred_calls)} call(s)"
                     f" and {len(self.deferred_accounts)} closed account(s) left for the next run")
        if self.twilio_pending:
            text += f"; Twilio deletion pending for {len(self.twilio_pending)}"
        return text


class _Budget:
    """What one run may still erase, in calls."""

    def __init__(self, limit: int):
        self.left = limit

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def sweep(db: Database, store: ObjectStore, twilio: TelephonyApi | None, *, now: datetime,
          queue: JobQueue | None = None, dry_run: bool = False,
          max_deletes: int = DEFAULT_SWEEP_MAX_DELETES) -> SweepReport:
    """Delete what the database says is past its time at `now`, at most `max_deletes` calls; report
    call folders it does not know. DeploymentMismatch (nothing deleted) when the database and the
    bucket are not one deployment's. With `queue`, Twilio deletions that failed are retried by a
    `finish_erasure` job."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if max_deletes < 1:
        raise ValueError("max_deletes must be at least 1")
    require_deployment(db, store)
    report = SweepReport(now, dry_run, max_deletes)
    budget = _Budget(max_deletes)
    if not dry_run:
        _fill_missing_expiry(db)
    for call_sid in _expired_calls(db, now):
        if not budget.take():
            report.deferred_calls.append(call_sid)
            continue
        report.expired_calls.append(call_sid)
        if not dry_run:
            _erase(db, store, twilio, queue, call_sid, "retention", report)
    for account_id in _accounts_past_grace(db, now, dry_run):
        if purge_account(db, store, twilio, queue, account_id, report, budget=budget, dry_run=dry_run):
            report.purged_accounts.append(account_id)
        else:
            report.deferred_accounts.append(account_id)
    folders = call_folders(db, store)
    for prefix, call_sid in folders.erased.items():
        if not budget.take():
            report.deferred_calls.append(call_sid)
            continue
        report.erased_leftovers.append(prefix)
        if not dry_run:
            report.objects_deleted += len(store.delete_prefix(prefix))
    report.orphaned_calls = sorted(folders.unknown)
    log.info(report.describe())
    if report.orphaned_calls:
        log.warning("%d call folder(s) in bucket %s are unknown to this database and were left alone, e.g. %s",
                    len(report.orphaned_calls), store.bucket, report.orphaned_calls[0])
    return report


def purge_account(db: Database, store: ObjectStore, twilio: TelephonyApi | None, queue: JobQueue | None,
                  account_id: str, report: SweepReport, *, budget: _Budget | None = None,
                  dry_run: bool = False) -> bool:
    """A closed account past its grace period: every call erased, the account row (with its
    numbers, users and text-backs) deleted; tombstones and the audit log remain. Folders under the
    account that the database does not know are left (reported as orphans): a database restored
    from before the account reopened must not take its later calls. False when the cap stopped it
    before the last call (the account stays for the next run)."""
    with db.session() as session:
        call_sids = session.scalars(select(Call.call_sid).where(Call.account_id == account_id)
                                    .order_by(Call.started_at)).all()
    for call_sid in call_sids:
        if budget is not None and not budget.take():
            return False
        if not dry_run:
            _erase(db, store, twilio, queue, call_sid, "account-closed", report)
    if dry_run:
        return True
    with db.session() as session:
        session.execute(delete(Account).where(Account.id == account_id))
        session.add(AuditEvent(actor=SWEEP_ACTOR, action="account.purge", account_id=account_id,
                               detail={"calls": len(call_sids), "grace_days": CLOSED_ACCOUNT_GRACE_DAYS}))
    return True


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


def _accounts_past_grace(db: Database, now: datetime, dry_run: bool = False) -> list[str]:
    cutoff = now - timedelta(days=CLOSED_ACCOUNT_GRACE_DAYS)
    with db.session() as session:
        if not dry_run:
            for account in session.scalars(select(Account).where(Account.status == "closed",
                                                                 Account.closed_at.is_(None))):
                account.closed_at = now  # closed without a date: the grace period starts now
            session.flush()
        return list(session.scalars(select(Account.id).where(Account.status == "closed",
                                                              Account.closed_at <= cutoff)
                                    .order_by(Account.closed_at)))


# -- what the bucket holds that the database has no live call for ---------------------------------

@dataclass
class CallFolders:
    erased: dict[str, str] = field(default_factory=dict)  # prefix -> call sid; a tombstone says erased: delete
    unknown: dict[str, datetime | None] = field(default_factory=dict)  # prefix -> its newest version's date


def call_folders(db: Database, store: ObjectStore) -> CallFolders:
    """Call folders in the bucket (any version or delete marker) without a call row: those whose
    erasure a tombstone records (of the same account), and those the database does not know."""
    seen: dict[str, tuple[str, str, datetime | None]] = {}  # prefix -> (account, call sid, newest version's date)
    for version in store.iter_versions(ACCOUNTS_PREFIX):
        parsed = parse_key(version.key)
        if parsed is None:
            continue
        prefix = call_prefix(parsed.account_id, parsed.call_sid)
        newest = seen.get(prefix, (None, None, None))[2]
        if version.last_modified is not None and (newest is None or version.last_modified > newest):
            newest = version.last_modified
        seen[prefix] = (parsed.account_id, parsed.call_sid, newest)
    folders = CallFolders()
    prefixes = list(seen)
    with db.session() as session:
        for start in range(0, len(prefixes), _BATCH):
            batch = prefixes[start:start + _BATCH]
            sids = {seen[prefix][1] for prefix in batch}
            live = set(session.scalars(select(Call.call_sid).where(Call.call_sid.in_(sids))))
            erased = {(row.account_id, row.call_sid) for row in session.execute(
                select(Tombstone.account_id, Tombstone.call_sid).where(Tombstone.call_sid.in_(sids)))}
            for prefix in batch:
                account_id, sid, newest = seen[prefix]
                if sid in live:
                    continue
                if (account_id, sid) in erased:
                    folders.erased[prefix] = sid
                else:
                    folders.unknown[prefix] = newest
    return folders


@dataclass
class OrphanPurge:
    now: datetime
    older_than_days: int
    dry_run: bool
    deleted: list[str] = field(default_factory=list)  # (in a dry run: would be)
    younger: list[str] = field(default_factory=list)  # unknown folders written more recently: kept
    deferred: list[str] = field(default_factory=list)  # old enough, left for the next run by the cap
    objects_deleted: int = 0

    def describe(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"orphaned call folders older than {self.older_than_days} days: {verb} {len(self.deleted)}"
                + ("" if self.dry_run else f" ({self.objects_deleted} object version(s))")
                + f"; {len(self.younger)} younger one(s) kept"
                + (f"; {len(self.deferred)} left for the next run by the cap" if self.deferred else ""))


def purge_orphans(db: Database, store: ObjectStore, *, now: datetime, older_than_days: int, dry_run: bool = False,
                  max_deletes: int = DEFAULT_SWEEP_MAX_DELETES) -> OrphanPurge:
    """Delete call folders the database does not know (no call, no tombstone) whose every version
    is older than `older_than_days`, which must be at least the longest retention tier (Invalid
    otherwise): no call the service stored can still be due for keeping then, whatever the
    database forgot. Each folder deleted is audited."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) \
            or older_than_days < LONGEST_RETENTION_DAYS:
        raise Invalid(f"orphans may only be purged when older than the longest retention tier: "
                      f"older_than_days must be at least {LONGEST_RETENTION_DAYS} (got {older_than_days})")
    require_deployment(db, store)
    cutoff = now - timedelta(days=older_than_days)
    result = OrphanPurge(now, older_than_days, dry_run)
    budget = _Budget(max_deletes)
    for prefix, newest in sorted(call_folders(db, store).unknown.items()):
        if newest is None or newest > cutoff:
            result.younger.append(prefix)
            continue
        if not budget.take():
            result.deferred.append(prefix)
            continue
        result.deleted.append(prefix)
        if dry_run:
            continue
        deleted = store.delete_prefix(prefix)
        result.objects_deleted += len(deleted)
        _accounts, account_id, _calls, call_sid, _ = prefix.split("/")
        with db.session() as session:
            session.add(AuditEvent(actor=PURGE_ACTOR, action="storage.orphan-purge", account_id=account_id,
                                   call_sid=call_sid, detail={"versions": len(deleted),
                                                              "older_than_days": older_than_days}))
    log.info(result.describe())
    return result


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
                        now: datetime, max_deletes: int = DEFAULT_SWEEP_MAX_DELETES) -> SweepReport | None:
    """The daily job: schedule tomorrow's first (so a failing sweep does not end the schedule),
    then sweep; None when another sweep is running, or when the database and the bucket are not
    one deployment's (an error is logged, nothing deleted)."""
    slot, at = next_slot(now)
    queue.schedule_retention_sweep(slot, at)
    lock = queue.redis.lock(SWEEP_LOCK, timeout=6 * 3600, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        log.info("another retention sweep is running; this one stops")
        return None
    try:
        try:
            report = sweep(db, store, twilio, now=now, queue=queue, max_deletes=max_deletes)
        except DeploymentMismatch as exc:  # nothing was deleted; an operator must fix the configuration
            log.error("retention sweep refused: %s", exc.message)
            return None
        queue.redis.set(LAST_SWEEP_KEY, now.isoformat())
        return report
    finally:
        lock.release()


def last_sweep(redis: Redis) -> datetime | None:
    raw = redis.get(LAST_SWEEP_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None
