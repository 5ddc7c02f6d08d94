"""The call's transcript from the recording and the call's log: the receptionist's exact words,
staff after a transfer, Whisper where the log says nothing, the live transcription beside Whisper's."""

from __future__ import annotations

import pytest

from receptionist.postcall.audio import RecordingAudio
from receptionist.postcall.transcript import CallLog
from receptionist.postcall.transcription import vocabulary_prompt
from sandbox.speech import CALLER, RECEPTIONIST, STAFF, synthesize_call

BUSINESS = {"services": ["water heater repair", "drain cleaning"], "service_areas": ["Springfield"]}
PROMPT = vocabulary_prompt("Acme Plumbing", BUSINESS)
TOLERANCE_S = 0.5

GREETING = "Thanks for calling Acme Plumbing. How can I help you today?"
TRANSFER = "Please hold while I transfer you to someone at Acme Plumbing."


def _transcribe(transcriber, path, log):
    return [s.as_dict() for s in transcriber.transcribe_call(RecordingAudio(path).windows(), PROMPT, log=log)]


def _turn(speaker, text):
    return {"speaker": speaker, "text": text, "at": "2026-12-01T10:00:00+00:00"}


@pytest.fixture(scope="module")
def transfer_call(tmp_path_factory):
    turns = [(RECEPTIONIST, GREETING),
             (CALLER, "Hi, I would like to talk to a person about a quote, please."),
             (RECEPTIONIST, TRANSFER),
             (STAFF, "Hello, this is the office manager speaking. What can I do for you?"),
             (CALLER, "I need a quote for a new water heater."),
             (STAFF, "Sure, we can send someone on Monday to take a look at it.")]
    return synthesize_call(turns, tmp_path_factory.mktemp("transfer") / "call.wav", gap_s=0.8)


def test_after_a_transfer_the_second_channel_is_staff(transcriber, transfer_call):
    log = CallLog.of([_turn(RECEPTIONIST, GREETING), _turn(CALLER, "hi i would like to talk to a person about a quote please")],
                     said=[{"kind": "transfer", "text": TRANSFER, "at": "2026-12-01T10:00:09+00:00"}],
                     handoff={"reason": "the caller asked for a person", "transfer_to": "+15550100999"})
    segments = _transcribe(transcriber, transfer_call.path, log)
    receptionist = [s for s in segments if s["speaker"] == RECEPTIONIST]
    assert [s["text"] for s in receptionist] == [GREETING, TRANSFER]  # word for word, not Whisper's
    truth = transfer_call.turns
    for segment, turn in zip(receptionist, (truth[0], truth[2])):
        assert abs(segment["start"] - turn.start_s) <= TOLERANCE_S and abs(segment["end"] - turn.end_s) <= TOLERANCE_S
    staff = [s for s in segments if s["speaker"] == STAFF]
    assert staff and all(s["start"] >= truth[3].start_s - TOLERANCE_S for s in staff)
    staff_text = " ".join(s["text"] for s in staff).lower()
    assert "office" in staff_text and "monday" in staff_text, staff  # Whisper heard the person
    callers = [s for s in segments if s["speaker"] == CALLER]
    assert "quote" in " ".join(s["text"] for s in callers).lower()
    assert [s["speaker"] for s in segments] == [RECEPTIONIST, CALLER, RECEPTIONIST, STAFF, CALLER, STAFF]


def test_a_transfer_whose_announcement_was_not_logged_is_staff_after_the_last_line(transcriber, transfer_call):
    log = CallLog.of([_turn(RECEPTIONIST, GREETING), _turn(CALLER, "i would like to talk to a person"),
                      _turn(RECEPTIONIST, TRANSFER)], handoff={"reason": "asked", "transfer_to": "+15550100999"})
    segments = _transcribe(transcriber, transfer_call.path, log)
    assert [s["speaker"] for s in segments] == [RECEPTIONIST, CALLER, RECEPTIONIST, STAFF, CALLER, STAFF]


def test_the_relay_never_connected_whisper_hears_the_second_channel(transcriber, call_audio):
    segments = _transcribe(transcriber, call_audio.path, CallLog.of(None))
    receptionist = " ".join(s["text"] for s in segments if s["speaker"] == RECEPTIONIST).lower()
    assert "plumbing" in receptionist and "goodbye" in receptionist
    assert not any("live_text" in s for s in segments)
    assert {s["speaker"] for s in segments} == {CALLER, RECEPTIONIST}


def test_the_take_message_lines_are_exact_and_the_message_is_whispers(transcriber, tmp_path):
    """The relay failed twice: the call's TwiML asked for a message; the log has only its <Say> lines."""
    ask = "Sorry, I can't take your call right now. Please leave your name, number and message after the tone."
    goodbye = "Thank you. We will get back to you soon. Goodbye."
    audio = synthesize_call([(RECEPTIONIST, ask), (CALLER, "This is Dana Whitaker, my water heater is leaking."),
                             (RECEPTIONIST, goodbye)], tmp_path / "call.wav")
    log = CallLog.of(None, said=[{"kind": "take_message", "text": ask}, {"kind": "message_goodbye", "text": goodbye}])
    segments = _transcribe(transcriber, audio.path, log)
    assert [(s["speaker"], s["text"]) for s in segments if s["speaker"] == RECEPTIONIST] == [
        (RECEPTIONIST, ask), (RECEPTIONIST, goodbye)]
    message = " ".join(s["text"] for s in segments if s["speaker"] == CALLER).lower()
    assert "water heater" in message


def test_the_live_transcription_is_kept_beside_whispers_where_they_disagree(transcriber, tmp_path):
    turns = [(RECEPTIONIST, GREETING),
             (CALLER, "My water heater is leaking all over the basement."),
             (RECEPTIONIST, "I'm sorry to hear that. What is your name?"),
             (CALLER, "Dana Whitaker.")]
    audio = synthesize_call(turns, tmp_path / "call.wav")
    live_leak = "my water heater is leaking all over the basement"  # as Whisper should hear it, in lower case
    live_name = "Diana Whittaker"  # the live speech-to-text heard it otherwise
    log = CallLog.of([_turn(RECEPTIONIST, GREETING), _turn(CALLER, live_leak), _turn(RECEPTIONIST, turns[2][1]),
                      _turn(CALLER, live_name)])
    segments = _transcribe(transcriber, audio.path, log)
    callers = [s for s in segments if s["speaker"] == CALLER]
    assert len(callers) == 2, segments  # one segment per utterance the relay heard
    first, second = callers
    assert "water heater" in first["text"].lower()
    assert "live_text" not in first or first["live_text"] == live_leak
    # Whisper hears the short name otherwise, or not at all (tiny.en, espeak): the live hearing
    # is kept either way, and stands in for a turn Whisper heard nothing of.
    assert second["live_text"] == live_name, second
    assert second["start"] >= audio.turns[2].end_s - TOLERANCE_S
    assert abs(first["start"] - audio.turns[1].start_s) <= TOLERANCE_S


def test_live_turns_join_only_the_caller_segments_between_their_lines():
    from receptionist.postcall.alignment import Placed
    from receptionist.postcall.transcript import CallerTurn, with_live_text
    from receptionist.postcall.transcription import Segment

    heard = [Segment(CALLER, 5.0, 6.0, "My sink"), Segment(CALLER, 6.2, 7.5, "is blocked."),
             Segment(CALLER, 12.0, 13.0, "Sam Ortiz."), Segment(CALLER, 20.0, 22.0, "I need it today.")]
    turns = [CallerTurn("my sink is blocked", 1), CallerTurn("sam ortis", 2)]
    placed = [Placed(0, 0.5, 4.5), Placed(1, 8.0, 11.0)]
    joined = with_live_text(heard, turns, placed, until=15.0)
    assert [(s.text, s.live_text) for s in joined] == [
        ("My sink is blocked.", None),  # the two hearings agree (case and punctuation aside)
        ("Sam Ortiz.", "sam ortis"),
        ("I need it today.", None)]  # after the transfer: no live turn heard it
    assert (joined[0].start, joined[0].end) == (5.0, 7.5)
    # No receptionist line placed (nothing on the second channel): nothing says where a turn was.
    assert with_live_text(heard, turns, []) == heard


def test_a_live_turn_whisper_heard_nothing_of_stands_in_for_it():
    from receptionist.postcall.alignment import Placed
    from receptionist.postcall.transcript import CallerTurn, with_live_text
    from receptionist.postcall.transcription import Segment

    heard = [Segment(CALLER, 5.0, 7.5, "My sink is blocked.")]  # Whisper missed the name
    turns = [CallerTurn("my sink is blocked", 1), CallerTurn("Sam Ortiz", 2)]
    placed = [Placed(0, 0.5, 4.5), Placed(1, 8.0, 11.0), Placed(2, 16.0, 18.0)]
    joined = with_live_text(heard, turns, placed)
    assert [(s.text, s.live_text) for s in joined] == [("My sink is blocked.", None), ("Sam Ortiz", "Sam Ortiz")]
    assert 11.0 <= joined[1].start < joined[1].end <= 16.0  # between the lines it came between
