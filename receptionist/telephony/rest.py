"""Twilio's REST API: recording media download and deletion, text messages, and the account's own numbers.

The base URL comes from `RECEPTIONIST_TWILIO_API_URL`, so a Twilio-compatible provider or a local
stand-in can be used. Messages and deletions go through the `twilio` client; media is fetched with
httpx because the `twilio` client decodes bodies as text.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from receptionist.core.phone import masked
from receptionist.core.ports import (
    LookupUnavailable,
    RecordingTooLarge,
    RecordingUnavailable,
    SentText,
    TextRefused,
)
from receptionist.core.retry import TransientError, with_backoff

# Twilio error codes meaning the recipient cannot be texted, ever, from this sender: 21610 is
# "unsubscribed recipient" (they replied STOP to Twilio directly), 21614 "not a mobile number".
UNREACHABLE_CODES = {21610: "the recipient has opted out (STOP) at Twilio", 21614: "not a mobile number",
                     21211: "not a valid phone number", 21408: "no permission to send to this region"}


OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"


class TwilioRest:
    """The domain's `TelephonyApi` (receptionist.core.ports) over Twilio's REST API."""

    def __init__(self, api_url: str, account_sid: str, auth_token: str, retry_window_s: float = 300.0):
        self.api_url = api_url.rstrip("/")
        self.account_sid = account_sid
        self.retry_window_s = retry_window_s
        # Media may be answered with a redirect to storage on another origin (a 302 is in Twilio's
        # status table, https://www.twilio.com/docs/usage/twilios-response). httpx follows it and
        # drops the Authorization header when the redirect leaves the origin, so the credentials only
        # ever go to the configured Twilio API (tests/telephony/test_rest.py checks it).
        self._http = httpx.Client(auth=(account_sid, auth_token), timeout=httpx.Timeout(30.0, connect=5.0),
                                  follow_redirects=True, max_redirects=5)
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=30))
        # Every 2010-04-01 resource resolves against the Api domain's base URL; edge and region
        # would rewrite the host name, so they stay unset.
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = self.api_url

    def recording_media_url(self, recording_sid: str, fmt: str = "wav") -> str:
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}.{fmt}"

    def download_recording_to(self, recording_sid: str, dest: Path, max_bytes: int, fmt: str = "wav") -> int:
        """Stream the media into `dest` (never whole in memory), refusing it beyond `max_bytes`:
        by its Content-Length before the body is read, else as soon as the stream passes it."""
        url = self.recording_media_url(recording_sid, fmt)

        def too_large(size: str) -> RecordingTooLarge:
            return RecordingTooLarge(f"recording {recording_sid} is {size}, more than the {max_bytes} bytes a "
                                     "recording of its reported duration can be; refused")

        def fetch() -> int:
            with self._http.stream("GET", url) as response:
                if response.status_code in (401, 403, 404):
                    raise RecordingUnavailable(f"Twilio answered {response.status_code} for recording {recording_sid}")
                response.raise_for_status()
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise too_large(f"{declared} bytes (its Content-Length)")
                written = 0
                with open(dest, "wb") as out:
                    for chunk in response.iter_bytes(1 << 16):
                        written += len(chunk)
                        if written > max_bytes:
                            raise too_large(f"over {max_bytes} bytes (streamed)")
                        out.write(chunk)
                return written

        return with_backoff(fetch, what=f"download of {recording_sid}", is_transient=_transient_http,
                            window_s=self.retry_window_s)

    def delete_recording(self, recording_sid: str) -> bool:
        """Delete Twilio's copy; False when it was already gone."""

        def delete() -> bool:
            try:
                return bool(self.client.recordings(recording_sid).delete())
            except TwilioRestException as exc:
                if exc.status == 404:
                    return False
                raise

        return with_backoff(delete, what=f"deletion of {recording_sid} at Twilio", is_transient=_transient_twilio,
                            window_s=self.retry_window_s)

    def send_sms(self, to: str, from_: str, body: str) -> SentText:
        def send() -> SentText:
            try:
                message = self.client.messages.create(to=to, from_=from_, body=body)
            except TwilioRestException as exc:
                if not _transient_twilio(exc):
                    # Twilio's own message may quote the number: the reason kept is ours, masked.
                    reason = UNREACHABLE_CODES.get(exc.code or 0, f"HTTP {exc.status}")
                    raise TextRefused(f"Twilio refused the text to {masked(to)}: {reason} (code {exc.code})",
                                      opted_out=exc.code == OPTED_OUT) from None
                raise
            return SentText(message.sid, message.status)

        return with_backoff(send, what=f"text to {masked(to)}", is_transient=_transient_twilio,
                            window_s=self.retry_window_s)

    def owns_number(self, number: str) -> bool:
        """Whether `number` is one of this Twilio account's IncomingPhoneNumbers.

        The `PhoneNumber` filter also matches partial numbers
        (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource), so only an
        exact `phone_number` in the answer counts.
        """

        def look_up() -> bool:
            found = self.client.incoming_phone_numbers.list(phone_number=number, page_size=50, limit=50)
            return any(item.phone_number == number for item in found)

        try:
            return with_backoff(look_up, what="look-up among the Twilio account's numbers",
                                is_transient=_transient_twilio, window_s=self.retry_window_s)
        except TransientError as exc:
            raise LookupUnavailable(f"Twilio did not answer the look-up: {exc}") from None
        except TwilioRestException as exc:
            raise LookupUnavailable(f"Twilio refused the look-up (HTTP {exc.status}, code {exc.code})") from None
        except TwilioException as exc:
            raise LookupUnavailable(f"Twilio refused the look-up ({exc.args[0]})") from None

    def close(self) -> None:
        self._http.close()
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


def _transient_http(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return False


def _transient_twilio(exc: BaseException) -> bool:
    if isinstance(exc, TwilioRestException):
        return exc.status >= 500 or exc.status == 429
    if isinstance(exc, TwilioException):  # a list's page that would not load carries the response
        status = getattr(exc.args[1], "status_code", 0) if len(exc.args) > 1 else 0
        return status >= 500 or status == 429
    # The twilio client wraps requests; connection failures surface as requests' exceptions.
    import requests

    return isinstance(exc, (requests.ConnectionError, requests.Timeout, OSError))
