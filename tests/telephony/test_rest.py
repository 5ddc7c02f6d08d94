"""The `TelephonyApi` over Twilio's REST API, against the strict stand-in: media through Twilio's
redirect with the credentials kept at Twilio, as WAV or MP3."""

from __future__ import annotations

import io

import pytest
from pydub import AudioSegment

from receptionist.core.ports import RecordingTooLarge, RecordingUnavailable
from receptionist.telephony.rest import TwilioRest

LIMIT = 50 * 1024 * 1024


@pytest.fixture
def rest(twilio_api):
    api = TwilioRest(twilio_api.base_url, twilio_api.account_sid, twilio_api.auth_token, retry_window_s=2.0)
    yield api
    api.close()


def download(rest, sid: str, path, fmt: str = "wav", max_bytes: int = LIMIT) -> bytes:
    assert rest.download_recording_to(sid, path, max_bytes, fmt) == path.stat().st_size
    return path.read_bytes()


def test_media_follows_the_redirect_and_sends_credentials_only_to_twilio(rest, twilio_api, call_audio, tmp_path):
    audio = call_audio.path.read_bytes()
    twilio_api.add_recording("RE" + "5" * 32, audio, call_sid="CA" + "5" * 32)
    seen = len(twilio_api.storage_requests)
    assert download(rest, "RE" + "5" * 32, tmp_path / "a.wav") == audio
    [(path, authorised)] = twilio_api.storage_requests[seen:]
    assert path.endswith("/RE" + "5" * 32 + ".wav") and authorised is False
    mp3 = download(rest, "RE" + "5" * 32, tmp_path / "a.mp3", "mp3")
    assert abs(AudioSegment.from_file(io.BytesIO(mp3), format="mp3").duration_seconds - call_audio.duration_s) < 0.5


def test_media_without_a_redirect_and_a_missing_recording(rest, twilio_api, call_audio, tmp_path):
    twilio_api.add_recording("RE" + "6" * 32, call_audio.path.read_bytes())
    twilio_api.media_redirect = False
    try:
        assert download(rest, "RE" + "6" * 32, tmp_path / "b.wav") == call_audio.path.read_bytes()
    finally:
        twilio_api.media_redirect = True
    with pytest.raises(RecordingUnavailable):
        rest.download_recording_to("RE" + "7" * 32, tmp_path / "c.wav", LIMIT)


def test_media_beyond_the_limit_is_refused(rest, twilio_api, call_audio, tmp_path):
    audio = call_audio.path.read_bytes()
    twilio_api.add_recording("RE" + "8" * 32, audio)
    with pytest.raises(RecordingTooLarge, match="Content-Length"):
        rest.download_recording_to("RE" + "8" * 32, tmp_path / "d.wav", len(audio) - 1)
    assert rest.download_recording_to("RE" + "8" * 32, tmp_path / "d.wav", len(audio)) == len(audio)
