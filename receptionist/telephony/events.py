"""Typed events parsed from Twilio's webhook form parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


class MalformedWebhook(ValueError):
    """A signed webhook lacks a parameter the product needs."""


def _required(form: dict[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise MalformedWebhook(f"missing form parameter {name}")
    return value


def _int(form: dict[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise MalformedWebhook(f"{name} is not an integer: {raw!r}") from exc


def _timestamp(form: dict[str, str], name: str) -> datetime | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).astimezone(timezone.utc)  # Twilio sends RFC 2822 dates
    except (TypeError, ValueError):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError as exc:
            raise MalformedWebhook(f"{name} is not a timestamp: {raw!r}") from exc


@dataclass(frozen=True)
class CallStarted:
    call_sid: str
    from_number: str
    to_number: str

    @classmethod
    def from_form(cls, form: dict[str, str]) -> CallStarted:
        return cls(_required(form, "CallSid"), _required(form, "From"), _required(form, "To"))


@dataclass(frozen=True)
class CallStatusChanged:
    call_sid: str
    status: str  # queued|ringing|in-progress|completed|busy|failed|no-answer|canceled
    duration_s: int | None
    timestamp: datetime | None

    @classmethod
    def from_form(cls, form: dict[str, str]) -> CallStatusChanged:
        return cls(
            _required(form, "CallSid"),
            _required(form, "CallStatus"),
            _int(form, "CallDuration"),
            _timestamp(form, "Timestamp"),
        )


@dataclass(frozen=True)
class RecordingReady:
    call_sid: str
    recording_sid: str
    status: str  # in-progress|completed|absent|failed
    media_url: str
    channels: int
    duration_s: int | None

    @classmethod
    def from_form(cls, form: dict[str, str]) -> RecordingReady:
        return cls(
            _required(form, "CallSid"),
            _required(form, "RecordingSid"),
            _required(form, "RecordingStatus"),
            (form.get("RecordingUrl") or "").strip(),
            _int(form, "RecordingChannels") or 1,
            _int(form, "RecordingDuration"),
        )
