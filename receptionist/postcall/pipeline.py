"""After the call: download → decode → transcribe → store encrypted → update the call → alert.

Every step can run twice without harm: the recording row records what is done, objects are written
only when absent or different, alerts are claimed per recipient. A job killed at any point and run
again finishes the work once.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from receptionist.calls.outcome import after_transcript, on_recording_given_up
from receptionist.calls.records import (
    FOLLOWUP_ALERT,
    FOLLOWUP_CALL_ENDED,
    find_call,
    settle_followup,
)
from receptionist.core.db import Database
from receptionist.core.models import Call, Recording, utcnow
from receptionist.core.ports import RecordingTooLarge, TelephonyApi
from receptionist.core.queue import JobQueue, QueueUnavailable
from receptionist.core.retry import PermanentError, with_backoff
from receptionist.core.templates import Templates
from receptionist.notify.alerts import OwnerAlerts, fail_pending_deliveries
from receptionist.notify.outbound import SmsFence
from receptionist.notify.text_back import send_text_back
from receptionist.postcall.audio import BadRecording, RecordingAudio, download_limit
from receptionist.postcall.claims import Claim, claim_recording
from receptionist.postcall.summary import Summarizer
from receptionist.postcall.transcript import CallLog
from receptionist.postcall.transcription import Transcriber, vocabulary_prompt
from receptionist.privacy.erasure import is_erased
from receptionist.privacy.retention import call_tags
from receptionist.settings import Settings
from receptionist.storage.client import is_transient as storage_is_transient
from receptionist.webhooks import events as webhook_events
from receptionist.webhooks.delivery import WebhookSender
from receptionist.storage.objects import (
    ObjectStore,
    ObjectTags,
    call_prefix,
    recording_key,
    transcript_document,
    transcript_key,
)

log = logging.getLogger(__name__)


class UnusableRecording(PermanentError):
    """The recording itself cannot be processed (corrupt, empty, too large): retrying will not help."""

    kind = "unusable"


class RecordingRefused(UnusableRecording):
    """The recording's media is larger than its reported duration allows: refused, not read."""

    kind = "too-large"


@dataclass
class PipelineContext:
    """What a worker process builds once and hands to every job (built by `receptionist.wiring`)."""

    settings: Settings
    db: Database
    queue: JobQueue
    store: ObjectStore
    twilio: TelephonyApi
    transcriber: Transcriber
    templates: Templates
    sms_fence: SmsFence
    alerts: OwnerAlerts
    summarizer: Summarizer
    close: Callable[[], None]  # closes what holds connections (set by whoever built it)
    webhooks: WebhookSender | None = None  # sends webhook deliveries (None: a context that sends none)
    # The benchmark's baseline only (`bench/post_call.py --baseline`): Whisper transcribes the
    # receptionist's channel too, as before its lines were taken from the call's log. Never set
    # by the product.
    whisper_every_channel: bool = False


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def this_process() -> str:
    """Who claims a recording when no worker name is given (a job run outside a worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_recording(ctx: PipelineContext, recording_sid: str, times: StageTimes | None = None, *,
                      owner: str | None = None, holder_alive: Callable[[str], bool] = lambda name: False) -> str:
    """Process one recording; returns what happened ("done", "already-done", "gone", "failed",
    "held-elsewhere"). `owner` names the worker claiming it; `holder_alive` tells whether the
    worker named on an unlapsed claim is still alive (see `postcall.claims`)."""
    times = times or StageTimes()
    db = ctx.db
    claim, attempts = claim_recording(db, recording_sid, owner or this_process(), lease_s=ctx.settings.worker_lease_s,
                                      max_attempts=ctx.settings.max_recording_attempts, holder_alive=holder_alive)
    if claim is Claim.EXHAUSTED:
        give_up(ctx, recording_sid, "attempts-exhausted",
                f"gave up after {attempts} attempts: each one ended without a result (it failed, or the process "
                "transcribing it was killed or crashed, for example out of memory)")
        return "failed"
    if claim is Claim.ABANDONED:
        give_up(ctx, recording_sid, "abandoned-exhausted",
                f"gave up after its worker died {attempts} times while processing it")
        return "failed"
    if claim is not Claim.CLAIMED:
        # Erased while the job waited ("gone": it must never come back), finished, given up, or a
        # live worker has it.
        return claim.value
    with db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        if recording is None:
            return "gone"
        call = recording.call
        call.processing_status, call.processing_error = "processing", None
        account = call.account
        tags = ObjectTags(account.id, call.retention_days, call.training_opt_out or account.training_opt_out)
        audio_key = recording_key(account.id, call.call_sid, "wav")
        text_key = transcript_key(account.id, call.call_sid)
        already_transcribed = recording.transcript_key is not None and call.transcript is not None
        prompt = vocabulary_prompt(account.name, account.business)
        call_id, call_sid, recorded_at = call.id, call.call_sid, recording.created_at
        # What the product itself said on the call (and what the relay heard the caller say).
        spoken = None if ctx.whisper_every_channel else CallLog.of(call.conversation, call.said, call.handoff)
        duration_s = recording.duration_s

    if not already_transcribed:
        with tempfile.TemporaryDirectory(prefix="receptionist-recording-") as workdir:
            audio_path = Path(workdir) / "recording.wav"
            started = time.perf_counter()
            try:
                ctx.twilio.download_recording_to(recording_sid, audio_path, download_limit(duration_s), "wav")
            except RecordingTooLarge as exc:
                raise RecordingRefused(str(exc)) from exc
            times.add("download", started)
            try:
                audio = RecordingAudio(audio_path)
                segments = [s.as_dict() for s in ctx.transcriber.transcribe_call(
                    _timed(audio.windows(), times, "decode"), prompt, log=spoken)]
            except BadRecording as exc:
                raise UnusableRecording(str(exc)) from exc
            times.seconds["transcribe"] = time.perf_counter() - started - sum(
                times.seconds.get(stage, 0.0) for stage in ("download", "decode"))
            decoded_s = audio.decoded_s
            result = _store_transcribed(ctx, recording_sid, call_id, call_sid, recorded_at, tags, audio_key,
                                        audio_path, text_key, segments, decoded_s, times)
        if result is not None:
            return result

    # Every piece of evidence is in (the relay's turns, the caller channel's words): the outcome,
    # and a missed caller's text-back before anything slower.
    started = time.perf_counter()
    with db.session() as session:
        call = session.get(Call, call_id)
        decided = after_transcript(session, call) if call is not None else None
    if decided == "missed":
        send_text_back(ctx.db, ctx.twilio, ctx.templates, ctx.sms_fence, call_id)
    times.add("outcome", started)

    started = time.perf_counter()
    summarize_call(ctx, call_id, refresh=not already_transcribed)
    times.add("summary", started)

    started = time.perf_counter()
    _send_alerts(ctx, call_id)
    times.add("alert", started)

    with db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        if recording is not None:
            recording.status, recording.error, recording.finished_at = "done", None, utcnow()
            recording.claimed_by = recording.lease_until = None
            recording.call.processing_status = "done"
            recording.call.processing_error = None
    if ctx.settings.delete_twilio_recordings:
        # Only now: our encrypted copy is stored and the owner has been told.
        ctx.twilio.delete_recording(recording_sid)
    log.info("recording %s of call %s processed: %s", recording_sid, call_sid,
             {k: round(v, 3) for k, v in times.seconds.items()})
    return "done"


def _store_transcribed(ctx: PipelineContext, recording_sid: str, call_id: int, call_sid: str, recorded_at,
                       tags: ObjectTags, audio_key: str, audio_path: Path, text_key: str, segments: list[dict],
                       decoded_s: float, times: StageTimes) -> str | None:
    """Store the audio and transcript encrypted and tagged, and record them on the call; "gone"
    when the call was erased meanwhile (nothing of it is left stored), else None."""
    if _erased(ctx, call_sid):  # erased while we transcribed: store nothing for it
        return "gone"
    started = time.perf_counter()
    document = transcript_document(call_sid, tags.account_id, segments, recorded_at)
    for key, put in (
        (audio_key, lambda: ctx.store.put_file(audio_key, audio_path, "audio/wav", tags)),
        (text_key, lambda: ctx.store.put_json(text_key, document, tags)),
    ):
        with_backoff(put, what=f"store {key}", is_transient=storage_is_transient, window_s=ctx.settings.step_retry_window_s)
    times.add("store", started)

    with ctx.db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        call = session.get(Call, call_id) if recording is not None else None
        if call is None or is_erased(session, call_sid):
            erased = True
        else:
            erased = False
            recording.audio_key, recording.transcript_key = audio_key, text_key
            if recording.duration_s is None:
                recording.duration_s = round(decoded_s)
            call.transcript = segments
            call.expires_at = call.started_at + timedelta(days=call.retention_days)
            current_tags = call_tags(call)
    if erased:
        # Erased while we stored: the erasure may have listed the call's objects before our
        # writes landed, so what we wrote is ours to delete.
        ctx.store.delete_prefix(call_prefix(tags.account_id, call_sid))
        return "gone"
    if current_tags != tags:
        # Retention or training flag changed while we transcribed; its re-tag job may have
        # run before these objects existed.
        ctx.store.retag_prefix(call_prefix(tags.account_id, call_sid), current_tags)
    return None


def _timed(windows, times: StageTimes, stage: str):
    """The windows as they come, the time spent producing them counted as `stage`."""
    iterator = iter(windows)
    while True:
        started = time.perf_counter()
        try:
            window = next(iterator)
        except StopIteration:
            times.add(stage, started)
            return
        times.add(stage, started)
        yield window


def summarize_call(ctx: PipelineContext, call_id: int, *, refresh: bool = True) -> None:
    """Write the call's summary and lead (kept when already there and nothing new was heard)."""
    with ctx.db.session() as session:
        call = session.get(Call, call_id)
        if call is None or (call.summary is not None and not refresh):  # None: erased meanwhile
            return
        account = call.account
        result, path = ctx.summarizer.summarize(
            business_name=account.name, business=account.business or {}, caller_id=call.from_number,
            conversation=call.conversation, transcript=call.transcript, live_lead=call.lead,
            default_country="1" if call.to_number.startswith("+1") else "",
        )
        call.summary = result.summary
        call.lead = result.lead.model_dump(exclude_none=True)
        log.info("call %s summarised (%s)", call.call_sid, path)


def _send_alerts(ctx: PipelineContext, call_id: int) -> None:
    """The call is stored and summarised: its webhook event (`call.completed` or `call.missed`) is
    recorded in the outbox and queued, then the owner is alerted."""
    with ctx.db.session() as session:
        call = session.get(Call, call_id)
        recorded = webhook_events.call_ended(session, call, ctx.settings.public_url) if call is not None else []
    queue_webhooks(ctx.queue, recorded)
    with ctx.db.session() as session:
        call = session.get(Call, call_id)
        if call is not None:  # None: erased meanwhile
            ctx.alerts.send_for(call)


def queue_webhooks(queue: JobQueue, delivery_ids: list[int]) -> None:
    """Queue newly recorded deliveries; the reconciler queues them later if Redis is away."""
    try:
        for delivery_id in delivery_ids:
            queue.enqueue_webhook(delivery_id, 0)
    except QueueUnavailable as exc:
        log.warning("webhook deliveries %s stay owed; the reconciler will queue them: %s", delivery_ids, exc)


def _erased(ctx: PipelineContext, call_sid: str) -> bool:
    with ctx.db.session() as session:
        return find_call(session, call_sid) is None or is_erased(session, call_sid)


def _call_id(ctx: PipelineContext, call_sid: str) -> int | None:
    with ctx.db.session() as session:
        call = find_call(session, call_sid)
        return call.id if call is not None else None


def handle_call_end(ctx: PipelineContext, call_sid: str) -> str:
    """A call missed with no recording to hear (`calls.outcome`): text the caller back, tell the owner."""
    with ctx.db.session() as session:
        call = find_call(session, call_sid)
        call_id, missed = (call.id, call.outcome == "missed") if call is not None else (None, False)
    if call_id is None:
        return "gone"
    # Only a call still missed: one the evidence showed the caller spoke on is never texted.
    text_back = send_text_back(ctx.db, ctx.twilio, ctx.templates, ctx.sms_fence, call_id) if missed else "answered"
    summarize_call(ctx, call_id, refresh=False)
    _send_alerts(ctx, call_id)
    _settle(ctx, call_id, FOLLOWUP_CALL_ENDED)
    return text_back


def alert_without_recording(ctx: PipelineContext, call_sid: str) -> str:
    """No recording will come (Twilio reported it absent, or it was given up): alert from the live
    conversation."""
    call_id = _call_id(ctx, call_sid)
    if call_id is None:
        return "gone"
    summarize_call(ctx, call_id, refresh=False)
    _send_alerts(ctx, call_id)
    _settle(ctx, call_id, FOLLOWUP_ALERT)
    return "done"


def _settle(ctx: PipelineContext, call_id: int, kind: str) -> None:
    with ctx.db.session() as session:
        settle_followup(session, call_id, kind)


@dataclass(frozen=True)
class Failure:
    final: bool  # no retry follows: the recording is given up (or was already done, failed or erased)
    call_sid: str | None  # the call now owed its alert without a transcript, when given up now
    owed: str | None = None  # the call-level job it is owed (calls.records.FOLLOWUP_*)


def record_failure(db: Database, recording_sid: str, reason: str, *, max_attempts: int, retries_left: bool,
                   kind: str | None = None, counts: bool = True) -> Failure:
    """Show on the call why its recording's run failed, and decide whether it is given up.

    `kind` names a failure no retry heals (unusable, too-large): given up at once. A failure that
    does not `count` (an outage of a service we depend on, not the recording's fault) gives its
    attempt back; otherwise the recording is given up once `max_attempts` runs have failed or
    died, or RQ has no retries left. Given up, the call is owed its alert without a transcript.
    """
    with db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        if recording is None or recording.status in ("done", "failed"):
            return Failure(True, None)
        if not counts:
            recording.attempts = max(0, recording.attempts - 1)
        final = kind is not None or not retries_left or recording.attempts >= max_attempts
        if final and kind is None:
            kind = "attempts-exhausted" if recording.attempts >= max_attempts else "retries-exhausted"
        recording.error = reason[:2000]
        recording.claimed_by = recording.lease_until = None
        recording.call.processing_error = reason[:2000]
        if not final:
            recording.status, recording.call.processing_status = "queued", "retrying"
            return Failure(False, None)
        recording.status, recording.failure = "failed", kind
        recording.call.processing_status = "failed"
        call_sid = recording.call.call_sid
        owed = on_recording_given_up(session, recording.call).owed
    log.warning("recording %s given up (%s): %s", recording_sid, kind, reason)
    return Failure(True, call_sid, owed)


def give_up(ctx: PipelineContext, recording_sid: str, kind: str, reason: str) -> Failure:
    """Give the recording up now and queue the owner's alert without a transcript (the reconciler
    queues it again if Redis is away)."""
    failure = record_failure(ctx.db, recording_sid, reason, max_attempts=ctx.settings.max_recording_attempts,
                             retries_left=False, kind=kind)
    if failure.call_sid is not None:
        queue_alert(ctx, failure.call_sid)
    return failure


def queue_alert(ctx: PipelineContext, call_sid: str) -> None:
    try:
        ctx.queue.enqueue_alert_without_recording(call_sid)
    except QueueUnavailable as exc:
        log.warning("the alert for call %s stays owed; the reconciler will queue it: %s", call_sid, exc)


def record_call_failure(db: Database, call_sid: str, reason: str, kind: str | None = None) -> None:
    """A call job (alerts without a recording, missed call) gave up: its pending alerts failed, and
    the call owes the job no more."""
    with db.session() as session:
        call = find_call(session, call_sid)
        call_id = call.id if call is not None else None
        if call_id is not None and kind is not None:
            settle_followup(session, call_id, kind)
    if call_id is not None:
        fail_pending_deliveries(db, call_id, f"gave up after the last retry: {reason}")
