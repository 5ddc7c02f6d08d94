"""The RQ worker that transcribes calls.

Why `SimpleWorker`: RQ's default `Worker` forks a work horse per job. CTranslate2 (under
faster-whisper) is not fork-safe, and loading the model in every horse would cost a model load per
call. `SimpleWorker` runs jobs in the worker process itself, so the model is loaded once, after any
fork, and kept for every job. Jobs still get RQ's timeout (SIGALRM in this process).

Why a lease: a worker killed with SIGKILL leaves its job in RQ's started-job registry until the
job's timeout (+60 s) has passed, half an hour for our long-call timeout. Each worker instead keeps
a short lease key alive from a thread; any worker that finds a started job whose owner's lease has
lapsed puts it back on the queue at once, so a killed worker's call is processed again within about
a lease period. The job itself is idempotent, so a second run finishes the work once. The same
thread renews the database claims of the recording this worker is processing
(`receptionist.postcall.claims`), so no other worker takes it over while this one lives.

Why a slot: a worker restarted by systemd (`Restart=always`) is the only live process of its
instance, so whatever a process of its slot (`RECEPTIONIST_WORKER_SLOT`, `%H-%i` in the unit)
left running was left by a dead one. A worker starting in a slot takes that over at once (its
started jobs requeued, its database claims released) instead of waiting for the lease to lapse:
a killed worker's call is processed again as soon as its replacement is up, a few seconds.

Why it waits at start: a server that goes away between the start-up checks (which refuse an
unreachable one loudly: `receptionist.cli.doctor`) and the first use is waited out with backoff
(`RECEPTIONIST_STEP_RETRY_WINDOW`) rather than failing the start half-way.

Why a reconciler: Redis is not where work is remembered. Each worker queues again, at start and
every `RECEPTIONIST_RECONCILE_INTERVAL_S`, what the database says is owed and Redis has no job
for (`receptionist.postcall.reconcile`).

Why attempts count: a recording that kills what transcribes it (out of memory, a native crash)
bypasses RQ's retry count. The model runs in a process of its own
(`receptionist.postcall.transcriber_process`), so such a death fails the job with its reason
while the worker lives on; every claim counts an attempt, and after
`RECEPTIONIST_MAX_RECORDING_ATTEMPTS` the recording is given up with its reason and the owner is
alerted without a transcript. A worker killed whole is not the recording's doing: its run is
counted as abandoned, not as an attempt (`receptionist.postcall.claims`).
"""

from __future__ import annotations

import logging
import threading
import uuid

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus

from receptionist.calls.records import FOLLOWUP_ALERT, FOLLOWUP_CALL_ENDED
from receptionist.core.db import is_unreachable
from receptionist.core.logs import scrub
from receptionist.core.models import utcnow
from receptionist.core.queue import (
    ALERT_WITHOUT_RECORDING,
    CALL_ENDED,
    PROCESS_RECORDING,
    JobQueue,
)
from receptionist.core.retry import TransientError, with_backoff
from receptionist.postcall.claims import release_claims, renew_claims
from receptionist.postcall.pipeline import (
    PipelineContext,
    UnusableRecording,
    queue_alert,
    record_call_failure,
    record_failure,
)
from receptionist.postcall.reconcile import reconcile
from receptionist.privacy.deployment import DeploymentMismatch, claim_deployment
from receptionist.privacy.sweeper import ensure_daily_sweep
from receptionist.settings import Settings
from receptionist.storage.client import is_unreachable as storage_unreachable
from receptionist.wiring import build_pipeline_context
from workers import context

log = logging.getLogger(__name__)

LEASE_KEY = "receptionist:worker-lease:{}"
RECOVERY_LOCK = "receptionist:recovering:{}"
CALL_JOB_FOLLOWUPS = {CALL_ENDED: FOLLOWUP_CALL_ENDED, ALERT_WITHOUT_RECORDING: FOLLOWUP_ALERT}


def worker_alive(connection: Redis, name: str) -> bool:
    """Whether the worker `name` still holds its lease (it is alive)."""
    return bool(connection.exists(LEASE_KEY.format(name)))


def slot_worker_name(slot: str) -> str:
    """A unique RQ worker name that says which slot the worker runs in (RQ refuses a name that a
    worker, dead or alive, registered within its TTL)."""
    return f"{slot}.{uuid.uuid4().hex[:12]}"


def in_slot(name: str, slot: str | None) -> bool:
    return bool(slot) and name.startswith(f"{slot}.")


class CallWorker(SimpleWorker):
    def __init__(self, queues, *args, pipeline_context: PipelineContext, lease_s: int = 10,
                 reconcile_interval_s: float | None = None, slot: str | None = None, **kwargs):
        if slot:
            kwargs.setdefault("name", slot_worker_name(slot))
        super().__init__(queues, *args, **kwargs)
        self.pipeline_context = pipeline_context
        self.lease_s = lease_s
        self.slot = slot
        self.reconcile_interval_s = reconcile_interval_s or pipeline_context.settings.reconcile_interval_s
        self._lease_stop = threading.Event()
        self._lease_thread: threading.Thread | None = None
        self._reconcile_thread: threading.Thread | None = None
        context.install(pipeline_context)

    # -- lease and recovery -------------------------------------------------------------------
    def register_birth(self):
        super().register_birth()
        self._renew_lease()
        self.take_over_slot()
        self.recover_abandoned_jobs()
        self.reconcile()
        # The model loads in its own process while the steps above run; waited for here, so a
        # model that cannot load stops the worker at its start, loudly.
        ready = getattr(self.pipeline_context.transcriber, "ensure_running", None)
        if ready is not None:
            ready()
        self._lease_thread = threading.Thread(target=self._keep_lease, name="worker-lease", daemon=True)
        self._lease_thread.start()
        self._reconcile_thread = threading.Thread(target=self._keep_reconciling, name="worker-reconcile",
                                                  daemon=True)
        self._reconcile_thread.start()

    def register_death(self):
        self._lease_stop.set()
        self.connection.delete(LEASE_KEY.format(self.name))
        super().register_death()

    def _renew_lease(self) -> None:
        try:  # the database claim first, so it never outlives the Redis lease by more than a tick
            renew_claims(self.pipeline_context.db, self.name, self.lease_s)
        except Exception:  # the database away for a moment: the next tick tries again
            log.exception("renewing the claims of worker %s failed", self.name)
        self.connection.set(LEASE_KEY.format(self.name), "1", ex=self.lease_s)

    def _keep_lease(self) -> None:
        interval = max(1.0, self.lease_s / 3)
        while not self._lease_stop.wait(interval):
            try:
                self._renew_lease()
                self.recover_abandoned_jobs()
            except Exception:  # Redis away for a moment: the next tick tries again
                log.exception("lease renewal or recovery failed")

    # -- reconciliation -----------------------------------------------------------------------
    def reconcile(self) -> None:
        """Queue what the database says is owed and Redis has no job for (see the module's doc)."""
        ctx = self.pipeline_context
        try:
            for queue in self.queues:
                done = reconcile(ctx.db, JobQueue(self.connection, queue.name, ctx.settings.job_timeout_s))
                if (done.recordings_queued or done.calls_queued or done.outcomes_overdue or done.erasures_queued
                        or done.overdue_released or done.webhooks_queued):
                    log.warning("reconciler queued again what no job stood for: %s", done.as_dict())
        except Exception:  # Redis or the database away: the next run tries again
            log.exception("reconciliation failed")

    def _keep_reconciling(self) -> None:
        while not self._lease_stop.wait(self.reconcile_interval_s):
            self.reconcile()

    def take_over_slot(self) -> list[str]:
        """What an earlier process of this worker's slot left (it is dead: this is the slot's live
        one): its leases dropped and its database claims released, so its jobs are requeued now
        and its recordings claimed at once. Returns the predecessors' names."""
        if not self.slot:
            return []
        ctx = self.pipeline_context
        predecessors = set(release_claims(ctx.db, f"{self.slot}.", keep=self.name))
        for queue in self.queues:
            for job_id, execution_id in queue.started_job_registry.get_job_and_execution_ids(cleanup=False):
                owner = _execution_owner(self.connection, job_id, execution_id)
                if owner != self.name and in_slot(owner, self.slot):
                    predecessors.add(owner)
        for name in predecessors:
            self.connection.delete(LEASE_KEY.format(name))
        if predecessors:
            log.warning("worker %s took over from the dead process(es) of its slot: %s", self.name,
                        ", ".join(sorted(predecessors)))
        return sorted(predecessors)

    def recover_abandoned_jobs(self) -> list[str]:
        """Requeue started jobs whose worker's lease has lapsed (the worker died mid-job)."""
        recovered = []
        for queue in self.queues:
            registry = queue.started_job_registry
            for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
                owner = _execution_owner(self.connection, job_id, execution_id)
                if owner == self.name:
                    continue  # this worker is running it
                if owner and self.connection.exists(LEASE_KEY.format(owner)):
                    continue  # its worker is alive and working on it
                if not self.connection.set(RECOVERY_LOCK.format(f"{job_id}:{execution_id}"), self.name, nx=True, ex=600):
                    continue  # another worker is recovering it
                self.connection.zrem(registry.key, f"{job_id}:{execution_id}" if execution_id else job_id)
                try:
                    job = Job.fetch(job_id, connection=self.connection)
                except Exception:
                    continue
                if job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED):
                    continue
                log.warning("requeueing job %s abandoned by dead worker %s", job_id, owner or "?")
                queue.enqueue_job(job, at_front=True)
                recovered.append(job_id)
        return recovered

    # -- failures -----------------------------------------------------------------------------
    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry=None, exc_string: str = "",
                           execution: Execution | None = None):
        # RQ keeps this text in Redis (the job's failure and its result) for the failure TTL, out of
        # erasure's reach: it gets the same scrubbing as the logs.
        return super().handle_job_failure(job, queue, started_job_registry=started_job_registry,
                                          exc_string=scrub(exc_string), execution=execution)

    def handle_exception(self, job: Job, *exc_info):
        exc = exc_info[1]
        reason = scrub(f"{type(exc).__name__}: {exc}")
        ctx = self.pipeline_context
        rq_retries_left = bool(job.retries_left and job.retries_left > 0)
        try:
            if job.func_name == PROCESS_RECORDING and job.args:
                failure = record_failure(
                    ctx.db, job.args[0], reason, max_attempts=ctx.settings.max_recording_attempts,
                    retries_left=rq_retries_left,
                    # A corrupt or oversized file stays so: given up now, visibly.
                    kind=getattr(exc, "kind", "unusable") if isinstance(exc, UnusableRecording) else None,
                    # An outage outlasting a step's retry window is not the recording's fault.
                    counts=not isinstance(exc, TransientError))
                if failure.final:
                    job.retries_left = 0
                if failure.call_sid is not None:
                    queue_alert(ctx, failure.call_sid)
            elif not rq_retries_left and job.args:
                record_call_failure(ctx.db, job.args[0], reason, kind=CALL_JOB_FOLLOWUPS.get(job.func_name))
        except Exception:
            log.exception("could not record the failure of job %s", job.id)
        return super().handle_exception(job, *exc_info)


def _execution_owner(connection: Redis, job_id: str, execution_id: str) -> str:
    if not execution_id:
        return ""
    try:
        return Execution.fetch(execution_id, job_id, connection).worker_name
    except ValueError:  # the execution record expired with its owner
        return ""


def run_worker(ctx: PipelineContext, redis: Redis, queue_name: str, *, burst: bool = False,
               lease_s: int = 10, with_scheduler: bool = True, logging_level: str = "INFO",
               slot: str | None = None) -> bool:
    queue = Queue(queue_name, connection=redis)
    worker = CallWorker([queue], connection=redis, pipeline_context=ctx, lease_s=lease_s,
                        reconcile_interval_s=ctx.settings.reconcile_interval_s, slot=slot)
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)


def prepare_services(ctx: PipelineContext, redis: Redis) -> None:
    """The database migrated, the bucket there, both one deployment's: an outage of any of them
    waited out with backoff (a worker restarted during it comes up the moment they are back)."""
    window = ctx.settings.step_retry_window_s
    with_backoff(ctx.db.migrate, what="migrate the database", is_transient=is_unreachable, window_s=window)
    with_backoff(ctx.store.ensure_bucket, what="prepare the bucket", is_transient=storage_unreachable, window_s=window)
    with_backoff(lambda: claim_deployment(ctx.db, ctx.store), what="check the deployment",
                 is_transient=lambda exc: is_unreachable(exc) or storage_unreachable(exc), window_s=window)
    with_backoff(redis.ping, what="reach Redis", is_transient=lambda exc: isinstance(exc, RedisError), window_s=window)


def serve_worker(settings: Settings, *, burst: bool = False, ctx: PipelineContext | None = None) -> bool:
    """The worker process's composition root (`receptionist worker`): build the context once (the
    Whisper model with it), prepare the database and bucket, make sure they are one deployment's
    (else an error is logged and the worker exits 2: no sweep, no erasure), keep the daily sweep
    scheduled, work. (`ctx`: one already built, which it then closes; `bench/post_call.py` passes
    its baseline's.)"""
    ctx = ctx or build_pipeline_context(settings, isolate_transcription=True)
    redis = Redis.from_url(settings.redis_url)
    try:
        try:
            prepare_services(ctx, redis)
        except DeploymentMismatch as exc:
            log.error("worker not started: %s", exc.message)
            raise SystemExit(2) from None
        if not burst:  # the daily retention sweep (see receptionist.privacy.sweeper for why a self-scheduling job)
            ensure_daily_sweep(JobQueue(redis, settings.queue_name, settings.job_timeout_s), utcnow())
        return run_worker(ctx, redis, settings.queue_name, burst=burst, lease_s=settings.worker_lease_s,
                          slot=settings.worker_slot)
    finally:
        redis.close()
        ctx.close()
