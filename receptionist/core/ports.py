"""The outside systems the domain calls but must not import, as the domain needs them.

The domain (post-call processing, alerts, the text-back, erasure, the sweep) is handed an object
with these methods; `receptionist.telephony.rest.TwilioRest` is the one that talks to Twilio. The
errors are the domain's: the telephony edge translates its provider's error codes into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from receptionist.core.retry import PermanentError


@dataclass(frozen=True)
class SentText:
    sid: str  # the provider's id of the message
    status: str


class TextRefused(PermanentError):
    """The provider refused a text for a reason no retry heals. `opted_out`: the recipient told the
    provider STOP, so nothing may be sent to them until they opt back in."""

    def __init__(self, message: str, *, opted_out: bool = False):
        super().__init__(message)
        self.opted_out = opted_out


class RecordingUnavailable(PermanentError):
    """The provider answered that the recording does not exist or cannot be read with our credentials."""


class RecordingTooLarge(PermanentError):
    """The recording's media is larger than a recording of its reported duration can be."""


class LookupUnavailable(Exception):
    """The provider could not answer a question about the account (down, or our credentials refused)."""


class TelephonyApi(Protocol):
    """The phone company's REST API, as far as the domain uses it."""

    def download_recording_to(self, recording_sid: str, dest: Path, max_bytes: int, fmt: str = "wav") -> int:
        """Stream the recording's audio in `fmt` ("wav" or "mp3") into the file `dest`; returns its
        size. RecordingUnavailable when it cannot be had, RecordingTooLarge (nothing more read)
        as soon as it is known to exceed `max_bytes`."""

    def delete_recording(self, recording_sid: str) -> bool:
        """Delete the provider's copy; False when it was already gone."""

    def send_sms(self, to: str, from_: str, body: str) -> SentText:
        """Send a text; TextRefused when the provider will not deliver it."""

    def owns_number(self, number: str) -> bool:
        """Whether `number` (E.164) is one of the provider account's own incoming numbers;
        LookupUnavailable when the provider cannot say."""
