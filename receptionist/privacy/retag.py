"""Re-tagging an account's objects after its retention or training flag changed.

Lifecycle rules and the training export read the tags, so the tags must follow the database. A
pass walks every object version under the account's prefix in key order, a step of a few hundred
versions at a time; each step saves where it got to (the listing marker) in Redis, so a worker
killed mid-pass resumes where the last step ended, and re-running a step only rewrites tags that
differ. Each step is its own job: a big account never holds a worker for long while calls wait to
be transcribed.

Every change bumps the account's generation (receptionist.privacy.retention); a step that finds a newer
generation than its checkpoint starts the pass over, so a change made during a pass is never lost
behind objects already visited. Tags are decided per call from the database at the moment they are
written, under a short per-call lock shared with the single-call re-tag, so the last writer always
writes the latest committed values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import groupby

from redis import Redis

from receptionist.calls.records import find_call
from receptionist.core.db import Database
from receptionist.core.models import Account, utcnow
from receptionist.privacy.retention import (
    ACCOUNT_GENERATION_KEY,
    account_generation,
    call_tags,
)
from receptionist.storage.objects import (
    ObjectStore,
    ObjectTags,
    ObjectVersion,
    account_prefix,
    call_prefix,
    parse_key,
)

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "receptionist:retag:account:{}:checkpoint"
ACCOUNT_LOCK = "receptionist:retag:account:{}:lock"
CALL_LOCK = "receptionist:retag:call:{}:lock"
STEP_VERSIONS = 500
CHECKPOINT_TTL_S = 30 * 86400


@dataclass
class RetagProgress:
    account_id: str
    generation: int
    total: int = 0  # object versions under the account when the pass began
    done: int = 0  # versions visited so far
    changed: int = 0  # versions whose tags were rewritten
    steps: int = 0
    finished: bool = False
    marker: list[str] | None = None  # [key marker, version-id marker] where the next step starts
    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    updated_at: str = field(default_factory=lambda: utcnow().isoformat())

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        state = "finished" if self.finished else f"step {self.steps}"
        return (f"account {self.account_id} generation {self.generation}: {min(self.done, self.total)}/{self.total}"
                f" object versions visited, {self.changed} re-tagged ({state})")


def retag_status(redis: Redis, account_id: str) -> RetagProgress | None:
    """Where the account's current (or last) re-tag pass is."""
    raw = redis.get(CHECKPOINT_KEY.format(account_id))
    if raw is None:
        return None
    return RetagProgress(**json.loads(raw))


def _save(redis: Redis, progress: RetagProgress) -> None:
    progress.updated_at = utcnow().isoformat()
    redis.set(CHECKPOINT_KEY.format(progress.account_id), json.dumps(progress.as_dict()), ex=CHECKPOINT_TTL_S)


def retag_account_step(db: Database, store: ObjectStore, redis: Redis, account_id: str, *,
                       max_versions: int | None = None) -> RetagProgress:
    """Do the next step of the account's current re-tag pass; returns the saved progress."""
    max_versions = max_versions or STEP_VERSIONS
    # One step at a time per account: two jobs of the same pass must not both start at one marker.
    with redis.lock(ACCOUNT_LOCK.format(account_id), timeout=900, blocking_timeout=900):
        generation = account_generation(redis, account_id)
        progress = retag_status(redis, account_id)
        if progress is None or progress.generation != generation:
            total = sum(1 for v in store.iter_versions(account_prefix(account_id)) if not v.is_delete_marker)
            progress = RetagProgress(account_id, generation, total=total)
        if progress.finished:
            return progress
        marker = tuple(progress.marker) if progress.marker else None
        page = store.versions_page(account_prefix(account_id), marker, max_versions)
        for call_sid, versions in groupby(page.versions, key=lambda v: _call_sid(v.key)):
            versions = [v for v in versions if not v.is_delete_marker]
            if call_sid is None or not versions:
                continue
            progress.changed += retag_versions(db, store, redis, account_id, call_sid, versions)
            progress.done += len(versions)
        progress.steps += 1
        progress.marker = list(page.next_marker) if page.next_marker else None
        progress.finished = page.next_marker is None or not page.versions
        _save(redis, progress)
    log.info("re-tag %s", progress.describe())
    return progress


def run_account_retag(db: Database, store: ObjectStore, redis: Redis, account_id: str, *,
                      max_versions: int | None = None,
                      on_progress: Callable[[RetagProgress], None] | None = None) -> RetagProgress:
    """A whole new pass in this process (the operator's `receptionist retention retag`)."""
    redis.incr(ACCOUNT_GENERATION_KEY.format(account_id))
    while True:
        progress = retag_account_step(db, store, redis, account_id, max_versions=max_versions)
        if on_progress is not None:
            on_progress(progress)
        if progress.finished:
            return progress


def retag_call(db: Database, store: ObjectStore, redis: Redis, call_sid: str) -> int | None:
    """Re-tag every version of one call's objects; None when the call no longer exists."""
    with db.session() as session:
        call = find_call(session, call_sid)
        account_id = call.account_id if call is not None else None
    if account_id is None:
        return None
    versions = [v for v in store.all_versions(call_prefix(account_id, call_sid)) if not v.is_delete_marker]
    return retag_versions(db, store, redis, account_id, call_sid, versions)


def retag_versions(db: Database, store: ObjectStore, redis: Redis, account_id: str, call_sid: str,
                   versions: list[ObjectVersion]) -> int:
    """Give these versions of one call's objects the tags the database says now; returns how many changed."""
    with redis.lock(CALL_LOCK.format(call_sid), timeout=120, blocking_timeout=120):
        tags = desired_tags(db, account_id, call_sid)
        if tags is None:
            return 0
        return sum(store.set_tags(version, tags) for version in versions)


def desired_tags(db: Database, account_id: str, call_sid: str) -> ObjectTags | None:
    """The call's tags; for an object whose call is gone (left for the sweeper), the account's
    retention and opted-out, which never lets it into a training set. None without the account."""
    with db.session() as session:
        call = find_call(session, call_sid)
        if call is not None:
            return call_tags(call)
        account = session.get(Account, account_id)
        if account is None:
            return None
        return ObjectTags(account.id, account.retention_days, True)


def _call_sid(key: str) -> str | None:
    parsed = parse_key(key)
    return parsed.call_sid if parsed else None
