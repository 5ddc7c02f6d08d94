"""Playing a call in through the webhooks, and running the worker over what it queued."""

from __future__ import annotations

import io
import wave

from redis import Redis

from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER
from workers.worker import run_worker


def run_burst(ctx) -> None:
    run_worker(ctx, Redis.from_url(ctx.settings.redis_url), ctx.settings.queue_name, burst=True, with_scheduler=False)


def play_call(service, twilio_api, audio: bytes, duration_s: int = 10, heard=CALL_TURNS, *,
              caller: str = CALLER_NUMBER, stir_verstat: str | None = None):
    """A call whose live turns are `heard`; Twilio then reports its status and its recording as the
    answer's <Start><Recording> asked. `stir_verstat`: Twilio's SHAKEN/STIR verdict on the caller ID."""
    call = service.player.start(caller, BUSINESS_NUMBER, stir_verstat=stir_verstat)
    service.hear(call.call_sid, heard)
    service.player.end(call, duration_s=duration_s)
    recording_sid = "RE" + call.call_sid[2:]
    if audio.startswith(b"RIFF") and _readable_wav(audio):
        assert service.player.record(call, audio, recording_sid=recording_sid) == "completed"
    else:  # a media file that reaches Twilio's storage broken: served as it is
        twilio_api.add_recording(recording_sid, audio, call_sid=call.call_sid, channels=2, duration_s=duration_s)
        service.player.recording_ready(call, twilio_api.recording_url(recording_sid), duration_s, recording_sid)
    return call


def _readable_wav(audio: bytes) -> bool:
    try:
        with wave.open(io.BytesIO(audio)) as wav:
            return wav.getnframes() > 0
    except (wave.Error, EOFError):
        return False
