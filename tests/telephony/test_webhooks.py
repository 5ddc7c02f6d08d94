"""The Twilio-facing webhooks: signatures, TwiML order, idempotent recording callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from rq import Queue

from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER

VOICE = "/twilio/voice"


def voice_params(service, call_sid="CA" + "1" * 32, to=BUSINESS_NUMBER):
    return {"AccountSid": service.settings.twilio_account_sid, "CallSid": call_sid, "From": CALLER_NUMBER,
            "To": to, "CallStatus": "ringing"}


class TestSignatures:
    @pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/recording"])
    def test_missing_signature_is_refused_and_nothing_written(self, service, path):
        service.create_account()
        params = voice_params(service) | {"CallStatus": "completed", "RecordingSid": "RE" + "2" * 32,
                                          "RecordingStatus": "completed"}
        response = service.http.post(path, data=params)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert service.count("calls") == 0 and service.count("recordings") == 0

    def test_wrong_signature_is_refused(self, service):
        service.create_account()
        params = voice_params(service)
        forged = service.player.signatures.sign(VOICE, {**params, "From": "+15550000000"})
        response = service.player.post(VOICE, params, signature=forged)
        assert response.status_code == 403
        assert service.count("calls") == 0

    def test_signature_for_another_url_is_refused(self, service):
        """Signed for the service's internal address, not the public URL Twilio calls."""
        service.create_account()
        params = voice_params(service)
        internal = service.player.signatures.__class__(service.settings.twilio_auth_token, service.url)
        response = service.player.post(VOICE, params, signature=internal.sign(VOICE, params))
        assert response.status_code == 403
        assert service.count("calls") == 0

    def test_a_mismatch_logs_the_url_it_was_checked_against_never_the_signature(self, service, caplog):
        """Behind a proxy, the one thing an operator needs: which URL the service expected Twilio to sign."""
        service.create_account()
        params = voice_params(service)
        internal = service.player.signatures.__class__(service.settings.twilio_auth_token, service.url)
        signature = internal.sign(VOICE, params)
        with caplog.at_level("WARNING", logger="receptionist.telephony.webhooks"):
            assert service.player.post(VOICE, params, signature=signature).status_code == 403
        lines = [r.getMessage() for r in caplog.records if r.name == "receptionist.telephony.webhooks"]
        assert lines == [f"rejected {VOICE}: a bad Twilio signature for {service.settings.public_url}{VOICE}"]
        assert signature not in caplog.text and service.settings.twilio_auth_token not in caplog.text

    def test_signed_with_another_token_is_refused(self, service):
        service.create_account()
        params = voice_params(service)
        other = service.player.signatures.__class__("not-our-token", service.settings.public_url)
        response = service.player.post(VOICE, params, signature=other.sign(VOICE, params))
        assert response.status_code == 403
        assert service.count("calls") == 0

    def test_json_body_is_refused(self, service):
        response = service.http.post(VOICE, json=voice_params(service))
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"

    def test_signed_but_malformed_webhook_is_a_json_400(self, service):
        service.create_account()
        params = {"AccountSid": service.settings.twilio_account_sid, "From": CALLER_NUMBER, "To": BUSINESS_NUMBER}
        response = service.player.post(VOICE, params)
        assert response.status_code == 400
        assert "CallSid" in response.json()["error"]["message"]
        assert service.count("calls") == 0

    def test_valid_signature_is_accepted(self, service):
        service.create_account()
        response = service.player.post(VOICE, voice_params(service))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        assert service.count("calls") == 1


def signed_body(service, params: dict[str, str]) -> tuple[dict[str, str], bytes]:
    headers = {"X-Twilio-Signature": service.player.signatures.sign(VOICE, params),
               "Content-Type": "application/x-www-form-urlencoded"}
    return headers, urlencode(params).encode()


class TestBodiesLimitedBeforeRead:
    """Twilio posts short urlencoded forms: anything else is refused before a byte of it is read."""

    def test_a_signed_form_over_the_limit_is_413_and_nothing_written(self, service):
        service.create_account()
        padded = voice_params(service) | {"Padding": "x" * service.settings.twilio_max_body}
        headers, body = signed_body(service, padded)  # a valid signature: the size alone refuses it
        response = service.http.post(VOICE, content=body, headers=headers)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert str(service.settings.twilio_max_body) in response.json()["error"]["message"]
        assert service.count("calls") == 0

    def test_a_streamed_body_without_length_is_cut_at_the_limit(self, service):
        service.create_account()
        padded = voice_params(service) | {"Padding": "x" * (4 * service.settings.twilio_max_body)}
        headers, body = signed_body(service, padded)
        sent = []

        def chunks():  # no Content-Length: httpx sends it chunked
            for start in range(0, len(body), 8192):
                sent.append(start)
                yield body[start:start + 8192]

        response = service.http.post(VOICE, content=chunks(), headers=headers)
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert service.count("calls") == 0

    def test_a_streamed_body_within_the_limit_is_served(self, service):
        service.create_account()
        headers, body = signed_body(service, voice_params(service))
        response = service.http.post(VOICE, content=iter([body[:10], body[10:]]), headers=headers)
        assert response.status_code == 200, response.text
        assert service.count("calls") == 1

    @pytest.mark.parametrize("signed", [False, True])
    def test_multipart_is_415_unread(self, service, signed):
        """Twilio never sends multipart: refused by its content type, signed or not, before parsing."""
        service.create_account()
        headers = {"X-Twilio-Signature": "c2lnbmVk"} if signed else {}
        response = service.http.post(VOICE, data=voice_params(service), files={"f": ("a.bin", b"\0" * 50_000)},
                                     headers=headers)
        assert response.request.headers["content-type"].startswith("multipart/form-data")
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"
        assert service.count("calls") == 0

    def test_a_missing_content_type_is_415(self, service):
        headers, body = signed_body(service, voice_params(service))
        del headers["Content-Type"]
        response = service.http.post(VOICE, content=body, headers=headers)
        assert response.status_code == 415
        assert service.count("calls") == 0

    def test_the_limit_is_a_setting(self, make_settings, database_url, twilio_api):
        from tests.support.service import serve

        settings = make_settings(database_url, twilio_max_body=100)
        for small in serve(settings, twilio_api):
            small.create_account()
            headers, body = signed_body(small, voice_params(small))
            assert len(body) > 100
            response = small.http.post(VOICE, content=body, headers=headers)
            assert response.status_code == 413
            assert small.count("calls") == 0


class TestVoiceTwiml:
    def test_disclosure_then_recording_then_relay(self, service):
        account = service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        answer = call.answer  # read as Twilio reads it (sandbox.twiml), its defaults filled in
        assert answer.tags == ["Say", "Start", "Connect"]
        say, start, connect = answer.verbs
        assert say.text == account["disclosure"]
        recording = start.recording
        assert recording.channels == "dual" and recording.track == "both"
        assert recording.status_callback == "https://receptionist.example.com/twilio/recording"
        assert recording.status_callback_events == {"completed", "absent"}
        # Untrimmed: the recording starts when the call does, so it lines up with the live turns.
        assert recording.trim == "do-not-trim"
        assert connect.action == "https://receptionist.example.com/twilio/relay/action?attempt=1"
        relay = connect.relay
        # The call's own signed, expiring relay URL.
        assert relay.url.startswith(f"wss://receptionist.example.com/twilio/relay?token={call.call_sid}.1.")
        assert "Acme Plumbing" in relay.welcome_greeting
        assert relay.dtmf_detection is True
        assert (relay.interruptible, relay.welcome_greeting_interruptible) == ("any", "any")
        assert relay.report_input_during_agent_speech == "none"
        # One voice for the whole call: the <Say> and the relay speak with the same provider and voice.
        assert say.voice == "Polly.Joanna-Neural"
        assert (relay.tts_provider, relay.voice) == ("Amazon", "Joanna-Neural")

        detail = service.call(call.call_sid)
        assert detail["from"] == CALLER_NUMBER and detail["to"] == BUSINESS_NUMBER
        assert detail["retention_days"] == 90 and detail["training_opt_out"] is False

    def test_each_call_gets_its_own_relay_url(self, service):
        service.create_account()
        first = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        second = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        urls = {first.answer.connect.relay.url, second.answer.connect.relay.url}
        assert len(urls) == 2 and all(second.call_sid in u or first.call_sid in u for u in urls)

    def test_hints_carry_the_business_vocabulary_capitalised_as_twilio_advises(self, service):
        service.create_account(name="rivertown plumbing", business={
            "services": ["water heater repair", "drain cleaning, rodding"],
            "service_areas": ["springfield", "McAllen", "Springfield"], "staff": ["dana whitaker", "Bob"]})
        relay = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER).answer.connect.relay
        # Names first (business, staff, areas: proper nouns, capitalised), then the services as written;
        # one comma-separated string, each phrase once.
        assert relay.hints == ("Rivertown Plumbing", "Dana Whitaker", "Bob", "Springfield", "McAllen",
                               "water heater repair", "drain cleaning rodding")

    def test_an_accounts_voice_is_used_for_every_word(self, service):
        account = service.create_account(voice="google:en-US-Neural2-F", transfer_number="+13125550177")
        assert account["voice"] == "google:en-US-Neural2-F"
        answer = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER).answer
        assert answer.verbs[0].voice == "Google.en-US-Neural2-F"
        assert (answer.connect.relay.tts_provider, answer.connect.relay.voice) == ("Google", "en-US-Neural2-F")
        refused = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                     json={"voice": "elevenlabs:UgBBYS2sOqTuMpoF3BR0"})
        assert refused.status_code == 422  # <Say> cannot speak an ElevenLabs voice: no second voice on a call
        back = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(), json={"voice": None})
        assert back.status_code == 200 and back.json()["voice"] is None
        assert service.player.start(CALLER_NUMBER, BUSINESS_NUMBER).answer.verbs[0].voice == "Polly.Joanna-Neural"

    def test_default_disclosure_names_the_business(self, service):
        service.create_account(disclosure=None)
        root = ET.fromstring(service.player.start(CALLER_NUMBER, BUSINESS_NUMBER).twiml)
        assert root[0].tag == "Say" and "Acme Plumbing" in root[0].text and "recorded" in root[0].text

    def test_unknown_number_gets_a_polite_hangup_and_no_recording(self, service):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, "+15559999999")
        root = ET.fromstring(call.twiml)
        assert [child.tag for child in root] == ["Say", "Hangup"]
        assert call.answer.verbs[0].voice == "Polly.Joanna-Neural"
        assert "Recording" not in call.twiml and "ConversationRelay" not in call.twiml
        assert service.count("calls") == 0

    def test_repeated_voice_webhook_keeps_one_call(self, service):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.player.start(CALLER_NUMBER, BUSINESS_NUMBER, call_sid=call.call_sid)
        assert service.count("calls") == 1


class TestStatusAndRecordingCallbacks:
    def test_status_stores_duration_timestamps_and_outcome(self, service):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.hear(call.call_sid, [("caller", "Hi, I need a plumber.")])
        service.player.end(call, duration_s=42)
        detail = service.call(call.call_sid)
        assert detail["duration_s"] == 42
        assert detail["ended_at"] is not None and detail["ended_at"] >= detail["started_at"]
        assert detail["outcome"] == "answered"

    def test_a_final_status_is_final(self, service, redis_conn):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.hear(call.call_sid, [("caller", "Hi, I need a plumber.")])
        ended = datetime(2026, 3, 3, 15, 0, 42, tzinfo=timezone.utc)
        assert service.player.status(call, "completed", duration_s=42, at=ended).status_code == 200
        first = service.call(call.call_sid)
        assert first["ended_at"] == "2026-03-03T15:00:42Z" and first["duration_s"] == 42  # Twilio's Timestamp
        # Callbacks arrive in any order and more than once: a late in-progress or ringing, a repeat.
        for status, duration in (("in-progress", None), ("ringing", None), ("completed", 50)):
            assert service.player.status(call, status, duration_s=duration, at=ended.replace(minute=5)).status_code == 200
        detail = service.call(call.call_sid)
        assert (detail["ended_at"], detail["duration_s"], detail["outcome"]) == ("2026-03-03T15:00:42Z", 42, "answered")
        with service.app.state.services.db.engine.connect() as conn:
            status = conn.exec_driver_sql(f"SELECT twilio_status FROM calls WHERE call_sid = '{call.call_sid}'").scalar()
        assert status == "completed"
        assert Queue(service.settings.queue_name, connection=redis_conn).count == 0

    def test_busy_call_is_missed(self, service):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.player.end(call, duration_s=0, status="no-answer")
        assert service.call(call.call_sid)["outcome"] == "missed"

    def test_duplicate_recording_callbacks_enqueue_one_job(self, service, redis_conn):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        params = service.player.recording_params(call, "https://api.twilio.com/x", 10)
        for _ in range(3):
            assert service.player.post("/twilio/recording", params).status_code == 200
        queue = Queue(service.settings.queue_name, connection=redis_conn)
        assert queue.job_ids == [f"recording-{call.recording_sid}"]
        assert service.count("recordings") == 1

    def test_absent_recording_enqueues_an_alert_not_a_transcription(self, service, redis_conn):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.hear(call.call_sid, [("caller", "Hi, I need a plumber.")])
        service.player.end(call, duration_s=9)
        params = service.player.recording_params(call, "https://api.twilio.com/x", 0) | {"RecordingStatus": "absent"}
        for _ in range(2):
            assert service.player.post("/twilio/recording", params).status_code == 200
        assert Queue(service.settings.queue_name, connection=redis_conn).job_ids == [f"alert-{call.call_sid}"]
        assert service.count("recordings") == 0
        assert service.call(call.call_sid)["outcome"] == "answered"

    def test_in_progress_recording_enqueues_nothing(self, service, redis_conn):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        params = service.player.recording_params(call, "https://api.twilio.com/x", 0) | {"RecordingStatus": "in-progress"}
        assert service.player.post("/twilio/recording", params).status_code == 200
        assert Queue(service.settings.queue_name, connection=redis_conn).count == 0
        assert service.count("recordings") == 0

    def test_call_that_ended_before_the_caller_spoke_is_missed(self, service, redis_conn):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        service.player.end(call, duration_s=4)
        service.player.end(call, duration_s=4)  # a duplicate status callback
        assert service.call(call.call_sid)["outcome"] == "missed"
        assert Queue(service.settings.queue_name, connection=redis_conn).job_ids == [f"call-ended-{call.call_sid}"]

    def test_a_short_call_is_recorded_untrimmed_not_absent(self, service, redis_conn, tmp_path):
        """With Twilio's default trim-silence a recording under a minute after trimming comes back
        `absent`; the answer asks for do-not-trim, so a short call's recording arrives."""
        from sandbox.speech import synthesize_call

        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        audio = synthesize_call([("receptionist", "Acme Plumbing."), ("caller", "Wrong number, sorry.")],
                                tmp_path / "short.wav", lead_in_s=2.0)
        service.player.end(call, duration_s=round(audio.duration_s))
        assert service.player.record(call, audio.path.read_bytes()) == "completed"
        assert Queue(service.settings.queue_name, connection=redis_conn).job_ids[-1] == f"recording-{call.recording_sid}"

    def test_recording_for_unknown_call_is_404_json(self, service):
        service.create_account()
        params = {"AccountSid": "AC1", "CallSid": "CA" + "9" * 32, "RecordingSid": "RE" + "9" * 32,
                  "RecordingStatus": "completed", "RecordingUrl": "https://x"}
        response = service.player.post("/twilio/recording", params)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
