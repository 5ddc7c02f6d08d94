"""The worker job: idempotent under crashes and kills, patient with outages, loud about bad audio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from receptionist.core.models import Recording
from receptionist.postcall import pipeline
from tests.support.calls import play_call, run_burst
from tests.support.tcp_proxy import OutageProxy
from workers.worker import CallWorker


def object_versions(ctx, account_id: str) -> list[str]:
    listing = ctx.store.client.list_object_versions(Bucket=ctx.store.bucket, Prefix=f"accounts/{account_id}/")
    return sorted(v["Key"] for v in listing.get("Versions", []))


def versioned_context(make_context, settings):
    ctx = make_context(settings)
    ctx.store.client.put_bucket_versioning(Bucket=ctx.store.bucket, VersioningConfiguration={"Status": "Enabled"})
    return ctx


class Crash(BaseException):
    """A crash the job cannot catch (like the process dying at that point)."""


def crash_after(obj, name: str, calls: int = 1):
    original = getattr(obj, name)
    seen = {"n": 0}

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        seen["n"] += 1
        if seen["n"] >= calls:
            raise Crash(f"crashed after {name}")
        return result

    setattr(obj, name, wrapper)
    return lambda: setattr(obj, name, original)


CRASH_POINTS = {
    "after download": lambda ctx: crash_after(ctx.twilio, "download_recording_to"),
    "after audio stored": lambda ctx: crash_after(ctx.store, "put_file"),
    "after transcript stored": lambda ctx: crash_after(ctx.store, "put_json"),
    "after alerts sent": lambda ctx: crash_after(ctx.alerts, "send_for"),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_rerun_after_crash_leaves_one_copy_and_one_email(pg_service, make_context, twilio_api, smtp, call_audio, point):
    account = pg_service.create_account()
    ctx = versioned_context(make_context, pg_service.settings)
    call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    restore = CRASH_POINTS[point](ctx)
    with pytest.raises(Crash):
        pipeline.process_recording(ctx, call.recording_sid)
    restore()

    assert pipeline.process_recording(ctx, call.recording_sid) == "done"
    assert pipeline.process_recording(ctx, call.recording_sid) == "already-done"
    assert len(object_versions(ctx, account["id"])) == 2  # recording.wav and transcript.json, once each
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1
    assert pg_service.call(call.call_sid)["processing_status"] == "done"


def test_corrupt_and_empty_recordings_fail_visibly_and_the_worker_goes_on(
    pg_service, make_context, twilio_api, smtp, call_audio, redis_conn
):
    pg_service.create_account()
    ctx = make_context(pg_service.settings)
    corrupt = play_call(pg_service, twilio_api, b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + os.urandom(2000))
    empty = play_call(pg_service, twilio_api, b"")
    good = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)

    for bad in (corrupt, empty):
        detail = pg_service.call(bad.call_sid)
        assert detail["processing_status"] == "failed"
        assert "UnusableRecording" in detail["processing_error"]
    assert "empty" in pg_service.call(empty.call_sid)["processing_error"]
    failed = FailedJobRegistry(ctx.settings.queue_name, connection=redis_conn)
    assert sorted(failed.get_job_ids()) == sorted(f"recording-{c.recording_sid}" for c in (corrupt, empty))
    assert ScheduledJobRegistry(ctx.settings.queue_name, connection=redis_conn).count == 0  # not retried
    assert pg_service.call(good.call_sid)["processing_status"] == "done"
    # The owner still hears of every call, once: the bad ones from what the receptionist heard live.
    emails = smtp.wait_for(3)
    time.sleep(0.3)
    assert len(smtp.messages) == 3
    bodies = [m.text() for m in emails]
    assert sum("could not be transcribed" in b for b in bodies) == 2
    assert all("water heater" in b.lower() for b in bodies)


def test_download_retries_twilio_5xx(pg_service, make_context, twilio_api, smtp, call_audio):
    pg_service.create_account()
    ctx = make_context(pg_service.settings)
    call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    twilio_api.fail_next(2, status=503)
    run_burst(ctx)
    assert pg_service.call(call.call_sid)["processing_status"] == "done"


def test_object_storage_outage_is_waited_out(pg_service, make_context, twilio_api, smtp, call_audio, s3):
    account = pg_service.create_account()
    host, port = s3.endpoint_url.removeprefix("http://").split(":")
    proxy = OutageProxy(host, int(port))  # closed: connections refused, as when the server is down
    ctx = versioned_context(make_context, pg_service.settings)
    outage_ctx = make_context(pg_service.settings.model_copy(update={"s3_endpoint_url": f"http://{proxy.address}"}))
    call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    timer = threading.Timer(2.0, proxy.open)
    timer.start()
    try:
        started = time.monotonic()
        run_burst(outage_ctx)
        assert time.monotonic() - started >= 2.0
    finally:
        timer.cancel()
        proxy.close()
    assert pg_service.call(call.call_sid)["processing_status"] == "done"
    assert len(object_versions(ctx, account["id"])) == 2
    assert len(smtp.wait_for(1)) == 1


def test_smtp_outage_is_waited_out_then_one_email(pg_service, make_context, twilio_api, smtp, call_audio):
    pg_service.create_account()
    ctx = make_context(pg_service.settings)
    call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    smtp.stop()
    timer = threading.Timer(2.0, smtp.start)
    timer.start()
    try:
        run_burst(ctx)
    finally:
        timer.join()
    assert pg_service.call(call.call_sid)["processing_status"] == "done"
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1


def test_worker_loads_the_model_once_for_many_jobs(pg_service, make_context, twilio_api, smtp, call_audio):
    pg_service.create_account()
    ctx = make_context(pg_service.settings)
    model = ctx.transcriber.model
    calls = [play_call(pg_service, twilio_api, call_audio.path.read_bytes()) for _ in range(2)]
    run_burst(ctx)
    assert all(pg_service.call(c.call_sid)["processing_status"] == "done" for c in calls)
    assert ctx.transcriber.model is model
    assert issubclass(CallWorker, __import__("rq").SimpleWorker)  # no fork per job: the model stays loaded


def settings_env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "AWS_", "OPENAI_"))}
    return env | settings.to_env() | {"RECEPTIONIST_WORKER_LEASE": "3"} | extra


def start_worker(settings, log_path, **extra: str):
    return subprocess.Popen([sys.executable, "-m", "receptionist.cli", "worker"], env=settings_env(settings, **extra),
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s")


def test_worker_killed_mid_job_loses_nothing(pg_service, make_context, twilio_api, smtp, call_audio, tmp_path):
    account = pg_service.create_account()
    ctx = versioned_context(make_context, pg_service.settings)
    db = pg_service.app.state.services.db

    def recording_status(sid):
        with db.session() as session:
            return session.scalar(select(Recording.status).where(Recording.recording_sid == sid))

    first = start_worker(pg_service.settings, tmp_path / "worker1.log")
    try:
        call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
        wait_for(lambda: recording_status(call.recording_sid) == "processing", timeout=60, interval=0.01)
        os.killpg(first.pid, signal.SIGKILL)  # no chance to clean up: the job stays "started" in RQ
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert recording_status(call.recording_sid) == "processing"

    killed_at = time.monotonic()
    second = start_worker(pg_service.settings, tmp_path / "worker2.log")
    try:
        wait_for(lambda: recording_status(call.recording_sid) == "done", timeout=60)
        recovered_in = time.monotonic() - killed_at
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=20)
    print(f"recovered {recovered_in:.1f}s after the kill")
    assert recovered_in < 60
    assert len(object_versions(ctx, account["id"])) == 2
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1
    assert Queue(ctx.settings.queue_name, connection=Redis.from_url(ctx.settings.redis_url)).started_job_registry.count == 0


def test_a_worker_restarted_in_its_slot_takes_its_job_over_at_once(pg_service, make_context, twilio_api, smtp,
                                                                    call_audio, tmp_path):
    """systemd restarts a killed worker in its slot (`RECEPTIONIST_WORKER_SLOT=%H-%i`): the new process
    takes over the dead one's job as soon as it is up, long before the dead one's lease (60 s here) lapses."""
    pg_service.create_account()
    ctx = versioned_context(make_context, pg_service.settings)
    db = pg_service.app.state.services.db
    slot = {"RECEPTIONIST_WORKER_LEASE": "60", "RECEPTIONIST_WORKER_SLOT": "host-1"}

    def claim(sid):
        with db.session() as session:
            return session.execute(select(Recording.status, Recording.claimed_by)
                                   .where(Recording.recording_sid == sid)).first()

    first = start_worker(pg_service.settings, tmp_path / "worker1.log", **slot)
    try:
        call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
        status, dead = wait_for(lambda: (row := claim(call.recording_sid)) and row.status == "processing" and row,
                                timeout=60, interval=0.01)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert dead.startswith("host-1.")

    restarted_at = time.monotonic()
    second = start_worker(pg_service.settings, tmp_path / "worker2.log", **slot)
    try:
        taken = wait_for(lambda: (row := claim(call.recording_sid)) and row.claimed_by not in (None, dead) and row,
                         timeout=60, interval=0.05)
        taken_in = time.monotonic() - restarted_at
        wait_for(lambda: claim(call.recording_sid).status == "done", timeout=60)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=20)
    print(f"the restarted worker took the job over {taken_in:.1f}s after it started")
    assert taken.claimed_by.startswith("host-1.")
    assert taken_in < 30  # the dead process's lease had 60 s to run
    assert "took over from the dead process(es) of its slot" in (tmp_path / "worker2.log").read_text()
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1


def test_twilio_copy_is_deleted_once_ours_is_stored_when_configured(make_settings, pg_database, make_context,
                                                                      twilio_api, smtp, call_audio):
    from tests.support.service import serve as _serve

    settings = make_settings(pg_database, delete_twilio_recordings=True)
    served = _serve(settings, twilio_api)
    service = next(served)
    try:
        service.create_account()
        ctx = make_context(settings)
        call = play_call(service, twilio_api, call_audio.path.read_bytes())
        run_burst(ctx)
        assert service.call(call.call_sid)["processing_status"] == "done"
        assert call.recording_sid in twilio_api.deleted_recordings
    finally:
        served.close()


def test_twilio_copy_is_kept_by_default(pg_service, make_context, twilio_api, smtp, call_audio):
    pg_service.create_account()
    call = play_call(pg_service, twilio_api, call_audio.path.read_bytes())
    run_burst(make_context(pg_service.settings))
    assert pg_service.call(call.call_sid)["processing_status"] == "done"
    assert call.recording_sid not in twilio_api.deleted_recordings
