"""Job functions: plain functions of ids, safe to run twice."""

from __future__ import annotations

from receptionist.postcall import pipeline
from workers.context import current


def process_recording(recording_sid: str) -> str:
    from rq import get_current_job

    from workers.worker import worker_alive

    job = get_current_job()
    if job is None:  # run outside a worker
        return pipeline.process_recording(current(), recording_sid)
    return pipeline.process_recording(current(), recording_sid, owner=job.worker_name,
                                      holder_alive=lambda name: worker_alive(job.connection, name))


def call_ended(call_sid: str) -> str:
    return pipeline.handle_call_end(current(), call_sid)


def alert_without_recording(call_sid: str) -> str:
    return pipeline.alert_without_recording(current(), call_sid)


# -- privacy: re-tagging, the retention sweep, erasure ----------------------------------------------

def _queue(job):
    from receptionist.core.queue import JobQueue

    settings = current().settings
    return JobQueue(job.connection, settings.queue_name, settings.job_timeout_s)


def retag_account(account_id: str) -> dict:
    """One step of the account's re-tag pass; queues the next step until the pass is done."""
    from rq import get_current_job

    from receptionist.privacy import retag

    ctx, job = current(), get_current_job()
    progress = retag.retag_account_step(ctx.db, ctx.store, job.connection, account_id)
    job.meta["progress"] = progress.as_dict()  # shown by `rq info`-style tools and read by tests
    job.save_meta()
    if not progress.finished:
        _queue(job).enqueue_retag_account(account_id, progress.generation, progress.steps)
    return progress.as_dict()


def retag_call(call_sid: str) -> int | None:
    from rq import get_current_job

    from receptionist.privacy import retag

    ctx = current()
    return retag.retag_call(ctx.db, ctx.store, get_current_job().connection, call_sid)


def retention_sweep(slot: str) -> dict | None:
    """The daily sweep (slot names the day); schedules the next day's before sweeping."""
    from rq import get_current_job

    from receptionist.core.models import utcnow
    from receptionist.privacy import sweeper

    ctx = current()
    report = sweeper.run_scheduled_sweep(ctx.db, ctx.store, ctx.twilio, _queue(get_current_job()), now=utcnow(),
                                         max_deletes=ctx.settings.sweep_max_deletes)
    return report.as_dict() if report else None


def finish_erasure(call_sid: str) -> list[str]:
    """Retry what an erasure could not finish (Twilio down): raises until Twilio's copy is gone."""
    from receptionist.privacy import erasure

    ctx = current()
    return erasure.finish_erasure_of(ctx.db, ctx.store, ctx.twilio, call_sid)


# -- webhooks -----------------------------------------------------------------------------------------

def send_webhook(delivery_id: str) -> str:
    """One attempt of a webhook delivery; queues the next attempt when it is to be retried, and
    emails the owners when the endpoint was disabled by this failure."""
    from rq import get_current_job

    from receptionist.notify.webhook_notice import endpoint_disabled

    ctx = current()
    if ctx.webhooks is None:
        raise RuntimeError("this worker has no webhook sender")
    sent = ctx.webhooks.send(int(delivery_id))
    if sent.status == "retrying":
        job = get_current_job()
        queue = _queue(job) if job is not None else ctx.queue
        try:
            queue.enqueue_webhook(int(delivery_id), sent.attempts, at=sent.next_attempt_at)
        except Exception:  # Redis away: the reconciler queues it once it is due
            pass
    if sent.disabled_endpoint is not None:
        endpoint_disabled(ctx.db, ctx.alerts.mailer, ctx.templates, ctx.settings.alert_from_email,
                          sent.disabled_endpoint)
    return sent.status
