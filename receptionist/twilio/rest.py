"""Twilio's REST API: recording media download (and later deletion and messages).

The base URL comes from `RECEPTIONIST_TWILIO_API_URL`, so a Twilio-compatible provider or a local
stand-in can be used. Media is fetched with httpx because the `twilio` client decodes bodies as text.
"""

from __future__ import annotations

import httpx

from receptionist.retry import PermanentError, with_backoff


class RecordingUnavailable(PermanentError):
    """Twilio answered that the recording does not exist or cannot be read with our credentials."""


class TwilioRest:
    def __init__(self, api_url: str, account_sid: str, auth_token: str, retry_window_s: float = 300.0):
        self.api_url = api_url.rstrip("/")
        self.account_sid = account_sid
        self.retry_window_s = retry_window_s
        self._http = httpx.Client(auth=(account_sid, auth_token), timeout=httpx.Timeout(30.0, connect=5.0))

    def recording_media_url(self, recording_sid: str, fmt: str = "wav") -> str:
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}.{fmt}"

    def download_recording(self, recording_sid: str, fmt: str = "wav") -> bytes:
        url = self.recording_media_url(recording_sid, fmt)

        def fetch() -> bytes:
            response = self._http.get(url)
            if response.status_code in (401, 403, 404):
                raise RecordingUnavailable(f"Twilio answered {response.status_code} for recording {recording_sid}")
            response.raise_for_status()
            return response.content

        return with_backoff(fetch, what=f"download of {recording_sid}", is_transient=_transient_http,
                            window_s=self.retry_window_s)

    def close(self) -> None:
        self._http.close()


def _transient_http(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return False
