"""What happens to a call, as the rest of the product sees it: plain values, no telephony wire format.

The telephony edge (`receptionist.telephony.events`) reads these out of Twilio's webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CallStarted:
    call_sid: str
    from_number: str
    to_number: str
    # The carrier's check of the caller ID (STIR/SHAKEN): "passed", "failed", or None when it was not
    # verified or nothing was said (calls.screening reads it).
    attestation: str | None = None


@dataclass(frozen=True)
class CallStatusChanged:
    call_sid: str
    status: str  # the carrier's own word for the state, kept on the call as reported
    final: bool  # the call is over
    # How a call that ended without being answered ends ("missed", "failed"); None when it was answered
    # (what it achieved is then decided from the conversation).
    unanswered_outcome: str | None
    duration_s: int | None
    timestamp: datetime | None


@dataclass(frozen=True)
class RecordingReady:
    """A finished recording, ready to be downloaded and processed."""

    call_sid: str
    recording_sid: str
    media_url: str
    channels: int
    duration_s: int | None
