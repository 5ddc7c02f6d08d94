"""Who processes a recording: a claim in the database that one worker holds at a time.

Redis may forget a job while its worker still runs it (a restart without persistence), and the
reconciler then queues the recording again; the claim is what keeps a second worker from
processing it at the same time. A claim names its worker and holds until `lease_until`, which the
worker renews while it lives (`renew_claims`); a lapsed claim whose worker is gone is taken over.
Every claim counts an attempt, and a run that fails gives its reason (`pipeline.record_failure`):
a recording that fails, or kills the process transcribing it (out of memory, a crash in a native
library: `postcall.transcriber_process`), `max_attempts` times is given up instead of taking every
worker down in turn. A run whose whole worker died (an operator, a deploy, a host going away: the
worker's own process holds nothing that grows with a recording) is not the recording's doing: the
claim that takes it over gives its attempt back and counts it as abandoned instead, and only
`ABANDONED_PER_ATTEMPT` times `max_attempts` of those give a recording up, the net under a worker
that dies of something this module cannot see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from enum import Enum

from sqlalchemy import select, update

from receptionist.core.db import Database
from receptionist.core.models import Recording, utcnow

ABANDONED_PER_ATTEMPT = 3


class Claim(Enum):
    CLAIMED = "claimed"  # ours to process now
    GONE = "gone"  # no such recording (erased while its job waited)
    DONE = "already-done"
    FAILED = "failed"  # given up before: never processed again
    HELD = "held-elsewhere"  # a live worker is processing it
    EXHAUSTED = "attempts-exhausted"  # every allowed attempt was used: give it up
    ABANDONED = "abandoned-exhausted"  # its workers died under it too often: give it up


def claim_recording(db: Database, recording_sid: str, owner: str, *, lease_s: float, max_attempts: int,
                    holder_alive: Callable[[str], bool] = lambda name: False,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[Claim, int]:
    """Claim the recording for `owner`; returns what happened and the attempts counted so far.

    A claim held by another worker whose lease has not lapsed is waited out when that worker is
    known to be gone (`holder_alive` says no: it was just killed), else left to it.
    """
    for _ in range(5):
        with db.session() as session:
            row = session.execute(select(Recording.status, Recording.attempts, Recording.abandoned_runs,
                                         Recording.claimed_by, Recording.lease_until)
                                  .where(Recording.recording_sid == recording_sid)).first()
        if row is None:
            return Claim.GONE, 0
        if row.status == "done":
            return Claim.DONE, row.attempts
        if row.status == "failed":
            return Claim.FAILED, row.attempts
        now = utcnow()
        holder = row.claimed_by
        if row.status == "processing" and holder and holder != owner:
            if holder_alive(holder):
                return Claim.HELD, row.attempts
            if row.lease_until is not None and row.lease_until > now:
                sleep(min((row.lease_until - now).total_seconds(), lease_s) + 0.05)
                continue
        # A run still `processing` under another name was abandoned: its worker died whole.
        abandoned = row.status == "processing" and holder is not None and holder != owner
        attempts = row.attempts - 1 if abandoned and row.attempts > 0 else row.attempts
        abandoned_runs = (row.abandoned_runs or 0) + (1 if abandoned else 0)
        if attempts >= max_attempts:
            return Claim.EXHAUSTED, attempts
        if abandoned_runs >= ABANDONED_PER_ATTEMPT * max_attempts:
            return Claim.ABANDONED, abandoned_runs
        # Compare-and-set on what was read, so of two workers claiming at once exactly one wins.
        seen_holder = Recording.claimed_by.is_(None) if holder is None else Recording.claimed_by == holder
        with db.session() as session:
            won = session.execute(
                update(Recording)
                .where(Recording.recording_sid == recording_sid, Recording.status == row.status,
                       Recording.attempts == row.attempts, seen_holder)
                .values(status="processing", attempts=attempts + 1, abandoned_runs=abandoned_runs,
                        claimed_by=owner, lease_until=now + timedelta(seconds=lease_s))
                .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            return Claim.CLAIMED, attempts + 1
    return Claim.HELD, row.attempts


def renew_claims(db: Database, owner: str, lease_s: float) -> int:
    """Extend the lease of every recording `owner` is processing; how many it holds."""
    with db.session() as session:
        return session.execute(
            update(Recording).where(Recording.claimed_by == owner, Recording.status == "processing")
            .values(lease_until=utcnow() + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)).rowcount


def release_claims(db: Database, prefix: str, *, keep: str) -> list[str]:
    """Let go at once of the claims held by workers named `prefix…` other than `keep` (dead
    processes of `keep`'s slot: see `workers.worker`); returns their names. Their recordings stay
    `processing` with a lapsed lease, which the next claim takes over and the reconciler requeues."""
    held = (Recording.claimed_by.startswith(prefix, autoescape=True), Recording.claimed_by != keep,
            Recording.status == "processing")
    with db.session() as session:
        names = sorted(set(session.scalars(select(Recording.claimed_by).where(*held)).all()))
        if names:
            session.execute(update(Recording).where(*held).values(lease_until=utcnow())
                            .execution_options(synchronize_session=False))
    return names
