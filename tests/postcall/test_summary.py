"""Summary and lead: deterministic extraction on text and on real transcripts of generated speech."""

from __future__ import annotations

import pytest

from receptionist.calls.lead import Lead, extract_phone, merge_leads, to_e164
from receptionist.postcall.audio import RecordingAudio
from receptionist.postcall.summary import extract_summary
from receptionist.postcall.transcription import vocabulary_prompt
from sandbox.speech import synthesize_call

CALLER_ID = "+15550142367"


@pytest.mark.parametrize("said, number", [
    ("call me back at 312-555-0199 please", "+13125550199"),
    ("my number is (312) 555 0199.", "+13125550199"),
    ("It's 3, 1, 2, 5, 5, 5, 0, 1, 9, 9.", "+13125550199"),
    ("three one two five five five zero one nine nine", "+13125550199"),
    ("reach me on +44 20 7946 0958", "+442079460958"),
    ("1 312 555 0199", "+13125550199"),
    ("my house is number 42", None),
])
def test_phone_numbers_are_found_and_made_e164(said, number):
    assert extract_phone(said) == number


def test_e164_needs_a_whole_number():
    assert to_e164("555-0142") is None
    assert to_e164("+15550142367") == "+15550142367"


def test_extraction_from_a_conversation():
    conversation = [
        {"speaker": "receptionist", "text": "Thanks for calling Acme Plumbing."},
        {"speaker": "caller", "text": "Hi, this is Maria Lopez. Our basement is flooding, a pipe burst."},
        {"speaker": "caller", "text": "Call me back at 312 555 0199. The address is 1200 Lake Shore Drive, Chicago."},
    ]
    result = extract_summary(caller_id=CALLER_ID, conversation=conversation, transcript=None, live_lead=None,
                             service_areas=["Chicago"])
    lead = result.lead
    assert lead.name == "Maria Lopez"
    assert lead.callback_number == "+13125550199"
    assert lead.address == "1200 Lake Shore Drive, Chicago"
    assert "flooding" in lead.reason and lead.urgency == "emergency"
    assert result.summary.startswith('Emergency. Maria Lopez: "Our basement is flooding')  # the urgency first
    assert "+13125550199" in result.summary


def test_a_silent_call_is_summarised_as_such():
    result = extract_summary(caller_id=CALLER_ID, conversation=[], transcript=[], live_lead=None, service_areas=[])
    assert result.summary == "The caller hung up without leaving a message."
    assert result.lead.callback_number == CALLER_ID and result.lead.reason is None


def test_what_the_receptionist_captured_live_wins():
    extracted = Lead(name="Marya Lopes", callback_number=CALLER_ID, reason="leak")
    merged = merge_leads({"name": "Maria Lopez", "callback_number": "+13125550199", "urgency": None}, extracted)
    assert merged.name == "Maria Lopez" and merged.callback_number == "+13125550199" and merged.reason == "leak"
    # An invalid live number never replaces a valid extracted one.
    assert merge_leads({"callback_number": "555-0142"}, extracted).callback_number == CALLER_ID


def test_extraction_from_real_speech(transcriber, tmp_path):
    turns = [
        ("receptionist", "Thanks for calling Acme Plumbing. How can I help you today?"),
        ("caller", "My name is John Carter and I live at 42 Maple Street."),
        ("receptionist", "What seems to be the problem?"),
        ("caller", "My water heater is leaking all over the basement."),
        ("receptionist", "A plumber will call you back today. Goodbye."),
    ]
    audio = synthesize_call(turns, tmp_path / "call.wav")
    business = {"services": ["water heater repair"], "service_areas": ["Springfield"]}
    segments = [s.as_dict() for s in transcriber.transcribe_call(
        RecordingAudio(audio.path).windows(), vocabulary_prompt("Acme Plumbing", business))]
    result = extract_summary(caller_id=CALLER_ID, conversation=None, transcript=segments, live_lead=None,
                             service_areas=business["service_areas"], services=business["services"])
    lead = result.lead
    assert lead.name == "John Carter", segments
    assert "water heater" in lead.reason.lower() and "leak" in lead.reason.lower(), segments
    assert lead.urgency == "high"
    assert lead.callback_number == CALLER_ID  # nothing stated: the caller ID
    assert result.summary.startswith('Urgent. John Carter: "My water heater')


def test_an_appointment_captured_live_keeps_every_field():
    live = {"appointment": {"requested_start": "2026-11-23T09:00:00-06:00", "requested_time": "Monday at 9 AM",
                            "notes": "back door"}}
    lead = merge_leads(live, Lead(reason="leak")).model_dump(exclude_none=True)
    assert lead["appointment"] == live["appointment"]


# --- where the live hearing and Whisper's disagree: the read-back decides --------------------------------

READ_BACK = "Let me read the number back. Five five five, two one four, eight eight three zero. Is that right?"


def _read_back_call(answer: str) -> tuple[list[dict], list[dict]]:
    """A call whose number the relay heard right and Whisper wrong (or the other way round)."""
    conversation = [
        {"speaker": "receptionist", "text": "What is the best number to call you back on?"},
        {"speaker": "caller", "text": "my name is dana whitaker you can reach me at 555 214 8830"},
        {"speaker": "receptionist", "text": READ_BACK},
        {"speaker": "caller", "text": answer},
    ]
    transcript = [
        {"speaker": "receptionist", "start": 0.5, "end": 3.0, "text": conversation[0]["text"]},
        {"speaker": "caller", "start": 3.5, "end": 8.0, "text": "My name is Dana Whittaker. You can reach me at 555-214-8870.",
         "live_text": conversation[1]["text"]},
        {"speaker": "receptionist", "start": 8.5, "end": 14.0, "text": READ_BACK},
        {"speaker": "caller", "start": 14.5, "end": 15.5, "text": answer},
    ]
    return conversation, transcript


def test_the_number_the_caller_confirmed_on_the_read_back_wins():
    conversation, transcript = _read_back_call("Yes, that's right.")
    lead = extract_summary(caller_id=CALLER_ID, conversation=conversation, transcript=transcript, live_lead=None,
                           service_areas=[]).lead
    assert lead.callback_number == "+15552148830"  # the relay's hearing, read back and confirmed


def test_without_a_confirmed_read_back_the_rules_stand():
    for answer in ("No, it's eight eight seven zero at the end.", "Hmm, hold on."):
        conversation, transcript = _read_back_call(answer)
        lead = extract_summary(caller_id=CALLER_ID, conversation=conversation, transcript=transcript,
                               live_lead=None, service_areas=[]).lead
        assert lead.callback_number == "+15552148870", answer  # the last number stated (Whisper's), as before


def test_a_confirmed_name_read_back_beats_a_live_capture_heard_otherwise():
    conversation, transcript = _read_back_call("Yes.")
    conversation[2] = {"speaker": "receptionist", "text": "So that's Dana Whittaker, at 555 214 8870, correct?"}
    transcript[2] = {**transcript[2], "text": conversation[2]["text"]}
    lead = extract_summary(caller_id=CALLER_ID, conversation=conversation, transcript=transcript,
                           live_lead={"name": "Dana Whitaker", "callback_number": "+15552148830"},
                           service_areas=[]).lead
    assert lead.name == "Dana Whittaker" and lead.callback_number == "+15552148870"
