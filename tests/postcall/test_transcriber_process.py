"""The Whisper model in its own process: the same words as in the worker's process, a death that
fails the request with its reason, and no process outliving the worker that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from receptionist.postcall.audio import RecordingAudio
from receptionist.postcall.transcriber_process import TranscriberDied, TranscriberProcess
from receptionist.settings import Settings


@pytest.fixture(scope="module")
def process():
    settings = Settings(_env_file=None)
    isolated = TranscriberProcess(settings.whisper_model_path, settings.whisper_compute_type,
                                  settings.whisper_beam_size)
    isolated.ensure_running()
    yield isolated
    isolated.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_it_hears_what_the_model_hears_in_the_worker(process, transcriber, call_audio):
    here = transcriber.transcribe_call(RecordingAudio(call_audio.path).windows(), "A phone call to Acme Plumbing.")
    there = process.transcribe_call(RecordingAudio(call_audio.path).windows(), "A phone call to Acme Plumbing.")
    assert there == here and any(s.speaker == "caller" for s in there)


def test_an_error_in_the_process_is_raised_in_the_worker(process):
    pid = process.pid
    with pytest.raises(Exception) as raised:
        process.transcribe_channel(np.zeros((2, 2, 2), dtype=np.float32))  # not a mono signal
    assert not isinstance(raised.value, TranscriberDied)
    assert process.pid == pid  # an ordinary error leaves the process as it was


def test_a_death_mid_request_fails_it_with_the_reason_and_the_next_request_gets_a_new_process(process, call_audio):
    window = next(RecordingAudio(call_audio.path).windows())
    killed = process.pid
    timer = __import__("threading").Timer(0.05, os.kill, (killed, signal.SIGKILL))
    timer.start()
    with pytest.raises(TranscriberDied, match=r"was killed \(SIGKILL"):
        process.transcribe_window(window)
    timer.join()
    assert process.pid != killed and process.restarts == 1
    assert process.transcribe_window(window)  # the new one works


def test_it_ignores_a_warm_shutdowns_signals(process):
    pid = process.pid
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    time.sleep(0.5)
    assert alive(pid) and process.pid == pid


def test_it_dies_with_a_worker_killed_whole(tmp_path):
    """SIGKILL to the worker (an operator, a deploy, the soak) takes its transcription process with
    it at once, whatever it is doing: no orphan holding the model and a core."""
    script = textwrap.dedent("""
        import sys, time
        from receptionist.postcall.transcriber_process import TranscriberProcess
        from receptionist.settings import Settings
        settings = Settings(_env_file=None)
        process = TranscriberProcess(settings.whisper_model_path, settings.whisper_compute_type)
        process.ensure_running()
        print(process.pid, flush=True)
        time.sleep(60)
    """)
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(worker.stdout.readline())
        assert alive(child)
        worker.kill()
        worker.wait(10)
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        if worker.poll() is None:
            worker.kill()
