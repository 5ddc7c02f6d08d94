"""Playing a call in through the webhooks, and running the worker over what it queued."""

from __future__ import annotations

from redis import Redis

from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER
from workers.worker import run_worker


def run_burst(ctx) -> None:
    run_worker(ctx, Redis.from_url(ctx.settings.redis_url), ctx.settings.queue_name, burst=True, with_scheduler=False)


def play_call(service, twilio_api, audio: bytes, duration_s: int = 10, heard=CALL_TURNS):
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    service.hear(call.call_sid, heard)
    recording_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(recording_sid, audio, call_sid=call.call_sid)
    service.player.end(call, duration_s=duration_s)
    service.player.recording_ready(call, twilio_api.recording_url(recording_sid), duration_s, recording_sid)
    return call
