"""No accepted callback is ever lost: whatever Redis does, a committed recording or call-ended
event is processed, once, with one alert.

Each test runs its own `redis-server` (sandbox/redis_server.py, no persistence, as the services
run), never the shared one, so it can stop it and start it again empty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from rq import Queue

from receptionist.core.queue import JobQueue
from receptionist.postcall.reconcile import reconcile
from sandbox.redis_server import LocalRedis
from tests.support.calls import play_call, run_burst
from tests.support.service import serve
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER


@pytest.fixture
def own_redis() -> Iterator[LocalRedis]:
    server = LocalRedis()
    server.start()
    yield server
    server.stop()


def restart_empty(server: LocalRedis) -> LocalRedis:
    """Stop the server and start a new, empty one on the same port (a restart without persistence)."""
    port = server.port
    server.stop()
    fresh = LocalRedis(port=port)
    fresh.start()
    return fresh


@pytest.fixture
def world(make_settings, pg_database, twilio_api, own_redis, make_context):
    """The service and a worker context on PostgreSQL, SeaweedFS (versioned, so every write counts)
    and this test's own Redis; the account the calls ring."""
    settings = make_settings(pg_database, redis_url=own_redis.url)
    served = serve(settings, twilio_api)
    service = next(served)
    try:
        account = service.create_account()
        ctx = make_context(settings)
        ctx.store.ensure_bucket()
        ctx.store.client.put_bucket_versioning(Bucket=ctx.store.bucket, VersioningConfiguration={"Status": "Enabled"})
        yield service, ctx, account["id"]
    finally:
        served.close()


def stored_versions(ctx, account_id: str) -> list[str]:
    listing = ctx.store.client.list_object_versions(Bucket=ctx.store.bucket, Prefix=f"accounts/{account_id}/")
    return sorted(v["Key"] for v in listing.get("Versions", []))


def missed_call(service):
    """A caller who hangs up without a word: the status callback owes the call its missed-call job."""
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    service.player.end(call, duration_s=3)
    return call


def assert_each_processed_once(service, ctx, smtp, account_id, recorded, missed) -> None:
    for call in recorded:
        assert service.call(call.call_sid)["processing_status"] == "done"
    emails = smtp.wait_for(len(recorded) + len(missed), timeout=30)
    run_burst(ctx)  # reconciling again finds nothing owed: nothing is processed or sent twice
    time.sleep(0.3)
    assert len(smtp.messages) == len(recorded) + len(missed)
    # A recorded call's subject leads with its urgency or caller ("URGENT — …", "New call …"); a missed one says so.
    missed_subjects = [m.subject for m in emails if m.subject.startswith("Missed")]
    assert len(missed_subjects) == len(missed), [m.subject for m in emails]
    versions = stored_versions(ctx, account_id)
    assert len(versions) == 2 * len(recorded) == len(set(versions))  # audio and transcript, one version each
    for call in missed:
        detail = service.call(call.call_sid)
        assert detail["outcome"] == "missed" and [a["status"] for a in detail["alerts"]] == ["sent"]


def test_redis_down_during_the_callbacks_loses_nothing(world, twilio_api, smtp, call_audio, own_redis):
    service, ctx, account_id = world
    port = own_redis.port
    own_redis.stop()  # Redis is down while Twilio calls back

    # play_call raises unless every webhook answers 2xx: the rows are committed, Twilio gets its 200.
    recorded = play_call(service, twilio_api, call_audio.path.read_bytes())
    missed = missed_call(service)
    assert service.call(recorded.call_sid)["processing_status"] == "pending"

    back = LocalRedis(port=port)  # Redis comes back empty: nothing was ever queued
    back.start()
    try:
        run_burst(ctx)  # the worker reconciles when it starts: both calls are queued from the database
        assert_each_processed_once(service, ctx, smtp, account_id, [recorded], [missed])
    finally:
        back.stop()


def test_redis_restarted_empty_while_jobs_were_queued(world, twilio_api, smtp, call_audio, own_redis):
    service, ctx, account_id = world
    recorded = [play_call(service, twilio_api, call_audio.path.read_bytes()) for _ in range(2)]
    missed = [missed_call(service)]
    queue = Queue(ctx.settings.queue_name, connection=ctx.queue.redis)
    assert queue.count == 3  # queued in Redis ...
    fresh = restart_empty(own_redis)  # ... and gone with it
    try:
        assert Queue(ctx.settings.queue_name, connection=ctx.queue.redis).count == 0

        # Two workers reconciling at once queue each owed job once (deterministic ids, a claim each).
        jobs = JobQueue(ctx.queue.redis, ctx.settings.queue_name, ctx.settings.job_timeout_s)
        results = []
        threads = [threading.Thread(target=lambda: results.append(reconcile(ctx.db, jobs))) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(r.recordings_queued for r in results) == 2 and sum(r.calls_queued for r in results) == 1
        assert Queue(ctx.settings.queue_name, connection=ctx.queue.redis).count == 3

        run_burst(ctx)
        assert_each_processed_once(service, ctx, smtp, account_id, recorded, missed)
    finally:
        fresh.stop()


def test_an_erasure_whose_job_redis_lost_is_finished(world, twilio_api, smtp, call_audio, own_redis):
    """A recording reported after its call was erased, while Redis is down: Twilio still gets its
    200, and the reconciler sees that Twilio's copy is deleted once the queue is back."""
    from sqlalchemy import select

    from receptionist.core.models import Tombstone

    service, ctx, account_id = world
    call = missed_call(service)
    assert service.http.delete(f"/api/calls/{call.call_sid}", headers=service.admin()).status_code == 200

    def pending() -> bool:
        with ctx.db.session() as session:
            return session.scalar(select(Tombstone.deletions_pending).where(Tombstone.call_sid == call.call_sid))

    assert not pending()  # the erasure finished its own deletions
    port = own_redis.port
    own_redis.stop()
    late = "RE" + call.call_sid[2:]
    twilio_api.add_recording(late, call_audio.path.read_bytes(), call_sid=call.call_sid, channels=2, duration_s=3)
    service.player.recording_ready(call, twilio_api.recording_url(late), 3, late)  # raises unless 2xx
    assert pending()
    back = LocalRedis(port=port)
    back.start()
    try:
        jobs = JobQueue(ctx.queue.redis, ctx.settings.queue_name, ctx.settings.job_timeout_s)
        assert reconcile(ctx.db, jobs).erasures_owed == 0  # a fresh erasure finishes by itself
        with ctx.db.session() as session:  # ... and one still pending minutes later lost its job
            tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call.call_sid))
            tombstone.erased_at -= timedelta(minutes=5)
        assert reconcile(ctx.db, jobs).erasures_queued == 1
        run_burst(ctx)
        assert late in twilio_api.deleted_recordings and not pending()
        assert reconcile(ctx.db, jobs).erasures_owed == 0
    finally:
        back.stop()


def test_a_retry_whose_scheduler_died_with_its_worker_is_queued(world, twilio_api, smtp, call_audio):
    """RQ's scheduler runs in one worker's process: killed with it, the retries it would have
    queued wait until another worker's maintenance takes it over (minutes). The reconciler queues
    a retry overdue by more than a few seconds, once, whoever else reconciles at the same time."""
    from datetime import datetime, timezone

    from rq.job import Job, JobStatus
    from rq.registry import ScheduledJobRegistry

    service, ctx, account_id = world
    call = play_call(service, twilio_api, call_audio.path.read_bytes())
    queue = Queue(ctx.settings.queue_name, connection=ctx.queue.redis)
    job = Job.fetch(queue.job_ids[0], connection=ctx.queue.redis)
    queue.remove(job)  # its first run failed; RQ scheduled the retry two minutes ago, and no scheduler is left
    ScheduledJobRegistry(queue=queue).schedule(job, datetime.now(timezone.utc) - timedelta(minutes=2))
    job.set_status(JobStatus.SCHEDULED)
    assert queue.count == 0

    jobs = JobQueue(ctx.queue.redis, ctx.settings.queue_name, ctx.settings.job_timeout_s)
    results = []
    threads = [threading.Thread(target=lambda: results.append(reconcile(ctx.db, jobs))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.overdue_released for r in results) == 1 and sum(r.recordings_queued for r in results) == 0
    assert queue.count == 1
    run_burst(ctx)
    assert_each_processed_once(service, ctx, smtp, account_id, [call], [])


def test_a_retry_not_yet_due_is_left_to_the_scheduler(world, twilio_api, call_audio):
    from datetime import datetime, timezone

    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    service, ctx, _account_id = world
    play_call(service, twilio_api, call_audio.path.read_bytes())
    queue = Queue(ctx.settings.queue_name, connection=ctx.queue.redis)
    job = Job.fetch(queue.job_ids[0], connection=ctx.queue.redis)
    queue.remove(job)
    registry = ScheduledJobRegistry(queue=queue)
    registry.schedule(job, datetime.now(timezone.utc) - timedelta(seconds=5))  # due, a live scheduler is on it
    jobs = JobQueue(ctx.queue.redis, ctx.settings.queue_name, ctx.settings.job_timeout_s)
    assert reconcile(ctx.db, jobs).overdue_released == 0
    assert queue.count == 0 and job.id in registry.get_job_ids()
