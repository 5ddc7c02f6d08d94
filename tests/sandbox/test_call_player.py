"""The call player as a specification: the webhooks Twilio sends, with Twilio's parameters and
signatures, and the recording reported as the answer's <Start><Recording> asked.

The application here is an httpx transport that answers a chosen TwiML and records each request,
so the tests read exactly what the player sent."""

from __future__ import annotations

import io
import wave
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator

from sandbox.call_player import ABSENT_BELOW_S, CallPlayer, trim_silence, wav_seconds
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER

PUBLIC = "https://receptionist.example.com"
ANSWER = ('<Response><Say>This call is recorded.</Say><Start><Recording recordingStatusCallback="{cb}/twilio/recording"'
          ' {attributes}/></Start><Connect action="{cb}/twilio/relay/action"><ConversationRelay'
          ' url="wss://receptionist.example.com/twilio/relay"/></Connect></Response>')


class App:
    def __init__(self, attributes: str = ""):
        self.requests: list[tuple[str, dict[str, str], str]] = []
        self.answer = ANSWER.format(cb=PUBLIC, attributes=attributes)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.requests.append((request.url.path, form, request.headers["X-Twilio-Signature"]))
        body = self.answer if request.url.path == "/twilio/voice" else "<Response/>"
        return httpx.Response(200, text=body, headers={"content-type": "application/xml"})

    def posted(self, path: str) -> list[dict[str, str]]:
        return [form for p, form, _ in self.requests if p == path]


@pytest.fixture
def played(twilio_api):
    def build(attributes: str = ""):
        app = App(attributes)
        client = httpx.Client(transport=httpx.MockTransport(app), base_url="http://app.test")
        player = CallPlayer("http://app.test", twilio_api.account_sid, twilio_api.auth_token, public_url=PUBLIC,
                            client=client, twilio=twilio_api)
        return app, player, player.start(CALLER_NUMBER, BUSINESS_NUMBER)

    return build


def wav(seconds_silent: float, seconds_loud: float, trailing: float = 0.0) -> bytes:
    rate = 8000
    loud = (np.sin(np.arange(int(seconds_loud * rate)) / 3) * 8000).astype("<i2")
    mono = np.concatenate([np.zeros(int(seconds_silent * rate), "<i2"), loud, np.zeros(int(trailing * rate), "<i2")])
    frames = np.stack([mono, np.zeros_like(mono)], axis=1)
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames.tobytes())
    return out.getvalue()


def test_every_webhook_is_signed_over_the_public_url(played, twilio_api):
    app, player, call = played()
    player.end(call, duration_s=30)
    validator = RequestValidator(twilio_api.auth_token)
    for path, form, signature in app.requests:
        assert validator.validate(PUBLIC + path, form, signature), path
    voice = app.posted("/twilio/voice")[0]
    assert voice["CallStatus"] == "ringing" and voice["Direction"] == "inbound" and voice["ApiVersion"] == "2010-04-01"


def test_status_callbacks_carry_timestamp_sequence_source_and_durations_only_when_completed(played):
    app, player, call = played()
    moment = datetime(2026, 3, 3, 15, 0, 42, tzinfo=timezone.utc)
    player.status(call, "in-progress", at=moment)
    player.end(call, duration_s=61)
    progress, completed = app.posted("/twilio/status")
    assert progress["Timestamp"] == "Tue, 03 Mar 2026 15:00:42 +0000"  # RFC 2822, UTC
    assert parsedate_to_datetime(completed["Timestamp"]).tzinfo is not None
    assert (progress["SequenceNumber"], completed["SequenceNumber"]) == ("0", "1")
    assert progress["CallbackSource"] == completed["CallbackSource"] == "call-progress-events"
    assert "CallDuration" not in progress and "Duration" not in progress
    assert (completed["CallDuration"], completed["Duration"]) == ("61", "2")  # seconds; whole minutes, billed


def test_a_recording_is_reported_as_the_answer_asked(played, twilio_api):
    app, player, call = played('trim="do-not-trim" recordingStatusCallbackEvent="completed absent"')
    audio = wav(3.0, 4.0)
    assert player.record(call, audio) == "completed"
    [callback] = app.posted("/twilio/recording")
    assert callback["RecordingStatus"] == "completed" and callback["RecordingDuration"] == "7"
    assert callback["RecordingChannels"] == "2" and callback["RecordingUrl"] == twilio_api.recording_url(call.recording_sid)
    assert "RecordingStartTime" in callback and "ErrorCode" not in callback
    media = httpx.get(callback["RecordingUrl"] + ".wav", auth=(twilio_api.account_sid, twilio_api.auth_token),
                      follow_redirects=True)
    assert media.content == audio  # not trimmed: it starts when the call did


def test_trim_silence_trims_and_a_short_recording_comes_back_absent(played, twilio_api):
    app, player, call = played('recordingStatusCallbackEvent="completed absent"')  # trim defaults to trim-silence
    assert player.record(call, wav(3.0, 4.0, trailing=2.0)) == "absent"
    [callback] = app.posted("/twilio/recording")
    assert callback["RecordingStatus"] == "absent" and "RecordingDuration" not in callback
    media = httpx.get(callback["RecordingUrl"], auth=(twilio_api.account_sid, twilio_api.auth_token))
    assert media.status_code == 404  # "The recording is absent and inaccessible"

    app, player, call = played()  # only `completed` subscribed (the default): an absent one is not reported
    assert player.record(call, wav(1.0, 2.0)) == "absent"
    assert app.posted("/twilio/recording") == []

    long = wav(3.0, ABSENT_BELOW_S + 1)
    trimmed = trim_silence(long)
    assert wav_seconds(trimmed) == pytest.approx(ABSENT_BELOW_S + 1, abs=0.01)  # the leading silence is gone
    _app, player, call = played()
    assert player.record(call, long) == "completed"  # over a minute of sound, even trimmed


def test_an_inbound_text_meets_twilios_opt_out_handling_first(played, twilio_api):
    twilio_api.forget_opt_outs()
    app, player, _call = played()
    exchange = player.text(CALLER_NUMBER, BUSINESS_NUMBER, " Stop ")
    assert "unsubscribed" in exchange.twilio_reply and twilio_api.is_blocked(BUSINESS_NUMBER, CALLER_NUMBER)
    assert app.posted("/twilio/sms")[-1]["Body"] == " Stop "  # then passed on to the webhook, as sent
    assert "OptOutType" not in app.posted("/twilio/sms")[-1]  # documented only for Advanced Opt-Out
    assert player.text(CALLER_NUMBER, BUSINESS_NUMBER, "STOP PLEASE").twilio_reply is None  # single words only
    assert "re-subscribed" in player.text(CALLER_NUMBER, BUSINESS_NUMBER, "yes").twilio_reply
    assert not twilio_api.is_blocked(BUSINESS_NUMBER, CALLER_NUMBER)
