"""Job functions: plain functions of ids, safe to run twice."""

from __future__ import annotations

from receptionist import pipeline
from workers.context import current


def process_recording(recording_sid: str) -> str:
    return pipeline.process_recording(current(), recording_sid)


def call_ended(call_sid: str) -> str:
    return pipeline.handle_call_end(current(), call_sid)


def alert_without_recording(call_sid: str) -> str:
    return pipeline.alert_without_recording(current(), call_sid)
