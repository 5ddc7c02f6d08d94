"""Plays a call against the service the way Twilio would: signed webhooks in Twilio's order.

Used by `receptionist demo`, the tests and the benchmarks; it goes through HTTP like Twilio does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

from sandbox.signing import TwilioSigner


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class PlayedCall:
    call_sid: str
    from_number: str
    to_number: str
    twiml: str = ""
    recording_sid: str | None = None


class CallPlayer:
    def __init__(self, base_url: str, account_sid: str, auth_token: str, public_url: str | None = None,
                 client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.signatures = TwilioSigner(auth_token, public_url or base_url)
        self.http = client or httpx.Client(timeout=30.0)

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> httpx.Response:
        signature = signature if signature is not None else self.signatures.sign(path, params)
        return self.http.post(self.base_url + path, data=params, headers={"X-Twilio-Signature": signature})

    def start(self, from_number: str, to_number: str, call_sid: str | None = None) -> PlayedCall:
        call = PlayedCall(call_sid or new_sid("CA"), from_number, to_number)
        response = self.post("/twilio/voice", {
            "AccountSid": self.account_sid, "CallSid": call.call_sid, "From": from_number, "To": to_number,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
        })
        response.raise_for_status()
        call.twiml = response.text
        return call

    def end(self, call: PlayedCall, duration_s: int, status: str = "completed") -> httpx.Response:
        response = self.post("/twilio/status", {
            "AccountSid": self.account_sid, "CallSid": call.call_sid, "CallStatus": status,
            "CallDuration": str(duration_s), "From": call.from_number, "To": call.to_number,
        })
        response.raise_for_status()
        return response

    def recording_params(self, call: PlayedCall, recording_url: str, duration_s: int, recording_sid: str | None = None,
                         channels: int = 2) -> dict[str, str]:
        call.recording_sid = recording_sid or call.recording_sid or new_sid("RE")
        return {
            "AccountSid": self.account_sid, "CallSid": call.call_sid, "RecordingSid": call.recording_sid,
            "RecordingUrl": recording_url, "RecordingStatus": "completed", "RecordingDuration": str(duration_s),
            "RecordingChannels": str(channels), "RecordingSource": "StartCallRecordingTwiML",
            "RecordingTrack": "both",
        }

    def recording_ready(self, call: PlayedCall, recording_url: str, duration_s: int,
                        recording_sid: str | None = None) -> httpx.Response:
        response = self.post("/twilio/recording", self.recording_params(call, recording_url, duration_s, recording_sid))
        response.raise_for_status()
        return response

    def close(self) -> None:
        self.http.close()
