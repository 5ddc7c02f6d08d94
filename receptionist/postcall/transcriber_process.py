"""The Whisper model in a process of its own, so a recording that kills it does not kill the worker.

What can kill a transcription is native: CTranslate2 running out of memory (the kernel's
out-of-memory killer sends SIGKILL to the largest process, which is this one: it holds the model and
the audio, and asks to be chosen first) or crashing. In the worker's own process that death would
look exactly like an operator or a host killing the worker, and could only be counted by guessing.
Here the worker sees it happen: the job fails with `TranscriberDied`, which counts as one of the
recording's attempts (`RECEPTIONIST_MAX_RECORDING_ATTEMPTS`), the worker starts a fresh process
and goes on with the next job. A worker killed from outside takes this process with it
(`PR_SET_PDEATHSIG`), and that death is not the recording's (`receptionist.postcall.claims`).

The process is started with `spawn`, not `fork`: CTranslate2 is not fork-safe, and the model is
loaded once in the child and kept for every job, as in the worker before. It ignores SIGINT and
SIGTERM, so a worker's warm shutdown finishes the job it has: it ends when the worker closes its
pipe, or dies with it.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterable

from receptionist.core.retry import TransientError
from receptionist.postcall.audio import AudioWindow
from receptionist.postcall.transcription import PAUSE_S, Segment, transcribe_call

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# How strongly the kernel's out-of-memory killer should prefer this process to the worker (0 is
# neutral, 1000 always first; raising one's own score needs no privilege).
OOM_SCORE_ADJ = 500
POLL_S = 0.2


class TranscriberDied(Exception):
    """The transcription process died while transcribing (killed, out of memory, or crashed)."""


class TranscriberFailedToStart(TransientError):
    """The transcription process could not load its model: the deployment's fault, not the
    recording's (it does not count against the recording's attempts)."""


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return f"was killed ({name}: the kernel's out-of-memory killer, or someone killed it)"
        return f"crashed ({name})"
    return f"exited with code {exitcode}"


class TranscriberProcess:
    """`Transcriber`'s interface, served by a child process that holds the model."""

    def __init__(self, model_path: str, compute_type: str = "int8", beam_size: int = 5, cpu_threads: int = 0,
                 pause_s: float = PAUSE_S, *, start_timeout_s: float = 300.0):
        self._args = (model_path, compute_type, beam_size, cpu_threads, pause_s)
        self.beam_size = beam_size
        self.start_timeout_s = start_timeout_s
        self._process = None
        self._conn = None
        self.load_seconds = 0.0
        self.restarts = 0
        self._ready = False
        self._launch()  # the model loads while the worker starts up; `ensure_running` waits for it

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _launch(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(target=serve, args=(child_end, os.getpid(), *self._args),
                                  name="receptionist-transcriber", daemon=True)
        process.start()
        child_end.close()
        self._process, self._conn, self._ready = process, parent_end, False

    def _await_ready(self) -> None:
        try:
            status, value = self._reply(self.start_timeout_s)
        except BaseException:
            self._stop()
            raise
        if status != "ready":
            self._stop()
            raise TranscriberFailedToStart(f"the transcription process could not load the model: {value}")
        self._ready, self.load_seconds = True, value
        log.info("transcription process %s ready (model loaded in %.2fs)", self._process.pid, value)

    def _reply(self, timeout_s: float | None = None):
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._conn.poll(POLL_S):
                try:
                    return self._conn.recv()
                except EOFError:  # its end closed: it died
                    self._process.join(2)
            if not self._process.is_alive() or (deadline is not None and time.monotonic() > deadline):
                self._process.join(1)
                raise TranscriberDied(f"the transcription process {describe_exit(self._process.exitcode)}")

    def _stop(self) -> None:
        process, conn, self._process, self._conn = self._process, self._conn, None, None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)

    def ensure_running(self) -> None:
        """A process with its model loaded: the one started, or a new one if the last one died."""
        if self._process is None or not (self._process.is_alive() or (not self._ready and self._conn.poll())):
            if self._process is not None:
                self.restarts += 1
                log.warning("transcription process %s had died (%s): starting another", self._process.pid,
                            describe_exit(self._process.exitcode))
            self._stop()
            self._launch()
        if not self._ready:
            self._await_ready()

    def _call(self, method: str, *args, **kwargs):
        self.ensure_running()
        try:
            self._conn.send((method, args, kwargs))
            status, value = self._reply()
        except TranscriberDied:
            # What it was given killed it: a fresh process now, ready for the next job.
            self._stop()
            self.restarts += 1
            try:
                self.ensure_running()
            except Exception:  # noqa: BLE001 - the next request tries again
                log.exception("could not start another transcription process")
            raise
        except BaseException:
            # The job was stopped mid-request (its timeout): whatever the process was doing is
            # abandoned, and the next request gets a fresh one.
            self._stop()
            raise
        if status == "error":
            raise value
        return value

    def transcribe_channel(self, samples, prompt: str = "", **options) -> list[tuple[float, float, str]]:
        return self._call("transcribe_channel", samples, prompt, **options)

    def transcribe_window(self, window: AudioWindow, prompt: str = "", **options) -> list[Segment]:
        return self._call("transcribe_window", window, prompt, **options)

    def transcribe_call(self, windows: Iterable[AudioWindow], prompt: str = "", log=None) -> list[Segment]:
        """As `Transcriber.transcribe_call`: the alignment with the call's log runs here, Whisper
        there, one window (or one clip of a channel) crossing to the process at a time."""
        return transcribe_call(self, windows, prompt, log)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
        if self._process is not None:
            self._process.join(5)
        self._stop()


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:  # not Linux: the closed pipe ends it when it is next idle
        pass
    if os.getppid() != parent_pid:  # the worker died before the line above ran
        os._exit(1)
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(OOM_SCORE_ADJ))
    except OSError:
        pass


def serve(conn, parent_pid: int, model_path: str, compute_type: str, beam_size: int, cpu_threads: int,
          pause_s: float) -> None:
    """The child: load the model, then answer requests until the pipe closes."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from receptionist.postcall.transcription import Transcriber

    try:
        transcriber = Transcriber(model_path, compute_type, beam_size, cpu_threads, pause_s)
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", transcriber.load_seconds))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        method, args, kwargs = request
        try:
            reply = ("ok", getattr(transcriber, method)(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - raised again in the worker
            reply = ("error", exc)
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
