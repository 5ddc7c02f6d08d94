"""One outcome, decided on all the evidence, and one alert per recipient and channel, whatever order
Twilio's callbacks arrive in ("There is no guarantee they will arrive in the same order":
https://www.twilio.com/docs/voice/api/call-resource#statuscallback; the recording's callback is a
separate request again: https://www.twilio.com/docs/voice/twiml/recording#recordingstatuscallback).

Each case plays a call through the webhooks, then runs the real worker (Whisper on espeak audio)
over what they queued, and reads what the owner and the caller received.
"""

from __future__ import annotations

import time

import pytest
from rq import Queue
from sqlalchemy import select, update

from receptionist.core.models import Call, Delivery
from receptionist.telephony import webhooks
from sandbox.speech import synthesize_call
from tests.support.alerts import ALERTS_FROM, OWNER_MOBILE, texts_to
from tests.support.calls import run_burst
from tests.support.world import BUSINESS_NUMBER, OWNER_EMAIL

CALLER = "+13125550142"  # a real range: the outbound fence refuses 555 numbers
GREETING = ("receptionist", "Thanks for calling Acme Plumbing. How can I help you today?")
MESSAGE = "Hi, this is Maria Lopez. My water heater is leaking. Please call me back."
TAKE_MESSAGE = ("receptionist", "Nobody can take your call right now. Please leave your name, number and message.")
WAIT_S = 3.0  # RECEPTIONIST_RECORDING_WAIT_S in these tests


@pytest.fixture(scope="module")
def silent_caller(tmp_path_factory):
    """The recording of a call where only the receptionist spoke: the caller said nothing."""
    return synthesize_call([GREETING], tmp_path_factory.mktemp("outcome") / "silent.wav", lead_in_s=1.0)


@pytest.fixture(scope="module")
def message_left(tmp_path_factory):
    """The recording of a call where the caller left a message after the take-message line."""
    return synthesize_call([TAKE_MESSAGE, ("caller", MESSAGE)], tmp_path_factory.mktemp("outcome") / "message.wav")


@pytest.fixture(params=["postgresql", "sqlite"])
def world(request, make_settings, make_context, twilio_api, monkeypatch):
    """The app and a worker on one database, an account with email and SMS alerts and the text-back on."""
    from tests.support.service import serve

    database = request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_database")
    settings = make_settings(database, alert_from_number=ALERTS_FROM, recording_wait_s=WAIT_S)
    twilio_api.forget_opt_outs()
    # A relay that never lets go holds the final status up this long (3 s in production) before
    # the outcome is decided without its last write.
    monkeypatch.setattr(webhooks, "RELAY_SETTLE_WAIT_S", 0.3)
    served = serve(settings, twilio_api)
    service = next(served)
    service.create_account(missed_call_text_back=True, alert_sms=[OWNER_MOBILE])
    yield service, make_context(settings)
    served.close()


def absent(service, call):
    params = service.player.recording_params(call, "https://api.twilio.com/x", None, status="absent")
    assert service.player.post("/twilio/recording", params).status_code == 200


def relay_failed_twice(service, call):
    """The relay cannot be reached, then the reconnect cannot either: the caller is asked for a message."""
    form = {"AccountSid": service.settings.twilio_account_sid, "CallSid": call.call_sid, "From": call.from_number,
            "To": call.to_number, "CallStatus": "in-progress", "SessionStatus": "failed", "ErrorCode": "64105",
            "SessionId": "VX" + "0" * 32}
    reconnect = service.player.post_url(call.answer.connect.action, form)
    assert reconnect.status_code == 200 and "<ConversationRelay" in reconnect.text
    take = service.player.post("/twilio/relay/action", form, query="attempt=2")
    assert take.status_code == 200 and "<Pause" in take.text


def recorded(service, call, audio):
    """Twilio finishes the call's <Start><Recording> (untrimmed, so even a short call is `completed`)."""
    assert service.player.record(call, audio.path.read_bytes(), recording_sid="RE" + call.call_sid[2:]) == "completed"


def relay_holds(service, call, held: bool):
    with service.app.state.services.db.session() as session:
        session.execute(update(Call).where(Call.call_sid == call.call_sid)
                        .values(relay_session="relay-session" if held else None, relay_attempt=1))


def deliveries(service, call) -> list[tuple[str, str, str]]:
    with service.app.state.services.db.session() as session:
        call_id = session.scalar(select(Call.id).where(Call.call_sid == call.call_sid))
        return sorted(session.execute(select(Delivery.channel, Delivery.recipient, Delivery.status)
                                      .where(Delivery.call_id == call_id)).all())


# Each step is what one callback (or the worker) does; the cases list them in the order they arrive.
STEPS = {
    "greeted": lambda w, call, audio: w[0].hear(call.call_sid, [GREETING]),  # the relay connected, the caller is silent
    "caller spoke": lambda w, call, audio: w[0].hear(call.call_sid, [GREETING, ("caller", MESSAGE)]),
    "relay failed twice": lambda w, call, audio: relay_failed_twice(w[0], call),
    "relay holds": lambda w, call, audio: relay_holds(w[0], call, True),
    "relay's last write": lambda w, call, audio: (w[0].hear(call.call_sid, [GREETING, ("caller", MESSAGE)]),
                                                  relay_holds(w[0], call, False)),
    "status": lambda w, call, audio: w[0].player.end(call, duration_s=8),
    "completed": lambda w, call, audio: recorded(w[0], call, audio),
    "absent": lambda w, call, audio: absent(w[0], call),
    "worker": lambda w, call, audio: run_burst(w[1]),
    "wait": lambda w, call, audio: time.sleep(WAIT_S + 0.2),
}

# (case, audio, steps, outcome, the caller texted back, the alert carries the recording's transcript)
CASES = [
    ("status, then completed: silent caller", "silent", ["greeted", "status", "completed", "worker"],
     "missed", True, True),
    ("completed, worker, then status: silent caller", "silent", ["greeted", "completed", "worker", "status", "worker"],
     "missed", True, True),
    ("status, worker, then completed", "silent", ["greeted", "status", "worker", "completed", "worker"],
     "missed", True, True),
    ("duplicates of both", "silent", ["greeted", "status", "status", "completed", "completed", "worker", "status"],
     "missed", True, True),
    ("status, then absent", "silent", ["greeted", "status", "absent", "worker"], "missed", True, False),
    ("absent, then status", "silent", ["greeted", "absent", "worker", "status", "worker"], "missed", True, False),
    ("no recording ever: the wait times out", "silent", ["greeted", "status", "worker", "wait", "worker"],
     "missed", True, False),
    ("the relay heard the caller: status, then completed", "message", ["caller spoke", "status", "completed", "worker"],
     "answered", False, True),
    ("the relay heard the caller: absent", "message", ["caller spoke", "status", "absent", "worker"],
     "answered", False, False),
    ("relay failed, a message on the caller channel: status first", "message",
     ["relay failed twice", "status", "worker", "completed", "worker"], "answered", False, True),
    ("relay failed, a message on the caller channel: recording first", "message",
     ["relay failed twice", "completed", "worker", "status", "worker"], "answered", False, True),
    ("the final status before the relay's last write", "silent",
     ["relay holds", "status", "relay's last write", "completed", "worker"], "answered", False, True),
]


@pytest.mark.parametrize("steps,audio_name,outcome,texted,with_transcript",
                         [pytest.param(steps, audio, outcome, texted, transcript, id=name)
                          for name, audio, steps, outcome, texted, transcript in CASES])
def test_one_outcome_and_one_alert_whatever_the_order(world, twilio_api, smtp, silent_caller, message_left,
                                                      steps, audio_name, outcome, texted, with_transcript):
    service, _ctx = world
    audio = silent_caller if audio_name == "silent" else message_left
    texts_before = len(texts_to(twilio_api, CALLER))
    call = service.player.start(CALLER, BUSINESS_NUMBER)
    for step in steps:
        STEPS[step](world, call, audio)
    run_burst(world[1])  # whatever is still queued

    detail = service.call(call.call_sid)
    assert detail["outcome"] == outcome
    assert len(texts_to(twilio_api, CALLER)) - texts_before == (1 if texted else 0)
    assert deliveries(service, call) == [("email", OWNER_EMAIL, "sent"), ("sms", OWNER_MOBILE, "sent")]
    [email] = [m for m in smtp.wait_for(1) if call.call_sid in m.text()]
    assert len([m for m in smtp.messages if call.call_sid in m.text()]) == 1
    assert email.subject.startswith("Missed call") == (outcome == "missed")
    transcript_lines = [line for line in email.text().splitlines() if line.startswith("[") and "s] " in line]
    if with_transcript:
        assert transcript_lines, email.text()  # the recording's transcript, time-stamped
        if audio_name == "message":
            assert any("Caller:" in line and "water" in line.lower() for line in transcript_lines)
    else:
        assert transcript_lines == []  # no recording came: what the relay heard
    assert len([m for m in texts_to(twilio_api, OWNER_MOBILE) if call.call_sid in m.body]) == 1


def test_a_caller_who_hangs_up_during_the_disclosure_is_texted_back_at_once(world, twilio_api, redis_conn):
    """The relay never connected, so the <Start><Recording> after the disclosure never ran: nothing can
    come, and the missed-call job is queued by the final status itself."""
    service, ctx = world
    texts_before = len(texts_to(twilio_api, CALLER))
    call = service.player.start(CALLER, BUSINESS_NUMBER)
    service.player.end(call, duration_s=2)
    assert service.call(call.call_sid)["outcome"] == "missed"
    assert Queue(service.settings.queue_name, connection=redis_conn).job_ids == [f"call-ended-{call.call_sid}"]
    started = time.monotonic()
    run_burst(ctx)
    assert len(texts_to(twilio_api, CALLER)) - texts_before == 1
    assert time.monotonic() - started < 5.0
    assert deliveries(service, call) == [("email", OWNER_EMAIL, "sent"), ("sms", OWNER_MOBILE, "sent")]


def test_a_silent_call_whose_recording_is_coming_waits_for_it(world, redis_conn):
    """The relay connected, so a recording is coming: no outcome, no job until it reports."""
    service, _ctx = world
    call = service.player.start(CALLER, BUSINESS_NUMBER)
    service.hear(call.call_sid, [GREETING])
    service.player.end(call, duration_s=6)
    assert service.call(call.call_sid)["outcome"] is None
    assert Queue(service.settings.queue_name, connection=redis_conn).job_ids == []


def test_a_recording_given_up_alerts_from_the_relay_and_texts_no_one(world, twilio_api, smtp):
    """A recording that cannot be heard (corrupt media) leaves the caller channel unknown: the call is
    decided from the relay alone, the owner is alerted once, and a caller who may have spoken on the
    recording is not texted "sorry we missed you"."""
    service, ctx = world
    texts_before = len(texts_to(twilio_api, CALLER))
    call = service.player.start(CALLER, BUSINESS_NUMBER)
    service.hear(call.call_sid, [GREETING])
    service.player.end(call, duration_s=8)
    recording_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(recording_sid, b"RIFF\x00\x00\x00\x00WAVEbroken", call_sid=call.call_sid, channels=2,
                             duration_s=8)
    service.player.recording_ready(call, twilio_api.recording_url(recording_sid), 8, recording_sid)
    run_burst(ctx)
    run_burst(ctx)
    detail = service.call(call.call_sid)
    assert (detail["outcome"], detail["processing_status"]) == ("missed", "failed")
    assert len(texts_to(twilio_api, CALLER)) == texts_before
    assert deliveries(service, call) == [("email", OWNER_EMAIL, "sent"), ("sms", OWNER_MOBILE, "sent")]
    assert len([m for m in smtp.wait_for(1) if call.call_sid in m.text()]) == 1
