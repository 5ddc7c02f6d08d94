"""The job queue (RQ on Redis) as the web side sees it: enqueue a recording exactly once.

Jobs are named by import path so the web process never imports the worker's heavy code. Redis is
not where work is remembered: every job is owed by a committed database row, and the workers'
reconciler (`receptionist.postcall.reconcile`) queues again what Redis lost, so a caller whose
enqueue fails (`QueueUnavailable`) logs it and carries on.
"""

from __future__ import annotations

import time
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job
from rq.registry import ScheduledJobRegistry

PROCESS_RECORDING = "workers.jobs.process_recording"
CALL_ENDED = "workers.jobs.call_ended"
ALERT_WITHOUT_RECORDING = "workers.jobs.alert_without_recording"
RETAG_ACCOUNT = "workers.jobs.retag_account"
RETAG_CALL = "workers.jobs.retag_call"
RETENTION_SWEEP = "workers.jobs.retention_sweep"
FINISH_ERASURE = "workers.jobs.finish_erasure"
SEND_WEBHOOK = "workers.jobs.send_webhook"
# After a step's own retry window closes (an outage longer than minutes) the whole job comes back
# later, and again, before it is given up as failed.
JOB_RETRY = Retry(max=8, interval=[30, 60, 120, 300, 600, 1200, 1800, 3600])
# A live RQ scheduler queues a due job within about a second; one due longer than this has none.
OVERDUE_GRACE_S = 30.0


def recording_job_id(recording_sid: str) -> str:
    return f"recording-{recording_sid}"


def webhook_job_id(delivery_id: int, attempts: int) -> str:
    return f"webhook-{delivery_id}-a{attempts}"


class QueueUnavailable(Exception):
    """Redis could not be reached to queue a job; the database row that owes it is the record."""


class JobQueue:
    def __init__(self, redis: Redis, name: str, job_timeout_s: int):
        self.redis = redis
        self.queue = Queue(name, connection=redis)
        self.job_timeout_s = job_timeout_s

    @classmethod
    def from_url(cls, url: str, name: str, job_timeout_s: int) -> JobQueue:
        # Short timeouts: a Redis that is down or hung must not hold a webhook that has committed.
        return cls(Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0), name, job_timeout_s)

    def enqueue_recording(self, recording_sid: str) -> bool:
        return self.enqueue_once(PROCESS_RECORDING, recording_sid, recording_job_id(recording_sid),
                                 f"process recording {recording_sid}")

    def enqueue_call_ended(self, call_sid: str) -> bool:
        return self.enqueue_once(CALL_ENDED, call_sid, f"call-ended-{call_sid}", f"missed call {call_sid}")

    def enqueue_alert_without_recording(self, call_sid: str) -> bool:
        return self.enqueue_once(ALERT_WITHOUT_RECORDING, call_sid, f"alert-{call_sid}", f"alert for {call_sid}")

    def enqueue_retag_account(self, account_id: str, generation: int, step: int = 0) -> bool:
        """Re-tag an account's objects. Each change of the account's flags is a new generation and
        gets its own job (a job already finished or running for an older generation must not
        swallow the new one); a run that did not finish the pass queues its next step."""
        return self.enqueue_once(RETAG_ACCOUNT, account_id, f"retag-account-{account_id}-g{generation}-s{step}",
                                 f"re-tag objects of account {account_id} (generation {generation}, step {step})")

    def enqueue_retag_call(self, call_sid: str, generation: int) -> bool:
        return self.enqueue_once(RETAG_CALL, call_sid, f"retag-call-{call_sid}-g{generation}",
                                 f"re-tag objects of call {call_sid}")

    def enqueue_finish_erasure(self, call_sid: str) -> bool:
        return self.enqueue_once(FINISH_ERASURE, call_sid, f"finish-erasure-{call_sid}",
                                 f"finish erasing call {call_sid} (S3 versions, Twilio's copy)")

    def enqueue_webhook(self, delivery_id: int, attempts: int, at: datetime | None = None) -> bool:
        """Send a webhook delivery (at `at`, its next attempt's time); one job per delivery and attempt."""
        return self.enqueue_once(SEND_WEBHOOK, str(delivery_id), webhook_job_id(delivery_id, attempts),
                                 f"webhook delivery {delivery_id} (after {attempts} attempts)", at=at)

    def schedule_retention_sweep(self, slot: str, at: datetime | None) -> bool:
        """The sweep of one daily slot (named by its date) at `at` (None: now); one job per slot."""
        return self.enqueue_once(RETENTION_SWEEP, slot, f"retention-sweep-{slot}", f"retention sweep {slot}", at=at)

    def enqueue_once(self, func: str, arg: str, job_id: str, description: str, at: datetime | None = None) -> bool:
        """Enqueue unless a job with this id is already queued, running or scheduled for retry.

        The database decides whether work is still needed; this decides whether a job for it
        already exists. A short lock closes the race between two duplicate callbacks, and expires
        by itself, so a crash between the check and the enqueue only delays a retry.
        Raises `QueueUnavailable` when Redis cannot be reached.
        """
        try:
            return self._enqueue_once(func, arg, job_id, description, at)
        except RedisError as exc:
            raise QueueUnavailable(f"could not queue {job_id}: {type(exc).__name__}: {exc}") from exc

    def _enqueue_once(self, func: str, arg: str, job_id: str, description: str, at: datetime | None) -> bool:
        lock = self.redis.lock(f"receptionist:enqueue:{job_id}", timeout=30, blocking_timeout=5)
        if not lock.acquire():
            return False
        try:
            if self._job_alive(job_id):
                return False
            options = dict(job_id=job_id, job_timeout=self.job_timeout_s, retry=JOB_RETRY,
                           result_ttl=3600, failure_ttl=30 * 86400, description=description)
            if at is None:
                self.queue.enqueue(func, arg, **options)
            else:
                self.queue.enqueue_at(at, func, arg, **options)
            return True
        finally:
            lock.release()

    def _job_alive(self, job_id: str) -> bool:
        try:
            job = Job.fetch(job_id, connection=self.redis)
        except Exception:  # NoSuchJobError, or a job hash left half-written
            return False
        # A finished job does not count: every job is idempotent, and what it already did it skips
        # (a new recording of an erased call, say, needs the erasure job to run again).
        return job.get_status(refresh=False) in ("queued", "started", "deferred", "scheduled")

    def release_overdue(self, grace_s: float = OVERDUE_GRACE_S) -> int:
        """Queue the retries and timed jobs that came due more than `grace_s` ago; how many.

        RQ's scheduler, which queues them when due, is a process of one worker. When that worker
        is killed, another takes the scheduler over only at its next maintenance (every ten
        minutes, later still while it waits idle for a job), and until then every retry waits.
        Each job is queued once: of two workers releasing it, only the one whose removal from the
        registry took effect queues it. Raises `QueueUnavailable` when Redis is away."""
        try:
            registry = ScheduledJobRegistry(queue=self.queue)
            released = 0
            for job_id in self.redis.zrangebyscore(registry.key, 0, time.time() - grace_s):
                if not self.redis.zrem(registry.key, job_id):
                    continue  # the scheduler, or another worker, queued it just now
                try:
                    job = Job.fetch(job_id.decode() if isinstance(job_id, bytes) else job_id, connection=self.redis)
                except Exception:  # its hash expired: the reconciler queues what the database still owes
                    continue
                self.queue.enqueue_job(job)
                released += 1
            return released
        except RedisError as exc:
            raise QueueUnavailable(f"could not release overdue jobs: {type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        self.redis.ping()
