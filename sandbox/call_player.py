"""Plays a call against the service the way Twilio would: signed webhooks, in Twilio's order, with
Twilio's parameters, driven by the TwiML the service answered.

Used by `receptionist demo`, the tests and the benchmarks; it goes through HTTP like Twilio does.
What it models, with the page each behaviour comes from:

- Every request is signed (`X-Twilio-Signature`) over the public URL Twilio was given
  (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
- The voice webhook carries the request parameters of
  https://www.twilio.com/docs/usage/webhooks/voice-webhooks (`CallStatus=ringing`, `Direction=inbound`),
  and `StirVerstat` only for a call that carried a SHAKEN PASSporT, to a United States number
  (`checked_verstat`, which cites Twilio's SHAKEN/STIR pages).
- The answer is read as Twilio reads it (`sandbox.twiml`): the relay session is opened from its
  `<Connect><ConversationRelay>` (`relay`), the `<Connect action>` is posted when that session is
  over (`session_over`) and what it answers becomes the call's next TwiML (a reconnect, a `<Dial>`,
  a goodbye), and the recording is reported as its `<Start><Recording>` asked (`record`).
- Status callbacks (https://www.twilio.com/docs/voice/api/call-resource#statuscallback) carry
  `Timestamp` ("UTC in RFC 2822 format"), `CallbackSource` ("always call-progress-events"),
  `SequenceNumber` ("starting from 0") and, in the completed event only, `CallDuration` (seconds)
  and `Duration` (minutes). "There is no guarantee they will arrive in the same order", and a
  call's end reaches the service by two roads (the status callback, the relay closing), so
  `hang_up` can play either first.
- Recording callbacks (https://www.twilio.com/docs/voice/twiml/recording#recordingstatuscallback)
  go only to the events the TwiML subscribed to, with `RecordingDuration` only when `completed`.
  With the default `trim="trim-silence"` the recording is trimmed of leading and trailing silence
  before it is stored, and one "less than one minute after trimming silence" is `absent` (the doc's
  words; they may mean one second, the stricter reading is kept).
- Inbound texts go through Twilio's default opt-out filter first (`text`; see `sandbox.twilio_api`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import secrets
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING

import httpx
import numpy as np

from sandbox import twiml
from sandbox.relay_client import REAL_SPEECH_CHARS_PER_S, RelayCaller
from sandbox.signing import TwilioSigner

if TYPE_CHECKING:
    from sandbox.twilio_api import LocalTwilioApi

API_VERSION = "2010-04-01"
ABSENT_BELOW_S = 60.0  # "less than one minute after trimming silence" (see the module docstring)
SILENCE = 64  # sample magnitude (of 32767) under which a frame counts as silent when trimming


# `StirVerstat`: "In Programmable Voice the request webhook presents the StirVerstat parameter ... only
# present for incoming calls with SHAKEN PASSporT identity headers. Today, support for the SHAKEN/STIR
# call authentication framework is being deployed in the United States only" (Twilio's changelog,
# 2020-09-21, "Twilio performs SHAKEN/STIR verification on incoming calls to your phone numbers"). The
# values are those of https://www.twilio.com/docs/voice/trusted-calling-with-shakenstir: passed or
# failed with the attestation level A, B or C, a bare failure, or no validation.
STIR_VERSTATS = frozenset({
    "TN-Validation-Passed-A", "TN-Validation-Passed-B", "TN-Validation-Passed-C",
    "TN-Validation-Failed-A", "TN-Validation-Failed-B", "TN-Validation-Failed-C",
    "TN-Validation-Failed", "No-TN-Validation",
})


def checked_verstat(verstat: str, to_number: str) -> str:
    """A `StirVerstat` Twilio could send for a call to `to_number`; anything else is a test's mistake."""
    if verstat not in STIR_VERSTATS:
        raise ValueError(f"Twilio sends no StirVerstat {verstat!r}; it sends one of {sorted(STIR_VERSTATS)}")
    if not to_number.startswith("+1"):
        raise ValueError("Twilio verifies SHAKEN/STIR on calls to its United States numbers only, "
                         f"not to {to_number}")
    return verstat


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None = None) -> str:
    # "Twilio returns all dates and times in GMT using the RFC 2822 format. For example,
    # Fri, 20 Aug 2010 01:13:42 +0000." (https://www.twilio.com/docs/usage/twilios-response)
    return format_datetime((moment or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0))


@dataclass
class PlayedCall:
    call_sid: str
    from_number: str
    to_number: str
    twiml: str = ""  # the TwiML the call is running now (the answer, then what an action returned)
    answer: twiml.VoiceDocument | None = None  # the answer to the voice webhook
    recording_sid: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    sequence: int = 0  # the next status callback's SequenceNumber

    @property
    def document(self) -> twiml.VoiceDocument:
        return twiml.read(self.twiml)


@dataclass(frozen=True)
class TextExchange:
    """An inbound text: what Twilio itself replied (its opt-out handling) and what the service answered."""

    twilio_reply: str | None
    service_reply: str | None
    status_code: int


class CallPlayer:
    def __init__(self, base_url: str, account_sid: str, auth_token: str, public_url: str | None = None,
                 client: httpx.Client | None = None, twilio: LocalTwilioApi | None = None):
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.public_url = (public_url or base_url).rstrip("/")
        self.signatures = TwilioSigner(auth_token, self.public_url)
        self.http = client or httpx.Client(timeout=30.0)
        self.twilio = twilio

    # --- requests ----------------------------------------------------------------------------------
    def post(self, path: str, params: dict[str, str], *, signature: str | None = None,
             query: str = "") -> httpx.Response:
        signature = signature if signature is not None else self.signatures.sign(path, params, query)
        return self.http.post(self.base_url + path + (f"?{query}" if query else ""), data=params,
                              headers={"X-Twilio-Signature": signature})

    def post_url(self, url: str, params: dict[str, str]) -> httpx.Response:
        """POST to a URL the TwiML named (absolute, under the public URL, or relative)."""
        if url.startswith(self.public_url):
            url = url[len(self.public_url):]
        elif "://" in url:
            raise ValueError(f"{url} is not under the public URL {self.public_url}")
        path, _, query = url.partition("?")
        return self.post(path, params, query=query)

    # --- the call ----------------------------------------------------------------------------------
    def start(self, from_number: str, to_number: str, call_sid: str | None = None, *,
              stir_verstat: str | None = None) -> PlayedCall:
        """The voice webhook of a new call. `stir_verstat` is the result of Twilio's SHAKEN/STIR check
        of a caller whose call carried a PASSporT (None: it carried none, so Twilio sends nothing)."""
        call = PlayedCall(call_sid or new_sid("CA"), from_number, to_number)
        params = {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "CallSid": call.call_sid,
            "CallStatus": "ringing", "Called": to_number, "Caller": from_number, "Direction": "inbound",
            "From": from_number, "To": to_number,
        }
        if stir_verstat is not None:
            params["StirVerstat"] = checked_verstat(stir_verstat, to_number)
        response = self.post("/twilio/voice", params)
        response.raise_for_status()
        call.twiml = response.text
        call.answer = twiml.read(call.twiml)  # what Twilio would refuse fails here, as the call would
        return call

    def relay(self, call: PlayedCall, *, chars_per_s: float = REAL_SPEECH_CHARS_PER_S, url: str | None = None,
              document: twiml.VoiceDocument | None = None, **options) -> RelayCaller:
        """Twilio's side of the ConversationRelay session the call's current TwiML connects (or
        `document`'s); `url` replaces the noun's URL (a relay URL of another call, a forged one)."""
        connect = (document or call.document).connect
        if connect is None:
            raise AssertionError(f"the call's TwiML connects no ConversationRelay: {call.twiml}")
        noun = connect.relay if url is None else dataclasses.replace(connect.relay, url=url)
        options = {"auth_token": self.auth_token, **options}
        return RelayCaller(noun, self.base_url.replace("http", "ws", 1), call_sid=call.call_sid,
                           from_number=call.from_number, to_number=call.to_number, account_sid=self.account_sid,
                           chars_per_s=chars_per_s, **options)

    def session_over(self, call: PlayedCall, relay: RelayCaller) -> twiml.VoiceDocument:
        """The `<Connect>` verb ended: post its action URL; the answer is what the call does next."""
        connect = call.document.connect
        if connect is None or not connect.action:
            raise AssertionError("the call's <Connect> has no action URL")
        response = self.post_url(connect.action, relay.action_params())
        response.raise_for_status()
        call.twiml = response.text
        return twiml.read(call.twiml)

    def status(self, call: PlayedCall, status: str, *, duration_s: int | None = None,
               at: datetime | None = None) -> httpx.Response:
        """One status callback; `duration_s` makes it the completed event (the only one with durations)."""
        params = {"AccountSid": self.account_sid, "ApiVersion": API_VERSION, "CallSid": call.call_sid,
                  "CallStatus": status, "Called": call.to_number, "Caller": call.from_number,
                  "CallbackSource": "call-progress-events", "Direction": "inbound", "From": call.from_number,
                  "SequenceNumber": str(call.sequence), "Timestamp": rfc2822(at), "To": call.to_number}
        if duration_s is not None:
            params |= {"CallDuration": str(duration_s), "Duration": str(max(1, -(-duration_s // 60)))}
        call.sequence += 1
        return self.post("/twilio/status", params)

    def end(self, call: PlayedCall, duration_s: int, status: str = "completed") -> httpx.Response:
        """The completed event: "The call is completed, regardless of the termination status (which
        can be busy, cancelled, completed, failed, or no-answer)"."""
        response = self.status(call, status, duration_s=duration_s)
        response.raise_for_status()
        return response

    async def hang_up(self, call: PlayedCall, relay: RelayCaller, *, status_first: bool,
                      duration_s: int = 30) -> twiml.VoiceDocument:
        """The caller hangs up during the relay session: the status callback and the socket's close
        race each other (Twilio sends them independently); `status_first` picks the winner. Then
        Twilio posts the `<Connect action>` (SessionStatus `completed`)."""
        if status_first:
            status = asyncio.create_task(asyncio.to_thread(self.end, call, duration_s))
            await asyncio.sleep(0.05)  # the callback is in flight when the socket closes
            await relay.hang_up()
            await status
        else:
            await relay.hang_up()
            await asyncio.to_thread(self.end, call, duration_s)
        return await asyncio.to_thread(self.session_over, call, relay)

    # --- the recording -----------------------------------------------------------------------------
    def recording_params(self, call: PlayedCall, recording_url: str, duration_s: int | None,
                         recording_sid: str | None = None, channels: int = 2,
                         status: str = "completed") -> dict[str, str]:
        call.recording_sid = recording_sid or call.recording_sid or new_sid("RE")
        params = {
            "AccountSid": self.account_sid, "CallSid": call.call_sid, "RecordingSid": call.recording_sid,
            "RecordingUrl": recording_url, "RecordingStatus": status, "RecordingChannels": str(channels),
            # The value Twilio gives for <Start><Recording> is not documented ("Returns OutboundAPI
            # for recordings initiated when Record=true is set on the REST API").
            "RecordingSource": "StartCallRecordingTwiML", "RecordingStartTime": rfc2822(call.started),
            "RecordingTrack": "both",
        }
        if status == "completed" and duration_s is not None:  # "Only provided when RecordingStatus is completed."
            params["RecordingDuration"] = str(duration_s)
        return params

    def recording_ready(self, call: PlayedCall, recording_url: str, duration_s: int,
                        recording_sid: str | None = None) -> httpx.Response:
        """A completed-recording callback, sent as is (duplicates, tests of the callback itself)."""
        response = self.post("/twilio/recording", self.recording_params(call, recording_url, duration_s, recording_sid))
        response.raise_for_status()
        return response

    def record(self, call: PlayedCall, audio: bytes, recording_sid: str | None = None) -> str:
        """The call is over: Twilio finishes the `<Start><Recording>` the answer asked for, stores
        it at the REST stand-in and reports it to the events subscribed. Returns the status
        (`completed` or `absent`)."""
        if self.twilio is None:
            raise RuntimeError("record() needs the REST stand-in (CallPlayer(twilio=...))")
        asked = call.answer.recording if call.answer else None
        if asked is None:
            raise AssertionError("the answer started no recording")
        call.recording_sid = recording_sid or call.recording_sid or new_sid("RE")
        channels = 2 if asked.channels == "dual" else 1
        if asked.trim == "trim-silence":
            audio = trim_silence(audio)
        duration_s = wav_seconds(audio)
        status = "absent" if asked.trim == "trim-silence" and duration_s < ABSENT_BELOW_S else "completed"
        if status == "completed":
            self.twilio.add_recording(call.recording_sid, audio, call_sid=call.call_sid, channels=channels)
        if asked.status_callback and status in asked.status_callback_events:
            params = self.recording_params(call, self.twilio.recording_url(call.recording_sid), round(duration_s),
                                           call.recording_sid, channels, status)
            self.post_url(asked.status_callback, params).raise_for_status()
        return status

    # --- texts ---------------------------------------------------------------------------------------
    def text(self, from_number: str, to_number: str, body: str) -> TextExchange:
        """An inbound SMS: Twilio's opt-out filter sees it first, then the messaging webhook gets it
        (https://www.twilio.com/docs/messaging/guides/webhook-request for the parameters)."""
        twilio_reply = self.twilio.receive_text(from_number, to_number, body) if self.twilio else None
        response = self.post("/twilio/sms", {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "Body": body, "From": from_number,
            "MessageSid": new_sid("SM"), "NumMedia": "0", "NumSegments": "1", "SmsMessageSid": "",
            "SmsSid": "", "SmsStatus": "received", "To": to_number,
        })
        service_reply = None
        if response.status_code == 200:
            message = twiml_message(response.text)
            service_reply = message if message else None
        return TextExchange(twilio_reply, service_reply, response.status_code)

    def close(self) -> None:
        self.http.close()


def twiml_message(document: str) -> str | None:
    """The `<Message>` of a messaging response (None for an empty `<Response/>`)."""
    import xml.etree.ElementTree as ET

    message = ET.fromstring(document).find("Message")
    return (message.text or "") if message is not None else None


def wav_seconds(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio)) as wav:
        return wav.getnframes() / wav.getframerate()


def trim_silence(audio: bytes) -> bytes:
    """The recording as `trim="trim-silence"` leaves it: "Whether to trim any leading and trailing
    silence from the recording" (16-bit PCM WAV, every channel considered)."""
    with wave.open(io.BytesIO(audio)) as wav:
        params = wav.getparams()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, params.nchannels)
    loud = np.flatnonzero(np.abs(frames.astype(np.int32)).max(axis=1) > SILENCE)
    kept = frames[loud[0]:loud[-1] + 1] if len(loud) else frames[:0]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setparams(params)
        wav.writeframes(kept.astype("<i2").tobytes())
    return out.getvalue()
