"""Twilio's webhook form parameters read into the product's call events (`receptionist.calls.events`).

Field names and value sets are Twilio's (https://www.twilio.com/docs/voice/twiml#request-parameters,
https://www.twilio.com/docs/voice/api/call-resource#statuscallback,
https://www.twilio.com/docs/voice/twiml/recording#recordingstatuscallback); nothing outside this
package needs to know them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from receptionist.calls.events import CallStarted, CallStatusChanged, RecordingReady
from receptionist.calls.screening import ATTESTATION_FAILED, ATTESTATION_PASSED

# CallStatus values after which the call is over, and the outcome of those that never connected;
# a completed call's outcome is decided from its conversation.
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "canceled", "failed"})
UNANSWERED_OUTCOMES = {"busy": "missed", "no-answer": "missed", "canceled": "missed", "failed": "failed"}


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


# `StirVerstat`, the result of Twilio's SHAKEN/STIR verification of the caller ID: "In Programmable
# Voice the request webhook presents the StirVerstat parameter ... only present for incoming calls
# with SHAKEN PASSporT identity headers" (Twilio's changelog of 2020-09-21, "Twilio performs SHAKEN/STIR
# verification on incoming calls to your phone numbers"; the values:
# https://www.twilio.com/docs/voice/trusted-calling-with-shakenstir). "TN-Validation-Passed-A|B|C":
# the signature verified, with attestation A, B or C; "TN-Validation-Failed-A|B|C" (and a bare
# "TN-Validation-Failed"): the PASSporT did not verify, so the caller ID may be forged;
# "No-TN-Validation": nothing could be verified. Absent and unverified say nothing about the caller.
def attestation(form: dict[str, str]) -> str | None:
    verstat = (form.get("StirVerstat") or "").strip()
    if verstat.startswith("TN-Validation-Passed"):
        return ATTESTATION_PASSED
    if verstat.startswith("TN-Validation-Failed"):
        return ATTESTATION_FAILED
    return None


def call_started(form: dict[str, str]) -> CallStarted:
    """The voice webhook: a call to one of our numbers."""
    return CallStarted(_required(form, "CallSid"), _required(form, "From"), _required(form, "To"),
                       attestation=attestation(form))


def call_status(form: dict[str, str]) -> CallStatusChanged:
    """A status callback (queued|ringing|in-progress|completed|busy|failed|no-answer|canceled)."""
    status = _required(form, "CallStatus")
    return CallStatusChanged(
        call_sid=_required(form, "CallSid"),
        status=status,
        final=status in FINAL_STATUSES,
        unanswered_outcome=UNANSWERED_OUTCOMES.get(status),
        duration_s=_int(form, "CallDuration"),
        timestamp=_timestamp(form, "Timestamp"),
    )


@dataclass(frozen=True)
class RecordingStatus:
    """A recording status callback: `status` is in-progress|completed|absent|failed."""

    call_sid: str
    recording_sid: str
    status: str
    ready: RecordingReady | None  # set when the status is completed


def recording_status(form: dict[str, str]) -> RecordingStatus:
    call_sid, recording_sid, status = (_required(form, "CallSid"), _required(form, "RecordingSid"),
                                       _required(form, "RecordingStatus"))
    ready = None
    if status == "completed":
        ready = RecordingReady(call_sid, recording_sid, (form.get("RecordingUrl") or "").strip(),
                               _int(form, "RecordingChannels") or 1, _int(form, "RecordingDuration"))
    return RecordingStatus(call_sid, recording_sid, status, ready)
