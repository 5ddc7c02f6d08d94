"""Chaos soak: whole calls through the real pipeline while workers are killed and servers go away.

Everything runs here, on servers this script starts itself (never the machine's shared ones): its
own `redis-server`, a SeaweedFS S3 server, an SMTP capture, a PostgreSQL cluster made with
`initdb`, the Twilio REST stand-in, the real service app over HTTP (uvicorn), and N real worker
processes (`receptionist worker`, as the systemd unit runs them). Calls are played as Twilio
plays them (signed voice webhook, a ConversationRelay session with the offline receptionist, the
caller hanging up, the `<Connect action>`, the recording callback) while a chaos schedule:

* SIGKILLs a worker every `--kill-every` seconds (a busy one when there is one) and starts it
  again `RestartSec=2` later, as `infra/deploy/receptionist-worker@.service` (`Restart=always`)
  has systemd do; a worker that exits by itself is restarted the same way;
* restarts Redis with an empty dataset once (how the services here run it: no persistence);
* has the owner's webhook receiver (HTTPS, signatures verified with `standardwebhooks`) answer 503
  to `--hook-failures` deliveries in a row;
* stops S3 for `--s3-outage` s, PostgreSQL for `--pg-outage` s (`pg_ctl stop -m fast`: every
  connection cut) and SMTP for `--smtp-outage` s.

Before the chaos, `--baseline-calls` calls are played one at a time on the calm stack: the
baseline of the recording-callback → owner-email latency the chaos figures are compared with.

It counts from what landed, not from what the service says: object versions in the (versioned)
bucket, rows in PostgreSQL, emails at the SMTP capture (by Message-ID), texts at the Twilio
stand-in (by the call link in the body) and webhooks the receiver accepted (by webhook-id). A call is *accepted* once the service answered its
recording callback 2xx; from then on the service owns it. An accepted call is *lost* when, once
the queue has drained, it is not stored (one audio and one transcript object, the recording row
done) or its owner was not alerted by email and by SMS. A *duplicate* is a second object version
or a second alert for one call. A call whose webhook the service refused (5xx while its
database was down) was never accepted: Twilio retries "if its connection to your webhook fails"
(https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides, `rc`), and a 5xx is an
answer, so the stricter reading is that it is not sent again; those calls are counted apart, by
the webhook that was refused.

    python bench/soak.py [--calls 300] [--seconds 600] [--workers 2] [--kill-every 20]
                         [--s3-outage 30] [--pg-outage 10] [--smtp-outage 30] [--concurrency 4]

The default run takes about `--seconds` plus the drain (minutes); `tests/test_soak.py` runs a
short one in the default suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from redis import Redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.common import percentile  # noqa: E402
from receptionist.app import create_app  # noqa: E402
from receptionist.core.db import Database  # noqa: E402
from receptionist.settings import Settings  # noqa: E402
from sandbox import LocalPostgres, LocalRedis, LocalS3, LocalTwilioApi, SmtpCapture  # noqa: E402
from sandbox.call_player import CallPlayer, PlayedCall  # noqa: E402
from sandbox.ports import free_port  # noqa: E402
from sandbox.process import ManagedProcess  # noqa: E402
from sandbox.served_app import ServedApp  # noqa: E402
from sandbox.speech import synthesize_call  # noqa: E402
from tests.support.tls import make_tls_files  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402

BUSINESS_NUMBER = "+15550100200"
OWNER_EMAIL = "owner@acme-plumbing.example"
OWNER_MOBILE = "+13125550101"  # a real range: the outbound fence refuses 555 numbers
ALERTS_FROM = "+15550100000"
ACCOUNT = {
    "name": "Acme Plumbing",
    "phone_numbers": [BUSINESS_NUMBER],
    "timezone": "America/Chicago",
    "business": {"services": ["water heater repair", "drain cleaning"], "service_areas": ["Springfield"]},
    "alert_emails": [OWNER_EMAIL],
    "alert_sms": [OWNER_MOBILE],
}
CALLER_LINES = ["Hi, my water heater is leaking in the basement. I live in Springfield.", "My name is Maria Lopez."]
# The recording is kept short (about 8 s): the soak is about what happens around transcription.
RECORDING_TURNS = [
    ("receptionist", "Thanks for calling Acme Plumbing. How can I help you today?"),
    ("caller", CALLER_LINES[0]),
]
SPEECH_CHARS_PER_S = 400.0  # the receptionist's words play faster than speech
RESTART_SEC = 2.0  # RestartSec= of infra/deploy/receptionist-worker@.service
READY_LINE = "Listening on"  # what RQ logs once a worker waits on its queue
# What RQ 3 logs as a worker takes a job ("<queue>: <description> (<job id>)") and as it is done with it.
JOB_STARTED = re.compile(r"rq\.worker: Worker \w+: \w+: (?!Job OK).* \((?P<job>[\w-]+)\)$", re.MULTILINE)
# The jobs a call makes (core.queue's ids); the daily sweep the workers schedule is not one of them.
CALL_JOBS = ("recording-", "alert-", "call-ended-", "webhook-")
HOOK_PATH = "/hooks/soak"
HOOK_EVENTS = ["call.completed", "call.missed"]


def now() -> float:
    return time.time()


# -- options --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    calls: int = 300
    seconds: float = 600.0  # the chaos phase: calls are spread over it and the faults placed in it
    workers: int = 2
    kill_every: float = 20.0
    s3_outage: float = 30.0
    pg_outage: float = 10.0
    smtp_outage: float = 30.0
    hook_failures: int = 20  # the webhook receiver answers 503 to this many deliveries in a row, once
    redis_restart: bool = True
    concurrency: int = 4
    baseline_calls: int = 10
    drain: float = 600.0  # the longest wait for the queue to drain after the last call
    quiet: float = 90.0  # the drain also ends once nothing was queued, running or retrying for this long
    # (longer than the workers' reconcile interval, or the drain could end before a reconciliation)
    lease_s: int | None = None  # RECEPTIONIST_WORKER_LEASE for the workers (None: the product's default)
    reconcile_s: float | None = None  # RECEPTIONIST_RECONCILE_INTERVAL_S (None: the product's default)
    seed: int = 7
    progress: bool = True

    def schedule(self) -> list[tuple[float, str]]:
        """(seconds into the chaos phase, fault), in order: kills all along, each outage once."""
        kills = int(self.seconds / self.kill_every) + 1 if self.kill_every > 0 else 0
        events = [(k * self.kill_every, "kill") for k in range(1, kills) if k * self.kill_every < self.seconds]
        if self.redis_restart:
            events.append((0.25 * self.seconds, "redis"))
        if self.s3_outage > 0:
            events.append((0.40 * self.seconds, "s3"))
        if self.pg_outage > 0:
            events.append((0.60 * self.seconds, "pg"))
        if self.smtp_outage > 0:
            events.append((0.75 * self.seconds, "smtp"))
        if self.hook_failures > 0:
            events.append((0.50 * self.seconds, "hook"))
        return sorted(events)


# -- what happened ----------------------------------------------------------------------------------
@dataclass
class CallRecord:
    call_sid: str
    recording_sid: str
    phase: str  # baseline | chaos
    refused_at: str | None = None  # the webhook the service refused (voice, status, action, recording)
    relay_error: str | None = None
    callback_at: float | None = None  # when the recording callback was posted (epoch seconds)
    accepted: bool = False


@dataclass
class Kill:
    at: float
    slot: int
    pid: int | None
    job_id: str | None
    recovered_at: float | None = None  # its call's alert went out (an idle worker: its replacement is ready)
    resumed_at: float | None = None  # a worker took its job up again

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.at


@dataclass
class Report:
    calls_played: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    relay_errors: int = 0
    kills: int = 0
    worker_restarts: int = 0
    faults: list[str] = field(default_factory=list)
    stored_once: int = 0
    alerted_once: int = 0
    hooked_once: int = 0  # accepted calls whose call.completed (or call.missed) webhook was accepted once
    duplicates: int = 0
    lost: int = 0
    lost_calls: dict[str, str] = field(default_factory=dict)  # call sid → what is missing
    duplicate_calls: dict[str, str] = field(default_factory=dict)
    longest_recovery_s: float | None = None
    longest_clear_recovery_s: float | None = None  # kills whose recovery no outage overlapped
    clear_kills: int = 0
    longest_resume_s: float | None = None
    unrecovered_kills: int = 0
    calm_p50_s: float = float("nan")
    calm_p99_s: float = float("nan")
    chaos_p50_s: float = float("nan")
    chaos_p99_s: float = float("nan")
    drained_in_s: float = float("nan")
    wall_s: float = 0.0
    lease_s: int = 0

    def lines(self) -> list[str]:
        ratio50 = self.chaos_p50_s / self.calm_p50_s if self.calm_p50_s else float("nan")
        ratio99 = self.chaos_p99_s / self.calm_p99_s if self.calm_p99_s else float("nan")
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        out = [
            f"calls played                 {self.calls_played} (recording accepted {self.accepted}; "
            f"refused by the service: {refused}; relay sessions broken {self.relay_errors})",
            f"kills (SIGKILL)              {self.kills} (worker restarts {self.worker_restarts})",
            f"faults injected              {len(self.faults)}: {', '.join(self.faults) or 'none'}",
            f"calls stored once            {self.stored_once} / {self.accepted}",
            f"alerts sent once             {self.alerted_once} / {self.accepted} (email and SMS)",
            f"webhooks delivered once      {self.hooked_once} / {self.accepted} (call.completed, signed, verified)",
            f"duplicates                   {self.duplicates}",
            f"lost                         {self.lost}",
            "longest recovery after kill  " + _seconds(self.longest_clear_recovery_s)
            + f" (the {self.clear_kills} kill(s) no outage overlapped; worker lease {self.lease_s} s; target <= 20 s)",
            "  with the outages           " + _seconds(self.longest_recovery_s)
            + f" (all {self.kills} kill(s); unrecovered {self.unrecovered_kills}: an outage adds its own length)",
            "  of which job taken up again " + (f"{self.longest_resume_s:.1f} s" if self.longest_resume_s is not None
                                                else "n/a") + " (the rest is the queue and the work itself)",
            f"callback -> email, calm      p50 {self.calm_p50_s:.2f} s  p99 {self.calm_p99_s:.2f} s (baseline)",
            f"callback -> email, chaos     p50 {self.chaos_p50_s:.2f} s  p99 {self.chaos_p99_s:.2f} s "
            f"(x{ratio50:.1f} / x{ratio99:.1f} the baseline)",
            f"drained after last call      {self.drained_in_s:.1f} s; wall {self.wall_s:.0f} s",
        ]
        for sid, why in sorted(self.lost_calls.items()):
            out.append(f"  lost {sid}: {why}")
        for sid, why in sorted(self.duplicate_calls.items()):
            out.append(f"  duplicate {sid}: {why}")
        return out


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "n/a"


# -- workers under a supervisor -----------------------------------------------------------------------
class WorkerSlot:
    """One `receptionist worker` process, restarted RESTART_SEC after it dies, whatever killed it."""

    def __init__(self, index: int, env: dict[str, str], logs: Path) -> None:
        self.index, self.env, self.logs = index, env, logs
        self.incarnation = 0
        self.process: ManagedProcess | None = None
        self.died_at: float | None = None
        self.started_at: float | None = None
        self.restarts = 0

    @property
    def log_path(self) -> Path:
        return self.logs / f"worker-{self.index}.{self.incarnation}.log"

    def start(self) -> None:
        self.incarnation += 1
        # Its slot, as `infra/deploy/receptionist-worker@.service` gives each instance (`%H-%i`): a
        # process restarted in it takes over at once what the killed one left.
        self.process = ManagedProcess([sys.executable, "-m", "receptionist.cli", "worker"], self.log_path,
                                      cwd=ROOT, env=self.env | {"RECEPTIONIST_WORKER_SLOT": f"soak-{self.index}"})
        self.process.start()
        self.started_at, self.died_at = now(), None

    def ready(self) -> bool:
        try:
            return self.process is not None and self.process.running and READY_LINE in self.log_path.read_text()
        except OSError:
            return False

    def current_job(self) -> str | None:
        """The job this worker is running, from its log: RQ logs a job's start and its end. (Its
        Redis registry is not enough: a Redis restarted empty forgets the worker and its job.)"""
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        starts = list(JOB_STARTED.finditer(log))
        if not starts:
            return None
        job_id = starts[-1]["job"]
        rest = log[starts[-1].end():]
        # "Job OK (<id>)" once it succeeded, "[Job <id>]: exception raised …" once it failed.
        return None if f"Job OK ({job_id})" in rest or f"[Job {job_id}]" in rest else job_id

    def kill(self) -> int | None:
        pid = self.process.pid if self.process else None
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid

    def tend(self) -> None:
        """Called often: notice a dead worker, and start it again RESTART_SEC later."""
        if self.process is None:
            return
        if not self.process.running:
            if self.died_at is None:
                self.died_at = now()
                self.process.stop(timeout=1)  # reap it and close its log
            elif now() - self.died_at >= RESTART_SEC:
                self.restarts += 1
                self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=30)
            self.process = None


def log_text_start(match: re.Match[str]) -> str:
    """The asctime ("2026-12-02 05:03:45,770") at the start of the log line `match` is in (the
    worker logs in local time: `receptionist.cli._logging`)."""
    text, at = match.string, match.start()
    begin = text.rfind("\n", 0, at) + 1
    return text[begin:begin + 23]


def wait_until(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(what)


# -- the soak -------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, options: Options, workdir: Path, console: Console | None = None) -> None:
        self.o = options
        self.workdir = workdir
        self.console = console or Console()
        self.random = random.Random(options.seed)
        self.records: dict[str, CallRecord] = {}
        self.kills: list[Kill] = []
        self.faults: list[str] = []
        self.outages: list[tuple[float, float]] = []  # (from, to) of every outage, epoch seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- the stack --------------------------------------------------------------------------------
    def _start_stack(self, stack: ExitStack) -> None:
        self.redis = stack.enter_context(LocalRedis(port=free_port()))  # the same port after its restart
        self.s3 = stack.enter_context(LocalS3(data_dir=self.workdir / "s3"))
        self.smtp = stack.enter_context(SmtpCapture())
        self.pg = stack.enter_context(LocalPostgres())
        # The owner's webhook receiver: HTTPS with a throwaway CA, every signature checked with the
        # `standardwebhooks` package; it fails on command (`_fault_hook`).
        self.tls = make_tls_files(self.workdir)
        self.receiver = stack.enter_context(WebhookReceiver(self.tls))
        self.twilio = stack.enter_context(LocalTwilioApi("AC" + secrets.token_hex(16), secrets.token_hex(16)))
        database_url = self.pg.create_database("receptionist")
        port = free_port()
        total = self.o.calls + self.o.baseline_calls
        self.settings = Settings(
            _env_file=None, database_url=database_url, redis_url=self.redis.url, s3_bucket="soak",
            s3_endpoint_url=self.s3.endpoint_url, aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key, aws_region=self.s3.region,
            twilio_account_sid=self.twilio.account_sid, twilio_auth_token=self.twilio.auth_token,
            twilio_api_url=self.twilio.base_url, public_url=f"http://127.0.0.1:{port}", allow_plain_http=True,
            smtp_url=self.smtp.url, alert_from_number=ALERTS_FROM, sms_daily_cap=2 * total + 10,
            admin_token=secrets.token_hex(16), session_secret=secrets.token_hex(32),
            webhook_allow_private=True, webhook_ca_bundle=str(self.tls.ca),
            whisper_threads=1,  # one core per worker process: N workers on N cores do not fight over them
            **({"worker_lease_s": self.o.lease_s} if self.o.lease_s else {}),
            **({"reconcile_interval_s": self.o.reconcile_s} if self.o.reconcile_s else {}),
        )
        self.db = Database(self.settings.database_url, pool_size=2)
        stack.callback(self.db.dispose)
        self.db.migrate()
        self.s3_client = self.s3.client()
        self.app = stack.enter_context(ServedApp(create_app(self.settings), port=port))
        self.http = stack.enter_context(httpx.Client(timeout=30.0))
        self.player = CallPlayer(self.app.url, self.twilio.account_sid, self.twilio.auth_token,
                                 public_url=self.settings.public_url, client=self.http, twilio=self.twilio)
        self.twilio.add_incoming_number(BUSINESS_NUMBER)
        response = self.http.post(f"{self.app.url}/api/accounts", json=ACCOUNT,
                                  headers={"Authorization": f"Bearer {self.settings.admin_token}"})
        response.raise_for_status()
        self.account_id = response.json()["id"]
        response = self.http.post(f"{self.app.url}/api/accounts/{self.account_id}/webhooks",
                                  json={"url": self.receiver.url(HOOK_PATH), "events": HOOK_EVENTS},
                                  headers={"Authorization": f"Bearer {self.settings.admin_token}"})
        response.raise_for_status()
        self.receiver.secrets[HOOK_PATH] = response.json()["secret"]
        audio = synthesize_call(RECORDING_TURNS, self.workdir / "call.wav")
        self.wav, self.duration_s = audio.path.read_bytes(), max(1, round(audio.duration_s))

        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "AWS_", "OPENAI_"))}
        env |= self.settings.to_env() | {"PYTHONPATH": str(ROOT)}
        self.slots = [WorkerSlot(i + 1, env, self.workdir / "logs") for i in range(self.o.workers)]
        stack.callback(lambda: [slot.stop() for slot in self.slots])
        for slot in self.slots:
            slot.start()
        wait_until(lambda: all(slot.ready() for slot in self.slots), 180, "workers ready (model loaded)", 0.2)
        # The workers made the bucket (with its default encryption); every write is now a version, so a
        # second store of one call's object shows up as a duplicate.
        self.s3_client.put_bucket_versioning(Bucket=self.settings.s3_bucket,
                                             VersioningConfiguration={"Status": "Enabled"})
        supervisor = threading.Thread(target=self._supervise, name="soak-supervisor", daemon=True)
        supervisor.start()
        stack.callback(supervisor.join, 5)
        stack.callback(self._stop.set)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            for slot in self.slots:
                slot.tend()
            with self._lock:
                for kill in self.kills:
                    if kill.recovered_at is None and kill.job_id is None:
                        # An idle worker: recovered once its replacement waits on the queue again.
                        slot = self.slots[kill.slot]
                        if slot.started_at and slot.started_at > kill.at and slot.ready():
                            kill.recovered_at = now()
            self._stop.wait(0.2)

    # -- faults ------------------------------------------------------------------------------------
    def _fault(self, name: str) -> None:
        try:
            getattr(self, f"_fault_{name}")()
        except Exception as exc:  # a fault that could not be injected is reported, not hidden
            self.faults.append(f"{name} FAILED ({type(exc).__name__}: {exc})")

    def _fault_kill(self) -> None:
        busy = self._busy_workers() | {slot.process.pid: job for slot in self.slots
                                       if slot.process is not None and (job := slot.current_job())}
        live = [i for i, slot in enumerate(self.slots) if slot.process is not None and slot.process.running]
        if not live:
            return
        candidates = [i for i in live if self.slots[i].process.pid in busy] or live
        index = self.random.choice(candidates)
        slot = self.slots[index]
        job_id = busy.get(slot.process.pid)
        pid = slot.kill()
        with self._lock:
            self.kills.append(Kill(now(), index, pid, job_id))

    def _busy_workers(self) -> dict[int, str]:
        """pid → the job it is running, from RQ's worker registry (empty when Redis is away)."""
        from rq import Worker

        try:
            with Redis.from_url(self.settings.redis_url, socket_timeout=2) as conn:
                return {w.pid: job for w in Worker.all(connection=conn) if (job := w.get_current_job_id())}
        except Exception:
            return {}

    def _fault_redis(self) -> None:
        # The restart that costs something comes while jobs wait: wait (a little) for one to be queued.
        deadline = time.monotonic() + min(15.0, 0.2 * self.o.seconds)
        while (waiting := self._queued()) == (0, 0) and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.1)
        began = now()
        self.redis.stop()
        self.redis.start()  # same port, empty: no persistence
        self.outages.append((began, now()))
        self.faults.append(f"redis restarted empty ({waiting[0]} job(s) queued, {waiting[1]} running)")

    def _queued(self) -> tuple[int, int]:
        from rq import Queue

        try:
            with Redis.from_url(self.settings.redis_url, socket_timeout=2) as conn:
                queue = Queue(self.settings.queue_name, connection=conn)
                return len(queue), len(queue.started_job_registry)
        except Exception:
            return 0, 0

    def _fault_s3(self) -> None:
        endpoint = self.s3.endpoint_url
        began = now()
        self.s3.stop()
        self._stop.wait(self.o.s3_outage)
        self.s3.start()
        self.outages.append((began, now()))
        if self.s3.endpoint_url != endpoint:  # the workers would never find it again: the soak is void
            raise RuntimeError(f"S3 came back on {self.s3.endpoint_url}, not {endpoint}")
        self.faults.append(f"s3 down {self.o.s3_outage:.0f} s")

    def _fault_pg(self) -> None:
        began = now()
        self.pg.stop_server("fast")
        self._stop.wait(self.o.pg_outage)
        self.pg.start_server()
        self.outages.append((began, now()))
        self.faults.append(f"postgresql down {self.o.pg_outage:.0f} s")

    def _fault_smtp(self) -> None:
        began = now()
        self.smtp.stop()
        self._stop.wait(self.o.smtp_outage)
        self.smtp.start()
        self.outages.append((began, now()))
        self.faults.append(f"smtp down {self.o.smtp_outage:.0f} s")

    def _fault_hook(self) -> None:
        with self.receiver._lock:
            self.receiver.plan.extend([503] * self.o.hook_failures)
        self.faults.append(f"webhook receiver answered 503 to {self.o.hook_failures} deliveries")

    # -- calls ---------------------------------------------------------------------------------------
    async def _play(self, index: int, phase: str) -> CallRecord:
        caller = f"+1555014{index % 10000:04d}"
        record: CallRecord | None = None
        try:
            call = await asyncio.to_thread(self.player.start, caller, BUSINESS_NUMBER)
        except httpx.HTTPError as exc:
            # The caller hears Twilio's application error; nothing was recorded.
            sid = f"voice-refused-{index}"
            record = CallRecord(sid, "", phase, refused_at="voice", relay_error=str(exc)[:200])
            self.records[sid] = record
            return record
        record = CallRecord(call.call_sid, "RE" + call.call_sid[2:], phase)
        self.records[call.call_sid] = record
        await self._converse(call, record)
        # The recording runs for the whole call whatever the relay did; Twilio reports it at the end.
        record.callback_at = now()
        try:
            status = await asyncio.to_thread(self.player.record, call, self.wav, record.recording_sid)
            record.accepted = status == "completed"
        except httpx.HTTPError:
            record.refused_at = record.refused_at or "recording"
        return record

    async def _converse(self, call: PlayedCall, record: CallRecord) -> None:
        relay = self.player.relay(call, chars_per_s=SPEECH_CHARS_PER_S)
        status_sent = False
        try:
            async with relay:
                for line in CALLER_LINES:
                    heard = await relay.say(line, timeout=20)
                    if heard.end is not None:
                        break
                status_sent = True
                await self.player.hang_up(call, relay, status_first=True, duration_s=self.duration_s)
        except httpx.HTTPStatusError as exc:
            record.refused_at = record.refused_at or ("status" if "/status" in str(exc.request.url) else "action")
        except Exception as exc:  # the session broke (the service answered 5xx to the upgrade, closed, timed out)
            record.relay_error = f"{type(exc).__name__}: {exc}"[:200]
        if not status_sent:
            try:
                await asyncio.to_thread(self.player.end, call, self.duration_s)
            except httpx.HTTPError:
                record.refused_at = record.refused_at or "status"

    async def _calls(self, count: int, phase: str, spread_s: float, concurrency: int, progress, task) -> None:
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        offset = len(self.records)

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, started + i * spread_s / max(1, count) - time.monotonic()))
            async with gate:
                record = await self._play(offset + i, phase)
            if phase == "baseline" and record.accepted:  # one at a time: the calm latency, no queueing
                await asyncio.to_thread(self._wait_email, record.call_sid, 120)
            if progress is not None:
                progress.advance(task)

        if phase == "baseline":
            for i in range(count):
                await one(i)
        else:
            await asyncio.gather(*(one(i) for i in range(count)))

    def _wait_email(self, call_sid: str, timeout: float) -> None:
        try:
            wait_until(lambda: call_sid in self._email_times(), timeout, f"email for {call_sid}", 0.05)
        except TimeoutError:
            pass

    # -- counting -----------------------------------------------------------------------------------
    def _email_times(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for message in self.smtp.messages:
            message_id = str(message.message.get("Message-ID", ""))
            sid = message_id.strip().strip("<>").split(".", 1)[0]
            out.setdefault(sid, []).append(message.received_at.timestamp())
        return out

    def _texts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for message in self.twilio.messages:
            if message.to == OWNER_MOBILE and "/calls/CA" in message.body:
                sid = "CA" + message.body.split("/calls/CA", 1)[1][:32]
                out[sid] = out.get(sid, 0) + 1
        return out

    def _versions(self) -> dict[str, dict[str, int]]:
        """call sid → {object name → number of versions} under the account's prefix."""
        out: dict[str, dict[str, int]] = {}
        paginator = self.s3_client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.settings.s3_bucket, Prefix=f"accounts/{self.account_id}/calls/"):
            for version in page.get("Versions", []):
                _, _, _, sid, name = version["Key"].split("/", 4)
                names = out.setdefault(sid, {})
                names[name] = names.get(name, 0) + 1
        return out

    def _rows(self) -> dict[str, tuple[str | None, bool, int]]:
        """call sid → (recording status, transcript stored on the call, calls rows with that sid)."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT c.call_sid, r.status, c.transcript IS NOT NULL, "
                "(SELECT count(*) FROM calls c2 WHERE c2.call_sid = c.call_sid) "
                "FROM calls c LEFT JOIN recordings r ON r.call_id = c.id")).all()
        return {sid: (status, bool(transcribed), n) for sid, status, transcribed, n in rows}

    def _hooks(self) -> dict[str, dict[str, int]]:
        """call sid → {webhook-id: times the receiver accepted it} for its call.completed/missed."""
        out: dict[str, dict[str, int]] = {}
        for received in list(self.receiver.received):
            if received.path != HOOK_PATH or not received.verified or received.answered not in range(200, 300):
                continue
            try:
                event = received.event
            except ValueError:
                continue
            if event.get("type") in HOOK_EVENTS:
                ids = out.setdefault((event.get("data") or {}).get("call_sid", "?"), {})
                ids[received.webhook_id] = ids.get(received.webhook_id, 0) + 1
        return out

    def _complete(self, record: CallRecord, versions, rows, emails, texts, hooks=None) -> list[str]:
        hooks = self._hooks() if hooks is None else hooks
        missing = []
        names = versions.get(record.call_sid, {})
        if names.get("recording.wav", 0) < 1 or names.get("transcript.json", 0) < 1:
            missing.append(f"objects {sorted(names) or 'none'}")
        status, transcribed, _ = rows.get(record.call_sid, (None, False, 0))
        if status != "done" or not transcribed:
            missing.append(f"recording row {status or 'absent'}")
        if not emails.get(record.call_sid):
            missing.append("no email")
        if not texts.get(record.call_sid):
            missing.append("no SMS")
        if not hooks.get(record.call_sid):
            missing.append("no webhook")
        return missing

    def _job_starts(self) -> dict[str, list[float]]:
        """job id → when a worker took it (epoch seconds, from every worker log's timestamps)."""
        out: dict[str, list[float]] = {}
        for log in sorted((self.workdir / "logs").glob("worker-*.log")):
            for match in JOB_STARTED.finditer(log.read_text(errors="replace")):
                line_start = log_text_start(match)
                try:
                    moment = datetime.strptime(line_start, "%Y-%m-%d %H:%M:%S,%f").astimezone()
                except ValueError:
                    continue
                out.setdefault(match["job"], []).append(moment.timestamp())
        return {job: sorted(times) for job, times in out.items()}

    def _pending_jobs(self) -> int:
        """Call jobs queued, running or waiting for a retry (-1 when Redis does not answer)."""
        from rq import Queue

        try:
            with Redis.from_url(self.settings.redis_url, socket_timeout=2) as conn:
                queue = Queue(self.settings.queue_name, connection=conn)
                ids = queue.job_ids + [j for registry in (queue.started_job_registry, queue.scheduled_job_registry,
                                                          queue.deferred_job_registry) for j in registry.get_job_ids()]
                return sum(1 for job_id in ids if job_id.startswith(CALL_JOBS))
        except Exception:
            return -1

    def _drain(self) -> float:
        """Wait until every accepted call is complete, or nothing is left that could complete one."""
        started = time.monotonic()
        quiet_since: float | None = None
        while time.monotonic() - started < self.o.drain:
            accepted = [r for r in self.records.values() if r.accepted]
            versions, rows, emails, texts = self._versions(), self._rows(), self._email_times(), self._texts()
            hooks = self._hooks()
            if all(not self._complete(r, versions, rows, emails, texts, hooks) for r in accepted):
                break
            # Nothing queued, running or waiting for a retry for a while: what is missing will not come.
            if self._pending_jobs() == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > self.o.quiet:
                    break
            else:
                quiet_since = None
            time.sleep(1.0)
        return time.monotonic() - started

    def _report(self, drained_s: float, wall_s: float) -> Report:
        versions, rows, emails, texts = self._versions(), self._rows(), self._email_times(), self._texts()
        hooks = self._hooks()
        report = Report(kills=len(self.kills), faults=list(self.faults), drained_in_s=drained_s, wall_s=wall_s,
                        worker_restarts=sum(slot.restarts for slot in self.slots), lease_s=self.settings.worker_lease_s)
        played = [r for r in self.records.values() if r.refused_at != "voice"]
        report.calls_played = len(played)
        for record in self.records.values():
            if record.refused_at:
                report.refused[record.refused_at] = report.refused.get(record.refused_at, 0) + 1
        report.relay_errors = sum(1 for r in played if r.relay_error)
        latencies: dict[str, list[float]] = {"baseline": [], "chaos": []}
        for record in played:
            names = versions.get(record.call_sid, {})
            sends = len(emails.get(record.call_sid, [])), texts.get(record.call_sid, 0)
            extra = [f"{name} x{n}" for name, n in names.items() if n > 1]
            extra += [f"{what} x{n}" for what, n in zip(("email", "SMS"), sends) if n > 1]
            if rows.get(record.call_sid, (None, False, 0))[2] > 1:
                extra.append("call rows x2+")
            delivered = hooks.get(record.call_sid, {})
            if len(delivered) > 1 or any(n > 1 for n in delivered.values()):
                extra.append(f"webhook x{sum(delivered.values())} ({len(delivered)} id(s))")
            if extra:
                report.duplicates += 1
                report.duplicate_calls[record.call_sid] = ", ".join(extra)
            if not record.accepted:
                continue
            report.accepted += 1
            missing = self._complete(record, versions, rows, emails, texts, hooks)
            if missing:
                report.lost += 1
                report.lost_calls[record.call_sid] = "; ".join(missing)
            if not missing and all(names.get(n) == 1 for n in ("recording.wav", "transcript.json")):
                report.stored_once += 1
            if sends == (1, 1):
                report.alerted_once += 1
            if list(hooks.get(record.call_sid, {}).values()) == [1]:
                report.hooked_once += 1
            if emails.get(record.call_sid) and record.callback_at:
                latencies[record.phase].append(min(emails[record.call_sid]) - record.callback_at)
        report.calm_p50_s, report.calm_p99_s = percentile(latencies["baseline"], 50), percentile(latencies["baseline"], 99)
        report.chaos_p50_s, report.chaos_p99_s = percentile(latencies["chaos"], 50), percentile(latencies["chaos"], 99)
        for kill in self.kills:
            if kill.job_id is not None and kill.recovered_at is None:
                sid = "CA" + kill.job_id.removeprefix("recording-RE")
                after = [t for t in emails.get(sid, []) if t >= kill.at]
                if after:
                    kill.recovered_at = min(after)
                elif emails.get(sid):  # its alert had gone out just before the kill: nothing to recover
                    kill.recovered_at = kill.at
        starts = self._job_starts()
        for kill in self.kills:
            if kill.job_id is not None:
                kill.resumed_at = next((t for t in starts.get(kill.job_id, []) if t > kill.at), None)
        resumes = [k.resumed_at - k.at for k in self.kills if k.resumed_at is not None]
        report.longest_resume_s = max(resumes) if resumes else None
        recoveries = [k.recovery_s for k in self.kills if k.recovery_s is not None]
        report.longest_recovery_s = max(recoveries) if recoveries else None
        # A kill whose recovery an outage overlapped waits for that outage too (the chaos p99 shows
        # it); the kill's own cost is measured on the others.
        clear = [k.recovery_s for k in self.kills if k.recovery_s is not None
                 and not any(began <= k.recovered_at and k.at <= ended for began, ended in self.outages)]
        report.clear_kills = len(clear)
        report.longest_clear_recovery_s = max(clear) if clear else None
        report.unrecovered_kills = sum(1 for k in self.kills if k.recovery_s is None)
        return report

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> Report:
        began = time.monotonic()
        with ExitStack() as stack:
            self.console.print(f"starting Redis, SeaweedFS, SMTP capture, PostgreSQL, the Twilio stand-in, the app "
                               f"and {self.o.workers} worker(s)…")
            self._start_stack(stack)
            progress = None
            if self.o.progress:
                progress = stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=self.console, transient=False))
            calm = progress.add_task("calm baseline", total=self.o.baseline_calls) if progress else None
            asyncio.run(self._calls(self.o.baseline_calls, "baseline", 0.0, 1, progress, calm))
            chaos = progress.add_task("calls under chaos", total=self.o.calls) if progress else None
            timers = [threading.Timer(at, self._fault, (name,)) for at, name in self.o.schedule()]
            for timer in timers:
                timer.daemon = True
                timer.start()
            asyncio.run(self._calls(self.o.calls, "chaos", self.o.seconds, self.o.concurrency, progress, chaos))
            for timer in timers:  # every fault is placed inside the phase; one under way ends before the drain
                timer.join()
            drained = self._drain()
            if progress is not None:
                progress.stop()
            return self._report(drained, time.monotonic() - began)


def run_soak(options: Options, workdir: Path | None = None, console: Console | None = None) -> Report:
    if workdir is not None:
        return Soak(options, workdir, console).run()
    with tempfile.TemporaryDirectory(prefix="receptionist-soak-") as tmp:
        return Soak(options, Path(tmp), console).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Options()
    parser.add_argument("--calls", type=int, default=defaults.calls, help="calls played under chaos")
    parser.add_argument("--seconds", type=float, default=defaults.seconds,
                        help="length of the chaos phase: calls are spread over it, the faults placed in it")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--kill-every", type=float, default=defaults.kill_every, help="seconds between SIGKILLs (0: none)")
    parser.add_argument("--s3-outage", type=float, default=defaults.s3_outage, help="seconds S3 is down (0: never)")
    parser.add_argument("--pg-outage", type=float, default=defaults.pg_outage, help="seconds PostgreSQL is down (0: never)")
    parser.add_argument("--smtp-outage", type=float, default=defaults.smtp_outage, help="seconds SMTP is down (0: never)")
    parser.add_argument("--hook-failures", type=int, default=defaults.hook_failures,
                        help="deliveries the webhook receiver answers 503, in a row (0: none)")
    parser.add_argument("--no-redis-restart", action="store_true", help="do not restart Redis empty")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="calls in progress at once")
    parser.add_argument("--baseline-calls", type=int, default=defaults.baseline_calls)
    parser.add_argument("--drain", type=float, default=defaults.drain, help="longest wait for the queue to drain")
    parser.add_argument("--quiet", type=float, default=defaults.quiet,
                        help="the drain ends once no job was queued, running or retrying for this long")
    parser.add_argument("--lease", type=int, default=None, help="RECEPTIONIST_WORKER_LEASE for the workers")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (worker logs) and print it")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.calls < 1 or args.seconds <= 0:
        parser.error("--workers and --calls must be at least 1 and --seconds positive")
    options = Options(calls=args.calls, seconds=args.seconds, workers=args.workers, kill_every=args.kill_every,
                      s3_outage=args.s3_outage, pg_outage=args.pg_outage, smtp_outage=args.smtp_outage,
                      hook_failures=args.hook_failures,
                      redis_restart=not args.no_redis_restart, concurrency=args.concurrency,
                      baseline_calls=args.baseline_calls, drain=args.drain, quiet=args.quiet, lease_s=args.lease)
    console = Console()
    if args.keep:
        workdir = Path(tempfile.mkdtemp(prefix="receptionist-soak-"))
        report = run_soak(options, workdir, console)
        console.print(f"kept {workdir}")
    else:
        report = run_soak(options, console=console)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nchaos soak ({stamp}): {options.calls} calls over {options.seconds:.0f} s, {options.workers} workers")
    for line in report.lines():
        print(line)
    return 0 if report.lost == 0 and report.duplicates == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
