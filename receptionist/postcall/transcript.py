"""The call's transcript: the caller as Whisper heard them, the receptionist in its own words.

The second channel of the recording carries what the call played to the caller. Most of it the
product wrote itself (`CallLog`): the relay's replies as heard (cut at each interruption), the
welcome greeting, the `<Say>` lines of the TwiML after the relay (transfer, take a message, the
goodbye). Those lines are placed on the recording's timeline (`postcall.alignment`) and stored
word for word; Whisper transcribes only the speech on that channel no line explains: a relay that
never connected, a failure, and the person the call was transferred to, labelled `staff` from the
handoff on. The caller's channel is Whisper's, with the business vocabulary; where the relay's
live speech-to-text heard the same utterance differently, it is
kept beside it as `live_text`.

(The disclosure is not in the recording: it is spoken before `<Start><Recording>`.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from receptionist.postcall.alignment import SAMPLE_RATE, Placed, Stretch, align, speech_stretches
from receptionist.postcall.audio import AudioWindow
from receptionist.postcall.transcription import Segment, Transcriber

CALLER, RECEPTIONIST, STAFF = "caller", "receptionist", "staff"
# Whisper hears a clip of uncovered speech with this much audio either side (a word's soft edges).
CLIP_PAD_S = 0.3
# A caller segment belongs to a live turn when its middle lies between the receptionist lines the
# turn came between, give or take this much.
TURN_SLACK_S = 0.5
# A live turn Whisper heard nothing of is placed after the line before it, lasting about this long.
SECONDS_PER_WORD = 0.4
MIN_LIVE_S = 1.0
# The `<Say>` kinds the call's TwiML speaks after the relay (telephony.relay, calls.said).
TRANSFER = "transfer"


@dataclass(frozen=True)
class CallerTurn:
    text: str  # what the relay's live speech-to-text heard
    after: int  # how many receptionist lines were spoken before it


@dataclass(frozen=True)
class CallLog:
    """What the product knows was said on the call, in order (from `Call.conversation`, `Call.said`
    and `Call.handoff`)."""

    lines: tuple[str, ...] = ()  # the receptionist's lines, as spoken
    caller_between: tuple[bool, ...] = ()  # the caller spoke between line i-1 and line i
    caller_turns: tuple[CallerTurn, ...] = ()
    # The line after which the second channel carries the person the call was transferred to
    # (-1: from the start); None when the call was not transferred.
    staff_after: int | None = None

    @classmethod
    def of(cls, conversation: Sequence[dict] | None, said: Sequence[dict] | None = None,
           handoff: dict | None = None) -> CallLog:
        lines: list[str] = []
        between: list[bool] = []
        turns: list[CallerTurn] = []
        caller_since = False
        for turn in conversation or ():
            text = " ".join(str(turn.get("text") or "").split())
            if not text:
                continue
            if turn.get("speaker") == CALLER:
                turns.append(CallerTurn(text, len(lines)))
                caller_since = True
            else:
                lines.append(text)
                between.append(caller_since)
                caller_since = False
        staff_after = None
        for line in said or ():
            text = " ".join(str(line.get("text") or "").split())
            if not text:
                continue
            lines.append(text)
            between.append(caller_since)
            caller_since = False
            if line.get("kind") == TRANSFER and staff_after is None:
                staff_after = len(lines) - 1
        if staff_after is None and handoff and not said:
            # A transfer whose <Say> was not logged: the person speaks after everything logged.
            staff_after = len(lines) - 1
        return cls(tuple(lines), tuple(between), tuple(turns), staff_after)

    @property
    def empty(self) -> bool:
        return not self.lines and not self.caller_turns


@dataclass
class _Progress:
    """Where the log stands on the recording, window after window."""

    log: CallLog
    next_line: int = 0
    placed: list[Placed] = field(default_factory=list)  # absolute times
    last_end: float = 0.0
    staff_from: float | None = None

    def __post_init__(self) -> None:
        if self.log.staff_after == -1:
            self.staff_from = 0.0

    def take(self, placed: Iterable[Placed], consumed: int, offset_s: float) -> None:
        staff_after = self.log.staff_after
        for p in placed:
            index = self.next_line + p.index
            absolute = Placed(index, round(offset_s + p.start, 2), round(offset_s + p.end, 2))
            self.placed.append(absolute)
            if staff_after is not None and self.staff_from is None and index >= staff_after:
                self.staff_from = absolute.end if index == staff_after else self.last_end
            self.last_end = absolute.end
        self.next_line += consumed
        if staff_after is not None and self.staff_from is None and self.next_line > staff_after:
            self.staff_from = self.last_end  # the transfer line was not heard: staff from the last line heard


def transcribe_with_log(transcriber: Transcriber, windows: Iterable[AudioWindow], prompt: str,
                        log: CallLog) -> list[Segment]:
    """The call's segments in time order (see the module's docstring). One window in memory at a time."""
    progress = _Progress(log)
    caller: list[Segment] = []
    other: list[Segment] = []
    for window in windows:
        heard: list[Segment] = []
        for speaker, samples in window.channels.items():  # the caller's channel first
            if speaker == CALLER:
                heard = _whisper(transcriber, samples, prompt, window.offset_s, CALLER)
                caller.extend(heard)
                continue
            stretches = speech_stretches(samples)
            pending = log.lines[progress.next_line:]
            alignment = align(pending, stretches, caller_between=log.caller_between[progress.next_line:],
                              caller_speech=[(s.start - window.offset_s, s.end - window.offset_s) for s in heard],
                              final=False)
            first_line = progress.next_line
            progress.take(alignment.placed, alignment.consumed, window.offset_s)
            other.extend(Segment(RECEPTIONIST, p.start, p.end, log.lines[p.index])
                         for p in progress.placed if p.index >= first_line)
            for clip_start, clip_end in _clips(alignment.uncovered, alignment.placed, len(samples) / SAMPLE_RATE):
                clip = samples[int(clip_start * SAMPLE_RATE):int(clip_end * SAMPLE_RATE)]
                for segment in _whisper(transcriber, clip, prompt, window.offset_s + clip_start, RECEPTIONIST):
                    if progress.staff_from is not None and segment.start >= progress.staff_from - TURN_SLACK_S:
                        segment = Segment(STAFF, segment.start, segment.end, segment.text)
                    other.append(segment)
    caller = with_live_text(caller, log.caller_turns, progress.placed, until=progress.staff_from)
    merged = caller + other
    merged.sort(key=lambda s: (s.start, s.end))
    return merged


def _whisper(transcriber: Transcriber, samples, prompt: str, offset_s: float, speaker: str) -> list[Segment]:
    return [Segment(speaker, round(offset_s + float(start), 2), round(offset_s + float(end), 2), text)
            for start, end, text in transcriber.transcribe_channel(samples, prompt)]


def _clips(uncovered: Sequence[Stretch], placed: Sequence[Placed], length_s: float) -> list[tuple[float, float]]:
    """The uncovered speech as clips for Whisper: consecutive uncovered stretches (no line placed
    between them) make one clip, padded, never reaching into a placed line."""
    clips: list[tuple[float, float]] = []
    groups: list[list[Stretch]] = []
    for stretch in uncovered:
        if groups and not any(groups[-1][-1].end <= p.start < stretch.start for p in placed):
            groups[-1].append(stretch)
        else:
            groups.append([stretch])
    for group in groups:
        start, end = group[0].start, group[-1].end
        before = max((p.end for p in placed if p.end <= start), default=0.0)
        after = min((p.start for p in placed if p.start >= end), default=length_s)
        clips.append((max(before, start - CLIP_PAD_S, 0.0), min(after, end + CLIP_PAD_S, length_s)))
    return clips


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def with_live_text(caller: list[Segment], turns: Sequence[CallerTurn], placed: Sequence[Placed], *,
                   until: float | None = None) -> list[Segment]:
    """The caller's segments, those of one live turn (what the caller said between two receptionist
    lines) joined into one segment, with the live transcription beside it where the two disagree,
    and standing in for Whisper's where Whisper heard nothing of the turn.

    Nothing after `until` (the transfer: the relay heard nothing from there on) belongs to a live
    turn, and with no receptionist line placed at all nothing says where a turn was: then the
    segments are left as Whisper made them."""
    if not turns or not placed:
        return caller
    by_index = {p.index: p for p in placed}
    groups: list[tuple[float, float, str]] = []  # (from, until, live text) per run of turns between two lines
    for after in sorted({t.after for t in turns}):
        live = " ".join(t.text for t in turns if t.after == after)
        before_line = max((p for i, p in by_index.items() if i < after), key=lambda p: p.index, default=None)
        after_line = min((p for i, p in by_index.items() if i >= after), key=lambda p: p.index, default=None)
        high = after_line.start if after_line else float("inf")
        if until is not None:
            high = min(high, until)
        groups.append((before_line.end if before_line else float("-inf"), high, live))
    out: list[Segment] = []
    remaining = sorted(caller, key=lambda s: s.start)
    position = 0
    for low, high, live in groups:
        members = []
        while position < len(remaining):
            segment = remaining[position]
            middle = (segment.start + segment.end) / 2
            if middle < low - TURN_SLACK_S:
                out.append(segment)  # before this turn's place: speech the log did not hear
                position += 1
                continue
            if middle > high + TURN_SLACK_S:
                break
            members.append(segment)
            position += 1
        if not members:
            # Whisper heard nothing where the relay heard the caller (a short name on a noisy line,
            # say): the live hearing stands in, between the lines it came between, so the record
            # keeps what the caller said. Its `live_text` says whose hearing it is.
            if low != float("-inf"):
                spoken = max(MIN_LIVE_S, SECONDS_PER_WORD * len(live.split()))
                out.append(Segment(CALLER, round(low, 2), round(min(high, low + spoken), 2), live, live_text=live))
            continue
        text = " ".join(s.text for s in members)
        out.append(Segment(CALLER, members[0].start, members[-1].end, text,
                           live_text=live if _normal(live) != _normal(text) else None))
    out.extend(remaining[position:])
    return out
