"""Poison recordings end: one that kills the process transcribing it N times, or is larger than its
duration allows, is given up with its reason (on the call and in /metrics), never retried, and the
owner is still told about the call once; the worker goes on with the next recording. Workers killed
whole (not the recording's doing) do not use its attempts up."""

from __future__ import annotations

import io
import os
import secrets
import signal
import threading
import time
import wave
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from receptionist.core.models import Recording
from receptionist.postcall import pipeline
from receptionist.postcall.transcriber_process import TranscriberProcess
from receptionist.postcall.reconcile import reconcile
from tests.support.calls import play_call, run_burst
from tests.support.service import serve
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER


class Killed(BaseException):
    """The worker dying whole mid-job (SIGKILL from an operator or a deploy, the host going away):
    nothing after it runs, nothing is recorded."""


class OutOfMemoryKiller:
    """The kernel's out-of-memory killer: SIGKILL to the process transcribing, while it works."""

    def __init__(self, process: TranscriberProcess):
        self.process = process
        self.killed: list[int] = []

    def request(self, method: str, *args, **kwargs):
        """Every request the worker makes of the process: killed while it answers."""
        self.process.ensure_running()
        self.killed.append(self.process.pid)
        threading.Timer(0.05, os.kill, (self.process.pid, signal.SIGKILL)).start()
        return TranscriberProcess._call(self.process, method, *args, **kwargs)


def retry_now(ctx) -> None:
    """RQ's scheduled retry of a failed job comes due at once."""
    queue = Queue(ctx.settings.queue_name, connection=ctx.queue.redis)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        registry.remove(job_id)
        queue.enqueue_job(Job.fetch(job_id, connection=ctx.queue.redis))


@pytest.fixture
def poison_world(make_settings, pg_database, twilio_api, make_context):
    settings = make_settings(pg_database, worker_lease_s=1, max_recording_attempts=3,
                             metrics_token=secrets.token_hex(16))
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
    scrape = {"Authorization": f"Bearer {service.settings.metrics_token}"}
    for line in service.http.get("/metrics", headers=scrape).text.splitlines():
        if line.startswith(f'receptionist_recordings_given_up{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_recording_that_kills_its_transcriber_n_times_is_given_up(poison_world, twilio_api, smtp, call_audio,
                                                                   monkeypatch):
    service, ctx = poison_world
    settings = ctx.settings
    ctx.transcriber = process = TranscriberProcess(settings.whisper_model_path, settings.whisper_compute_type,
                                                   settings.whisper_beam_size)
    try:
        poison = play_call(service, twilio_api, call_audio.path.read_bytes())
        killer = OutOfMemoryKiller(process)
        monkeypatch.setattr(process, "_call", killer.request)
        for n in range(3):  # each run: its transcription process killed mid-work, the worker lives on
            retry_now(ctx)
            run_burst(ctx)
            row = recording_row(ctx, poison.recording_sid)
            assert row.attempts == n + 1 and "was killed (SIGKILL" in row.error
        assert len(set(killer.killed)) == 3  # a fresh process for every run
        monkeypatch.undo()

        row = recording_row(ctx, poison.recording_sid)
        assert (row.status, row.failure, row.attempts, row.abandoned_runs) == ("failed", "attempts-exhausted", 3, 0)
        detail = service.call(poison.call_sid)
        assert detail["processing_status"] == "failed" and "transcription process was killed" in detail["processing_error"]
        good = play_call(service, twilio_api, call_audio.path.read_bytes())
        run_burst(ctx)  # the same worker, a new transcription process: the next call is processed
        assert service.call(good.call_sid)["processing_status"] == "done"
        emails = smtp.wait_for(2)  # the owner hears of both calls: the poison one without a transcript
        assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]
        assert given_up_metric(service, "attempts-exhausted") == 1.0

        # Never again: not by the reconciler, not by another run of its job.
        assert reconcile(ctx.db, ctx.queue).recordings_owed == 0
        assert pipeline.process_recording(ctx, poison.recording_sid) == "failed"
        retry_now(ctx)
        run_burst(ctx)
        time.sleep(0.3)
        assert len(smtp.messages) == 2 and recording_row(ctx, poison.recording_sid).attempts == 3
    finally:
        process.close()


def test_workers_killed_whole_do_not_use_up_a_recordings_attempts(poison_world, twilio_api, smtp, call_audio,
                                                                  monkeypatch):
    """A deploy or an operator killing workers is not the recording's fault: its runs are counted
    as abandoned, and only three times the attempts of those give it up."""
    service, ctx = poison_world
    unlucky = play_call(service, twilio_api, call_audio.path.read_bytes())
    doomed = play_call(service, twilio_api, call_audio.path.read_bytes())

    def die(*args, **kwargs):
        raise Killed("the worker was killed while it transcribed")

    monkeypatch.setattr(ctx.transcriber, "transcribe_call", die)
    for n in range(4):  # four workers in turn claim it and are killed, each leaving its claim to lapse
        with pytest.raises(Killed):
            pipeline.process_recording(ctx, unlucky.recording_sid, owner=f"worker-{n}")
        row = recording_row(ctx, unlucky.recording_sid)
        assert (row.attempts, row.abandoned_runs) == (1, n)
    for n in range(9):  # 3 × max_recording_attempts deaths under one recording: a net, not a verdict
        with pytest.raises(Killed):
            pipeline.process_recording(ctx, doomed.recording_sid, owner=f"worker-{n}")
    monkeypatch.undo()

    run_burst(ctx)
    row = recording_row(ctx, unlucky.recording_sid)
    assert (row.status, row.attempts, row.abandoned_runs) == ("done", 1, 4)
    row = recording_row(ctx, doomed.recording_sid)
    assert (row.status, row.failure, row.abandoned_runs) == ("failed", "abandoned-exhausted", 8)
    assert "worker died 9 times" in service.call(doomed.call_sid)["processing_error"]
    assert given_up_metric(service, "abandoned-exhausted") == 1.0
    emails = smtp.wait_for(2)
    assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]


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


def transcription_process_of(worker_pid: int) -> int | None:
    """The worker's child that holds the Whisper model (spawned by multiprocessing)."""
    for task in Path(f"/proc/{worker_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
            except OSError:
                continue
    return None


@pytest.mark.slow
def test_a_real_worker_outlives_a_recording_that_kills_its_transcriber(make_settings, pg_database, twilio_api,
                                                                       smtp, call_audio, tmp_path):
    """The same with a real worker process: its transcription process is SIGKILLed (as the
    out-of-memory killer would) while it holds the recording; the worker itself lives on."""
    from tests.postcall.test_worker import start_worker, wait_for

    settings = make_settings(pg_database, max_recording_attempts=2)
    served = serve(settings, twilio_api)
    service = next(served)
    worker = None
    try:
        service.create_account()
        poison = play_call(service, twilio_api, call_audio.path.read_bytes())
        db = service.app.state.services.db

        def attempts_processing():
            with db.session() as session:
                row = session.scalar(select(Recording).where(Recording.recording_sid == poison.recording_sid))
                return row.attempts if row.status == "processing" else 0

        worker = start_worker(settings, tmp_path / "worker.log")
        killed = []
        for n in (1, 2):  # its job's first run, then RQ's retry 30 s later: each kills the transcriber
            wait_for(lambda: attempts_processing() == n, timeout=120, interval=0.01)
            child = wait_for(lambda: transcription_process_of(worker.pid), timeout=30)
            time.sleep(1.0)  # downloaded and decoded in a fraction of that: transcribing (about 3 s)
            os.kill(child, signal.SIGKILL)
            killed.append(child)
        detail = wait_for(lambda: (d := service.call(poison.call_sid))["processing_status"] == "failed" and d,
                          timeout=60)
        assert "transcription process was killed" in detail["processing_error"]
        good = play_call(service, twilio_api, call_audio.path.read_bytes())
        wait_for(lambda: service.call(good.call_sid)["processing_status"] == "done", timeout=120)
        assert worker.poll() is None  # the same worker all along
        assert transcription_process_of(worker.pid) not in killed
        emails = smtp.wait_for(2, timeout=30)
        assert sorted("could not be transcribed" in m.text() for m in emails) == [False, True]
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)
        served.close()
