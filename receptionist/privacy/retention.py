"""An account's retention tier and training opt-out, and a call's own opt-out: the database side.

These are the functions the API's PATCH routes call. They change the rows in the caller's session
(no commit of their own) and, once that session commits, ask the worker to re-tag the objects in
S3, so the tags lifecycle rules and the training export read always follow the database. Enqueuing
after the commit matters: a job that ran before it would read the old values and tag with them.

The call's `training_opt_out` is the call's own choice (set from the account's flag when the call
starts) and is never overwritten by a change of the account's flag: an account that opts out
covers all its calls at once through the tag, and one that opts back in does not release the
calls recorded while it was out, nor calls opted out one by one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from receptionist.calls.records import find_call
from receptionist.core.errors import Invalid, NotFound
from receptionist.core.models import Account, Call
from receptionist.core.queue import JobQueue
from receptionist.settings import RETENTION_TIERS
from receptionist.storage.objects import ObjectTags

log = logging.getLogger(__name__)

ACCOUNT_GENERATION_KEY = "receptionist:retag:account:{}:generation"
CALL_GENERATION_KEY = "receptionist:retag:call:{}:generation"
# A closed account's data is kept this long after closing, then the sweeper purges it.
CLOSED_ACCOUNT_GRACE_DAYS = 90
_BATCH = 500


class RetentionTierError(Invalid):
    """A retention that is not one of the tiers (there is one lifecycle rule per tier, no other)."""

    def __init__(self, value: object):
        super().__init__(f"retention_days must be one of {', '.join(map(str, RETENTION_TIERS))} (got {value})")


def validate_retention_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in RETENTION_TIERS:
        raise RetentionTierError(value)
    return value


def training_opted_out(call: Call, account: Account | None = None) -> bool:
    """Either the account or the call saying opted-out keeps the call out of training data."""
    account = account if account is not None else call.account
    return bool(call.training_opt_out or account.training_opt_out)


def call_tags(call: Call, account: Account | None = None) -> ObjectTags:
    """The tags every object of this call must carry, from the database's current values."""
    account = account if account is not None else call.account
    return ObjectTags(account.id, call.retention_days, training_opted_out(call, account))


@dataclass(frozen=True)
class PrivacyChange:
    account_id: str
    retention_changed: bool
    training_changed: bool
    calls_updated: int  # calls whose retention_days and expires_at were rewritten

    @property
    def retag_needed(self) -> bool:
        return self.retention_changed or self.training_changed


def apply_account_settings(session: Session, account: Account | str, *, queue: JobQueue | None,
                           retention_days: int | None = None, training_opt_out: bool | None = None) -> PrivacyChange:
    """Apply an account's new `retention_days` and/or `training_opt_out`.

    Validates the tier (RetentionTierError, a 422 listing the tiers), updates the account and
    every call's `retention_days` and `expires_at` (started_at + the new tier; a call whose new
    time has passed is deleted by the next sweep), and once `session` commits enqueues the job that
    re-tags every object of the account. Nothing is committed here; the caller commits.
    """
    if retention_days is not None:
        retention_days = validate_retention_days(retention_days)
    if isinstance(account, str):
        found = session.get(Account, account)
        if found is None:
            raise NotFound(f"no account {account}")
        account = found
    retention_changed = retention_days is not None and retention_days != account.retention_days
    training_changed = training_opt_out is not None and bool(training_opt_out) != account.training_opt_out
    if retention_changed or training_changed:
        _require(queue)
    calls_updated = 0
    if retention_changed:
        account.retention_days = retention_days
        calls_updated = _rewrite_call_retention(session, account.id, retention_days)
    if training_changed:
        account.training_opt_out = bool(training_opt_out)
    session.flush()
    change = PrivacyChange(account.id, retention_changed, training_changed, calls_updated)
    if change.retag_needed:
        account_id = account.id
        _after_commit(session, lambda: request_account_retag(queue, account_id))
    return change


def apply_call_training(session: Session, call: Call | str, opt_out: bool, *, queue: JobQueue | None) -> bool:
    """Set one call's own training opt-out; once `session` commits, its objects are re-tagged.

    Returns whether the flag changed. (The objects' tag is opted-out while either this flag or
    the account's is set.)"""
    if isinstance(call, str):
        found = find_call(session, call)
        if found is None:
            raise NotFound(f"no call {call}")
        call = found
    if bool(opt_out) == call.training_opt_out:
        return False
    _require(queue)
    call.training_opt_out = bool(opt_out)
    session.flush()
    call_sid = call.call_sid
    _after_commit(session, lambda: request_call_retag(queue, call_sid))
    return True


def request_account_retag(queue: JobQueue, account_id: str) -> int:
    """Start a new re-tag pass over the account's objects; returns its generation."""
    generation = int(queue.redis.incr(ACCOUNT_GENERATION_KEY.format(account_id)))
    queue.enqueue_retag_account(account_id, generation)
    log.info("account %s: re-tag generation %d queued", account_id, generation)
    return generation


def request_call_retag(queue: JobQueue, call_sid: str) -> int:
    generation = int(queue.redis.incr(CALL_GENERATION_KEY.format(call_sid)))
    queue.enqueue_retag_call(call_sid, generation)
    return generation


def account_generation(redis: Redis, account_id: str) -> int:
    return int(redis.get(ACCOUNT_GENERATION_KEY.format(account_id)) or 0)


def _rewrite_call_retention(session: Session, account_id: str, days: int) -> int:
    """Every call of the account gets the new tier and its expiry from its own start."""
    rows = session.execute(select(Call.id, Call.started_at).where(Call.account_id == account_id)).all()
    for start in range(0, len(rows), _BATCH):
        session.execute(update(Call), [
            {"id": row.id, "retention_days": days, "expires_at": row.started_at + timedelta(days=days)}
            for row in rows[start:start + _BATCH]
        ])
    # The bulk update bypasses the identity map: calls this session already holds must not keep
    # showing the old values.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Call) and obj.account_id == account_id:
            session.expire(obj, ["retention_days", "expires_at"])
    return len(rows)


def _require(queue: JobQueue | None) -> None:
    if queue is None:  # a change whose objects nobody re-tags would break the promise silently
        raise ValueError("a job queue is needed to re-tag the objects after this change")


def _after_commit(session: Session, action) -> None:
    def run(_session: Session) -> None:
        try:
            action()
        except Exception:
            # The change is committed but no job re-tags its objects: say how to repair it.
            log.exception("could not queue the re-tag job; run `receptionist retention retag` for the account")
            raise

    event.listen(session, "after_commit", run, once=True)
