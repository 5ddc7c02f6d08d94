"""Poison recordings end: one that kills its worker N times, or is larger than its duration allows,
is given up with its reason (on the call and in /metrics), never retried, and the owner is still
told about the call once; the worker goes on with the next recording."""

from __future__ import annotations

import io
import time
import wave

import pytest
from sqlalchemy import select

from receptionist.core.models import Recording
from receptionist.postcall import pipeline
from receptionist.postcall.reconcile import reconcile
from tests.support.calls import play_call, run_burst
from tests.support.service import serve
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER


class Killed(BaseException):
    """The worker dying mid-job (SIGKILL, out of memory): nothing after it runs, nothing is recorded."""


@pytest.fixture
def poison_world(make_settings, pg_database, twilio_api, make_context):
    settings = make_settings(pg_database, worker_lease_s=1, max_recording_attempts=3)
    served = serve(settings, twilio_api)
    service = next(served)
    try:
        service.create_account()
        yield service, make_context(settings)
    finally:
        served.close()


def recording_row(ctx, sid: str) -> Recording:
    with ctx.db.session() as session:
        row = session.scalar(select(Recording).where(Recording.recording_sid == sid))
        session.expunge(row)
        return row


def given_up_metric(service, reason: str) -> float:
    for line in service.http.get("/metrics").text.splitlines():
        if line.startswith(f'receptionist_recordings_given_up{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_recording_that_kills_its_worker_n_times_is_given_up(poison_world, twilio_api, smtp, call_audio,
                                                              monkeypatch):
    service, ctx = poison_world
    poison = play_call(service, twilio_api, call_audio.path.read_bytes())
    good = play_call(service, twilio_api, call_audio.path.read_bytes())

    def die(*args, **kwargs):
        raise Killed("the worker died decoding this recording")

    monkeypatch.setattr(ctx.transcriber, "transcribe_call", die)
    for n in range(3):  # three workers in turn claim it and die, each leaving its claim to lapse
        with pytest.raises(Killed):
            pipeline.process_recording(ctx, poison.recording_sid, owner=f"worker-{n}")
        assert recording_row(ctx, poison.recording_sid).attempts == n + 1
    monkeypatch.undo()

    run_burst(ctx)  # a real worker: the poison job is given up at its claim, the next one processed
    row = recording_row(ctx, poison.recording_sid)
    assert (row.status, row.failure, row.attempts) == ("failed", "attempts-exhausted", 3)
    detail = service.call(poison.call_sid)
    assert detail["processing_status"] == "failed" and "gave up after 3 attempts" in detail["processing_error"]
    assert service.call(good.call_sid)["processing_status"] == "done"
    emails = smtp.wait_for(2)  # the owner hears of both calls: the poison one without a transcript
    assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]
    assert given_up_metric(service, "attempts-exhausted") == 1.0

    # Never again: not by the reconciler, not by another run of its job.
    assert reconcile(ctx.db, ctx.queue).recordings_owed == 0
    assert pipeline.process_recording(ctx, poison.recording_sid) == "failed"
    run_burst(ctx)
    time.sleep(0.3)
    assert len(smtp.messages) == 2 and recording_row(ctx, poison.recording_sid).attempts == 3


def silent_wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(int(seconds * 8000) * 4))
    return buffer.getvalue()


def test_a_download_larger_than_its_duration_allows_is_refused(poison_world, twilio_api, smtp, call_audio):
    service, ctx = poison_world
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    service.hear(call.call_sid, [("caller", "My water heater is leaking.")])
    service.player.end(call, duration_s=1)
    oversized = "RE" + call.call_sid[2:]
    # Twilio reports a one-second recording whose media is 80 seconds long (over the ~2 MB a
    # one-second recording may weigh, with its margin).
    twilio_api.add_recording(oversized, silent_wav(80), call_sid=call.call_sid, channels=2, duration_s=1)
    service.player.recording_ready(call, twilio_api.recording_url(oversized), 1, oversized)
    good = play_call(service, twilio_api, call_audio.path.read_bytes())

    run_burst(ctx)
    row = recording_row(ctx, oversized)
    assert (row.status, row.failure, row.attempts) == ("failed", "too-large", 1)  # not retried
    detail = service.call(call.call_sid)
    assert detail["processing_status"] == "failed" and "refused" in detail["processing_error"]
    assert "bytes" in detail["processing_error"]
    assert service.call(good.call_sid)["processing_status"] == "done"
    assert given_up_metric(service, "too-large") == 1.0
    emails = smtp.wait_for(2)
    assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]


@pytest.mark.slow
def test_real_workers_killed_by_a_recording_give_it_up_and_go_on(make_settings, pg_database, twilio_api, smtp,
                                                                 call_audio, tmp_path):
    """The same with real worker processes, each SIGKILLed while it holds the recording."""
    import os
    import signal

    from tests.postcall.test_worker import start_worker, wait_for

    settings = make_settings(pg_database, max_recording_attempts=2)
    served = serve(settings, twilio_api)
    service = next(served)
    workers = []
    try:
        service.create_account()
        poison = play_call(service, twilio_api, call_audio.path.read_bytes())
        db = service.app.state.services.db

        def attempts_processing():
            with db.session() as session:
                row = session.scalar(select(Recording).where(Recording.recording_sid == poison.recording_sid))
                return row.attempts if row.status == "processing" else 0

        for n in (1, 2):  # each worker claims it (recovered from the dead one's lapsed lease) and is killed
            worker = start_worker(settings, tmp_path / f"worker{n}.log")
            workers.append(worker)
            wait_for(lambda: attempts_processing() == n, timeout=120, interval=0.01)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        good = play_call(service, twilio_api, call_audio.path.read_bytes())
        workers.append(start_worker(settings, tmp_path / "worker3.log"))
        wait_for(lambda: service.call(good.call_sid)["processing_status"] == "done", timeout=120)
        detail = service.call(poison.call_sid)
        assert detail["processing_status"] == "failed" and "gave up after 2 attempts" in detail["processing_error"]
        emails = smtp.wait_for(2, timeout=30)
        assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=20)
        served.close()
