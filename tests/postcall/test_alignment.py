"""The receptionist's known lines placed on the recording's timeline, against where espeak-ng put them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from receptionist.postcall.alignment import Stretch, align, speech_stretches
from receptionist.postcall.audio import RecordingAudio
from sandbox.speech import CALLER, RECEPTIONIST, long_call_turns, synthesize_call

# A line's start and end land this close to where its speech starts and ends (espeak-ng's own
# silence around an utterance is part of the turn, so an end is a little early).
TOLERANCE_S = 0.4


def _second_channel(path: Path) -> tuple[np.ndarray, float]:
    windows = list(RecordingAudio(path).windows())
    assert len(windows) == 1
    return windows[0].channels["receptionist"], windows[0].offset_s


def _errors(audio, lines_spoken, alignment):
    truth = [t for t in audio.turns if t.speaker == RECEPTIONIST]
    return [(abs(p.start - truth[p.index].start_s), abs(p.end - truth[p.index].end_s)) for p in alignment.placed]


@pytest.fixture(scope="module")
def minute_call(tmp_path_factory):
    return synthesize_call(long_call_turns(60), tmp_path_factory.mktemp("align") / "call.wav")


def test_every_line_of_a_minute_call_lands_where_it_was_spoken(minute_call):
    samples, _ = _second_channel(minute_call.path)
    lines = [t.text for t in minute_call.turns if t.speaker == RECEPTIONIST]
    alignment = align(lines, speech_stretches(samples), caller_between=[i > 0 for i in range(len(lines))])
    assert [p.index for p in alignment.placed] == list(range(len(lines)))
    assert alignment.uncovered == ()
    errors = _errors(minute_call, lines, alignment)
    assert max(max(e) for e in errors) <= TOLERANCE_S, errors
    assert 12 <= alignment.chars_per_s <= 22  # espeak-ng's rate, fitted from the call itself


def test_lines_spoken_back_to_back_share_their_speech(tmp_path):
    turns = [(RECEPTIONIST, "Thanks for calling Acme Plumbing. How can I help you today?"),
             (CALLER, "My kitchen sink is blocked."),
             (RECEPTIONIST, "I am sorry to hear that."),
             (RECEPTIONIST, "May I have your name and the best number to reach you, please?"),
             (CALLER, "Sam Ortiz, five five five, zero one four two.")]
    audio = synthesize_call(turns, tmp_path / "call.wav", gap_s=0.15)  # no pause the VAD keeps
    samples, _ = _second_channel(audio.path)
    lines = [t for s, t in turns if s == RECEPTIONIST]
    alignment = align(lines, speech_stretches(samples), caller_between=[False, True, False])
    assert [p.index for p in alignment.placed] == [0, 1, 2]
    errors = _errors(audio, lines, alignment)
    assert max(max(e) for e in errors) <= 2 * TOLERANCE_S, errors  # a shared stretch is cut by length


def test_speech_no_line_explains_is_left_for_whisper(tmp_path):
    turns = [(RECEPTIONIST, "Thanks for calling Acme Plumbing. How can I help you today?"),
             (CALLER, "Can I talk to a person, please?"),
             (RECEPTIONIST, "Of course. Please hold while I connect you."),
             (RECEPTIONIST, "Hello, this is Jordan from the Acme Plumbing office. How can I help you today, sir?")]
    audio = synthesize_call(turns, tmp_path / "call.wav", gap_s=1.0)
    samples, _ = _second_channel(audio.path)
    known = [turns[0][1], turns[2][1]]  # the last one is the person the call went to: no log has it
    alignment = align(known, speech_stretches(samples), caller_between=[False, True])
    assert [p.index for p in alignment.placed] == [0, 1]
    staff = audio.turns[3]
    assert alignment.uncovered, alignment
    assert abs(alignment.uncovered[0].start - staff.start_s) <= TOLERANCE_S
    assert abs(alignment.uncovered[-1].end - staff.end_s) <= TOLERANCE_S


def test_a_line_cut_short_is_placed_by_what_was_heard(tmp_path):
    """A reply interrupted after a few words is stored as heard; the recording has only those words."""
    heard = "The plumber can come tomorrow morning between"
    turns = [(RECEPTIONIST, "Thanks for calling Acme Plumbing. How can I help you today?"),
             (CALLER, "When can someone come to fix my boiler?"),
             (RECEPTIONIST, heard),
             (CALLER, "Sorry, tomorrow is no good, I work all day."),
             (RECEPTIONIST, "I understand. What day would suit you better?")]
    audio = synthesize_call(turns, tmp_path / "call.wav")
    samples, _ = _second_channel(audio.path)
    lines = [t for s, t in turns if s == RECEPTIONIST]
    alignment = align(lines, speech_stretches(samples), caller_between=[False, True, True])
    errors = _errors(audio, lines, alignment)
    assert [p.index for p in alignment.placed] == [0, 1, 2]
    assert max(max(e) for e in errors) <= TOLERANCE_S, errors


def test_no_lines_leave_all_speech_uncovered_and_no_speech_places_nothing():
    stretches = [Stretch(1.0, 2.5), Stretch(4.0, 6.0)]
    assert align([], stretches).uncovered == tuple(stretches)
    nothing = align(["Thanks for calling Acme Plumbing."], [])
    assert nothing.placed == () and nothing.consumed == 1
    # Part of a long call: a line not found in this window is left for the next one.
    partial = align(["Thanks for calling Acme Plumbing."], [], final=False)
    assert partial.consumed == 0
    assert speech_stretches(np.zeros(16_000 * 3, dtype=np.float32)) == []


def test_a_read_back_with_digits_is_placed_by_how_long_digits_take_to_say(tmp_path):
    turns = [(RECEPTIONIST, "What's the best number to reach you?"),
             (CALLER, "Three one two, five five five, zero one nine nine."),
             (RECEPTIONIST, "Let me read that back: 3 1 2, 5 5 5, 0 1 9 9. Is that right?"),
             (CALLER, "Yes."),
             (RECEPTIONIST, "Thank you. Goodbye!")]
    audio = synthesize_call(turns, tmp_path / "call.wav")
    samples, _ = _second_channel(audio.path)
    lines = [t for s, t in turns if s == RECEPTIONIST]
    alignment = align(lines, speech_stretches(samples), caller_between=[False, True, True])
    assert [p.index for p in alignment.placed] == [0, 1, 2]
    errors = _errors(audio, lines, alignment)
    assert max(max(e) for e in errors) <= TOLERANCE_S, errors


def test_the_callers_channel_tells_a_line_after_the_caller_from_speech_no_line_explains():
    """Two stretches of the same length after the greeting: one straight after it (a line the log
    missed), one after the caller spoke. The log's line came after the caller: it is the second."""
    lines = ["Thanks for calling Acme Plumbing. How can I help you today?", "Sure, I can help you with that."]
    stretches = [Stretch(0.5, 4.3), Stretch(6.3, 8.3), Stretch(11.0, 13.0)]
    by_length = align(lines, stretches, caller_between=[False, True])
    assert [p.start for p in by_length.placed] == [0.5, 6.3]  # the earlier one, without the caller's channel
    caller = [(9.0, 10.5)]
    heard = align(lines, stretches, caller_between=[False, True], caller_speech=caller)
    assert [(p.start, p.end) for p in heard.placed] == [(0.5, 4.3), (11.0, 13.0)]
    assert heard.uncovered == (Stretch(6.3, 8.3),)
