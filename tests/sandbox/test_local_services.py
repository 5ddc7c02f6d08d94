"""The local servers behind `receptionist demo` and the test fixtures, exercised for real."""

from __future__ import annotations

import glob
import io
import smtplib
import socket
import tempfile
import wave
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from sandbox import (
    CallAudio,
    LocalRedis,
    LocalS3,
    LocalTwilioApi,
    SmtpCapture,
    free_port,
    long_call_turns,
    synthesize_call,
    synthesize_speech,
    wait_for_port,
)

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "local-test-token"
RECORDING_SID = "RE" + "a" * 32
CALL_SID = "CA" + "b" * 32


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    with LocalS3() as server:
        server.client().create_bucket(Bucket="receptionist-calls")
        yield server


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[LocalTwilioApi]:
    with LocalTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory) -> CallAudio:
    turns = [
        ("receptionist", "Thanks for calling Rivera Plumbing, how can I help?"),
        ("caller", "Hi, my water heater is leaking all over the basement."),
        ("receptionist", "I'm sorry. What is your name and callback number?"),
        ("caller", "Dana Whitaker, five five five, two one four, eight eight three zero."),
    ]
    return synthesize_call(turns, tmp_path_factory.mktemp("speech") / "call.wav")


# -- ports -----------------------------------------------------------------------------------------


def test_free_port_with_offset_leaves_both_ports_free() -> None:
    port = free_port(also_free_offset=10000)
    assert port + 10000 <= 65535
    for candidate in (port, port + 10000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", candidate))


def test_wait_for_port_times_out_on_a_closed_port() -> None:
    with pytest.raises(TimeoutError):
        wait_for_port("127.0.0.1", free_port(), timeout=0.3)


# -- SeaweedFS S3 ----------------------------------------------------------------------------------


def test_s3_signed_put_and_get(s3: LocalS3) -> None:
    client = s3.client()
    client.put_object(Bucket="receptionist-calls", Key="calls/one.txt", Body=b"hello")
    assert client.get_object(Bucket="receptionist-calls", Key="calls/one.txt")["Body"].read() == b"hello"
    assert s3.env() == {
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "RECEPTIONIST_S3_ENDPOINT_URL": s3.endpoint_url,
    }


def test_s3_rejects_unsigned_requests(s3: LocalS3) -> None:
    s3.client().put_object(Bucket="receptionist-calls", Key="calls/private.txt", Body=b"secret")
    assert httpx.get(f"{s3.endpoint_url}/receptionist-calls/calls/private.txt").status_code == 403
    assert httpx.get(f"{s3.endpoint_url}/receptionist-calls").status_code == 403
    assert httpx.put(f"{s3.endpoint_url}/receptionist-calls/x.txt", content=b"x").status_code == 403


def test_s3_sse_s3_aes256(s3: LocalS3) -> None:
    client = s3.client()
    client.put_object(Bucket="receptionist-calls", Key="aes.txt", Body=b"aes", ServerSideEncryption="AES256")
    assert client.head_object(Bucket="receptionist-calls", Key="aes.txt")["ServerSideEncryption"] == "AES256"
    assert client.get_object(Bucket="receptionist-calls", Key="aes.txt")["Body"].read() == b"aes"


def test_s3_sse_kms(s3: LocalS3) -> None:
    client = s3.client()
    client.put_object(
        Bucket="receptionist-calls",
        Key="kms.txt",
        Body=b"transcript",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="test-key-1",
    )
    head = client.head_object(Bucket="receptionist-calls", Key="kms.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith("test-key-1")
    assert client.get_object(Bucket="receptionist-calls", Key="kms.txt")["Body"].read() == b"transcript"


def test_s3_lifecycle_pass_runs(s3: LocalS3) -> None:
    assert "complete" in s3.run_lifecycle()


def test_s3_second_instance_runs_alongside_and_cleans_up(s3: LocalS3) -> None:
    with LocalS3(access_key="other") as other:
        data_dir, s3_port = other.data_dir, other.s3_port
        grpc_ports = {port + 10000 for port in (other.master_port, other.volume_port, other.filer_port, s3_port)}
        assert s3_port != s3.s3_port
        other.client().create_bucket(Bucket="other-bucket")
        assert [b["Name"] for b in other.client().list_buckets()["Buckets"]] == ["other-bucket"]
    assert not data_dir.exists()
    leftovers = [p for p in glob.glob("/tmp/seaweedfs-*-grpc-*.sock") if int(p[:-5].rsplit("-", 1)[1]) in grpc_ports]
    assert leftovers == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s3_port), timeout=0.5)


def test_s3_restart_keeps_port_and_objects_in_given_data_dir(tmp_path: Path) -> None:
    server = LocalS3(data_dir=tmp_path / "s3")
    with server:
        port = server.s3_port
        server.client().create_bucket(Bucket="outage-bucket")
        server.client().put_object(Bucket="outage-bucket", Key="k", Body=b"kept", ServerSideEncryption="AES256")
    with pytest.raises(OSError):  # down: the endpoint refuses connections
        socket.create_connection(("127.0.0.1", port), timeout=0.5)
    with server:
        assert server.s3_port == port
        assert server.client().get_object(Bucket="outage-bucket", Key="k")["Body"].read() == b"kept"
    assert (tmp_path / "s3" / "weed.log").exists()
    assert not (tmp_path / "s3" / "s3.sock").exists() and not (tmp_path / "s3" / "filer.sock").exists()


# -- Redis -----------------------------------------------------------------------------------------


def test_redis_ping_and_cleanup() -> None:
    server = LocalRedis()
    with server:
        assert server.url.startswith("redis://127.0.0.1:")
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        port = server.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


# -- SMTP ------------------------------------------------------------------------------------------


def _send(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "receptionist@example.test"
    message["To"] = "owner@example.test"
    message["Subject"] = subject
    message.set_content("New call from Dana Whitaker.")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


def test_smtp_capture_receives_and_survives_restart_on_same_port() -> None:
    with SmtpCapture() as smtp:
        port = smtp.port
        assert smtp.url == f"smtp://127.0.0.1:{port}"
        _send(port, "Call 1")
        [first] = smtp.wait_for(1, timeout=5)
        assert first.subject == "Call 1"
        assert first.mail_from == "receptionist@example.test"
        assert first.rcpt_tos == ("owner@example.test",)
        assert "Dana Whitaker" in first.text()

        smtp.stop()  # SMTP outage
        with pytest.raises(OSError):
            _send(port, "lost")
        smtp.start()  # back on the same port
        assert smtp.port == port
        _send(port, "Call 2")
        assert [m.subject for m in smtp.wait_for(2, timeout=5)] == ["Call 1", "Call 2"]

        smtp.clear()
        assert smtp.messages == []
        with pytest.raises(TimeoutError):
            smtp.wait_for(1, timeout=0.2)


# -- Twilio REST -----------------------------------------------------------------------------------


def test_twilio_requires_basic_auth(twilio_api: LocalTwilioApi) -> None:
    url = twilio_api.recording_url(RECORDING_SID) + ".json"
    for auth in (None, (ACCOUNT_SID, "wrong-token")):
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401
        assert response.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }


def test_twilio_recording_download_and_metadata(twilio_api: LocalTwilioApi, call_wav: CallAudio) -> None:
    audio = call_wav.path.read_bytes()
    twilio_api.add_recording("RE" + "1" * 32, audio, call_sid=CALL_SID)
    url = twilio_api.recording_url("RE" + "1" * 32)
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    for suffix in ("", ".wav"):
        response = httpx.get(url + suffix, auth=auth, follow_redirects=True)
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/x-wav"
        assert response.content == audio
    meta = httpx.get(url + ".json", auth=auth).json()
    assert meta["sid"] == "RE" + "1" * 32
    assert meta["call_sid"] == CALL_SID
    assert meta["status"] == "completed"
    assert meta["channels"] == 2
    assert meta["duration"] == str(round(call_wav.duration_s))
    missing = httpx.get(twilio_api.recording_url("RE" + "9" * 32) + ".wav", auth=auth)
    assert missing.status_code == 404 and missing.json()["code"] == 20404


def test_twilio_media_redirects_to_another_origin_that_takes_no_second_credentials(
        twilio_api: LocalTwilioApi, call_wav: CallAudio) -> None:
    twilio_api.add_recording("RE" + "2" * 32, call_wav.path.read_bytes(), call_sid=CALL_SID)
    url = twilio_api.recording_url("RE" + "2" * 32) + ".wav"
    redirect = httpx.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(twilio_api.storage_url) and not location.startswith(twilio_api.base_url)
    assert "Signature=" in location
    # Signed in its query string: a second set of credentials is refused, as S3 refuses two auth mechanisms.
    assert httpx.get(location, auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 400
    assert httpx.get(location).content == call_wav.path.read_bytes()
    assert (location.split("?")[0].removeprefix(twilio_api.storage_url), False) in twilio_api.storage_requests
    assert httpx.get(twilio_api.storage_url + "/media/forged/RE.wav").status_code == 403


def test_twilio_mp3_is_a_real_mp3_and_channels_are_checked(twilio_api: LocalTwilioApi, call_wav: CallAudio,
                                                            tmp_path: Path) -> None:
    from pydub import AudioSegment

    twilio_api.add_recording("RE" + "3" * 32, call_wav.path.read_bytes(), call_sid=CALL_SID)
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    url = twilio_api.recording_url("RE" + "3" * 32)
    mp3 = httpx.get(url + ".mp3", auth=auth, follow_redirects=True)
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.content[:3] == b"ID3" or mp3.content[0] == 0xFF
    (tmp_path / "call.mp3").write_bytes(mp3.content)
    decoded = AudioSegment.from_file(tmp_path / "call.mp3", format="mp3")
    assert decoded.channels == 2 and abs(decoded.duration_seconds - call_wav.duration_s) < 0.5
    mono = httpx.get(url + ".wav?RequestedChannels=1", auth=auth, follow_redirects=True)
    with wave.open(io.BytesIO(mono.content)) as file:
        assert file.getnchannels() == 1
    twilio_api.add_recording("RE" + "4" * 32, synthesize_speech("Hello.", tmp_path / "mono.wav").read_bytes())
    refused = httpx.get(twilio_api.recording_url("RE" + "4" * 32) + ".wav?RequestedChannels=2", auth=auth)
    assert refused.status_code == 400  # a two-channel file of a one-channel recording


def test_twilio_refuses_texts_to_a_number_that_sent_stop_to_that_number(twilio_api: LocalTwilioApi) -> None:
    from twilio.base.exceptions import TwilioRestException

    client = twilio_api.client()
    assert "unsubscribed" in twilio_api.receive_text("+15552148830", "+15550001111", "stop")
    with pytest.raises(TwilioRestException) as refusal:
        client.messages.create(to="+15552148830", from_="+15550001111", body="New call")
    assert (refusal.value.status, refusal.value.code) == (400, 21610)
    assert client.messages.create(to="+15552148830", from_="+15550002222", body="x").status == "queued"  # per number
    assert twilio_api.receive_text("+15552148830", "+15550001111", "START") is not None
    assert client.messages.create(to="+15552148830", from_="+15550001111", body="x").status == "queued"
    assert [r.to for r in twilio_api.auto_replies][-2:] == ["+15552148830", "+15552148830"]


def test_real_twilio_client_sends_sms_and_deletes_recording(twilio_api: LocalTwilioApi) -> None:
    from twilio.rest import Client

    twilio_api.add_recording(RECORDING_SID, b"RIFF....", call_sid=CALL_SID)
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = twilio_api.base_url  # the override the module docstring documents

    message = client.messages.create(
        to="+15552148830", from_="+15550001111", body="New urgent call", status_callback="http://cb.test/sms"
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert (message.to, message.from_, message.body) == ("+15552148830", "+15550001111", "New urgent call")
    [sent] = [m for m in twilio_api.messages if m.sid == message.sid]
    assert sent.status_callback == "http://cb.test/sms"

    assert client.recordings(RECORDING_SID).fetch().call_sid == CALL_SID
    assert client.recordings(RECORDING_SID).delete() is True
    assert RECORDING_SID in twilio_api.deleted_recordings
    gone = httpx.get(twilio_api.recording_url(RECORDING_SID), auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert gone.status_code == 404
    assert ("DELETE", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.json") in twilio_api.requests


def test_twilio_message_validation(twilio_api: LocalTwilioApi) -> None:
    url = f"{twilio_api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    response = httpx.post(url, data={"From": "+15550001111", "Body": "hi"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert response.status_code == 400
    assert response.json()["code"] == 21604


def test_twilio_fail_next_injects_errors(twilio_api: LocalTwilioApi) -> None:
    from twilio.base.exceptions import TwilioRestException

    client = twilio_api.client()
    twilio_api.fail_next(2)
    url = f"{twilio_api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    first = httpx.post(url, data={"To": "+1555", "From": "+1666", "Body": "x"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert first.status_code == 503 and first.json()["code"] == 20503
    with pytest.raises(TwilioRestException) as excinfo:
        client.messages.create(to="+1555", from_="+1666", body="x")
    assert excinfo.value.status == 503
    assert client.messages.create(to="+1555", from_="+1666", body="x").status == "queued"


def test_twilio_outage_and_recovery_on_same_port(twilio_api: LocalTwilioApi) -> None:
    from twilio.base.exceptions import TwilioException

    client = twilio_api.client()  # its requests.Session keeps a pooled connection open
    client.messages.create(to="+1555", from_="+1666", body="before")
    port, sent_before = twilio_api.port, len(twilio_api.messages)
    twilio_api.stop()
    try:
        with pytest.raises((TwilioException, OSError)):
            client.messages.create(to="+1555", from_="+1666", body="during outage")
    finally:
        twilio_api.start()
    assert twilio_api.port == port
    client.messages.create(to="+1555", from_="+1666", body="after")
    assert [m.body for m in twilio_api.messages[sent_before:]] == ["after"]


# -- synthetic calls -------------------------------------------------------------------------------


def _channels(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames, 8000


def test_synthesize_call_is_twilio_shaped_dual_channel(call_wav: CallAudio) -> None:
    frames, rate = _channels(call_wav.path)
    assert len(frames) / rate == pytest.approx(call_wav.duration_s, abs=1e-3)
    assert call_wav.turns[0].start_s == pytest.approx(0.5)
    assert call_wav.duration_s == pytest.approx(call_wav.turns[-1].end_s + 0.5)
    for channel, speaker in ((0, "caller"), (1, "receptionist")):
        own = np.zeros(len(frames), dtype=bool)
        for turn in call_wav.turns:
            if turn.speaker == speaker:
                own[round(turn.start_s * rate) : round(turn.end_s * rate)] = True
                segment = frames[round(turn.start_s * rate) : round(turn.end_s * rate), channel]
                assert np.sqrt(np.mean(segment.astype(float) ** 2)) > 300  # real speech in its own turn
        assert not np.any(frames[~own, channel])  # digital silence whenever the other party talks
    for earlier, later in zip(call_wav.turns, call_wav.turns[1:]):
        assert later.start_s - earlier.end_s == pytest.approx(0.6, abs=1e-3)


def test_synthesize_call_is_mu_law_quantised(call_wav: CallAudio) -> None:
    frames, _ = _channels(call_wav.path)
    # G.711 mu-law has 256 codes, so a round trip leaves at most 256 distinct sample values.
    assert len(np.unique(frames)) <= 256


def test_synthesize_speech_mono_8k() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = synthesize_speech("My water heater is leaking.", Path(tmp) / "one.wav")
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 8000, 2)
            assert wav.getnframes() > 8000


def test_long_call_turns_is_deterministic_and_about_the_target() -> None:
    turns = long_call_turns(60)
    assert turns == long_call_turns(60)
    assert {speaker for speaker, _ in turns} == {"caller", "receptionist"}
    text = " ".join(t for _, t in turns).lower()
    for detail in ("water heater", "leaking", "dana", "two one four", "maple grove", "tonight"):
        assert detail in text
    assert len(long_call_turns(300)) > len(turns)
    with tempfile.TemporaryDirectory() as tmp:
        audio = synthesize_call(turns, Path(tmp) / "long.wav")
    assert 50 <= audio.duration_s <= 70
