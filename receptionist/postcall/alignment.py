"""Where the receptionist's known lines were spoken: its words, placed on the recording's timeline.

The product wrote every word the receptionist said (the relay's replies as heard, the welcome
greeting, the TwiML `<Say>` lines), so the second channel needs no speech-to-text to know *what*
was said, only *when*. Voice activity detection (Silero, as faster-whisper ships it) finds the
stretches of speech on that channel; the lines, in the order they were spoken, are then assigned
to those stretches by a dynamic programme that compares each line's expected speaking time
(characters at the call's own speaking rate, fitted in a second pass) with the stretches' length.
A line may take several stretches (a pause between its sentences), a few lines one stretch
(spoken back to back); a stretch no line explains (the staff member after a transfer, words the
log never saw) is left *uncovered*, for Whisper, and a line no speech explains is left unplaced.

`bench/alignment.py` measures the error on synthetic calls (espeak-ng speech of known lines).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
# Silero VAD, tuned for a channel that holds one side of a conversation: a pause of this length
# ends a stretch (the other party's shortest answers leave about this much silence on this side),
# and each stretch is padded this much (the VAD trims a word's soft edges).
MIN_SILENCE_MS = 300
SPEECH_PAD_MS = 100
# A text-to-speech voice speaks about this many characters a second (espeak-ng at 170 wpm: 15-19;
# Amazon Polly and ElevenLabs at their defaults are in the same range); only the first pass uses it.
DEFAULT_CHARS_PER_S = 15.0
MIN_CHARS_PER_S, MAX_CHARS_PER_S = 6.0, 30.0
# The dynamic programme's costs (in units of one badly timed line).
MISMATCH_WEIGHT = 5.0  # per unit of |log(spoken / expected)|
MERGE_COST = 0.4  # per extra line in one stretch run (lines spoken back to back)
MERGE_ACROSS_CALLER_COST = 2.5  # … when the caller spoke between them (their silence should split)
SPLIT_COST = 0.15  # per extra stretch a line takes (a pause between its sentences)
LONG_PAUSE_S = 1.5  # a pause inside one line longer than this costs, per second beyond it
SKIP_STRETCH_COST = 1.2  # plus per second: speech no line explains
SKIP_STRETCH_PER_S = 0.3
# … more while lines are still to be placed: the log's lines come as soon as they can; what no line
# explains mostly comes after them (the person a call was transferred to, a message's end).
SKIP_BEFORE_LINES_COST = 1.5
SKIP_LINE_COST = 2.5  # a line no speech explains (cut to nothing, spoken over, not recorded)
# The caller's channel agrees with the log or not. A line the log says came after the caller spoke
# follows caller speech on the recording (the relay heard it, so the recording has it): strong.
# One that did not should follow none, but a caller's "mm-hm" the relay ignored, or a word Whisper
# made up in a silence, is caller speech too: weak.
CALLER_MISSING_COST = 2.5
CALLER_UNEXPECTED_COST = 0.5
MAX_LINES_PER_MATCH = 3
MAX_STRETCHES_PER_LINE = 6


@dataclass(frozen=True)
class Stretch:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Placed:
    index: int  # the line's index in the lines given
    start: float
    end: float


@dataclass(frozen=True)
class Alignment:
    placed: tuple[Placed, ...]  # the lines found on the timeline, in order
    uncovered: tuple[Stretch, ...]  # speech no line explains
    consumed: int  # how many of the lines (from the first) this alignment accounts for
    chars_per_s: float  # the speaking rate it fitted


def speech_stretches(samples: np.ndarray, *, min_silence_ms: int = MIN_SILENCE_MS,
                     speech_pad_ms: int = SPEECH_PAD_MS) -> list[Stretch]:
    """Where `samples` (float32, 16 kHz, one channel) hold speech, by Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if samples.size == 0:
        return []
    found = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=min_silence_ms,
                                                      speech_pad_ms=speech_pad_ms))
    return [Stretch(round(s["start"] / SAMPLE_RATE, 3), round(s["end"] / SAMPLE_RATE, 3)) for s in found]


# A digit is read as a word ("312-555-0199": "three one two …"), about this many letters long.
DIGIT_CHARS = 4


def _speakable(text: str) -> int:
    """Characters that take speaking time (letters, digits as the words they are read as, and a
    word's break)."""
    return (sum(DIGIT_CHARS if c.isdigit() else 1 for c in text if c.isalnum()) + len(text.split())
            + sum(1 for c in text if c.isdigit()))


def align(lines: Sequence[str], stretches: Sequence[Stretch], *, caller_between: Sequence[bool] = (),
          caller_speech: Sequence[tuple[float, float]] | None = None, final: bool = True,
          chars_per_s: float | None = None) -> Alignment:
    """Assign `lines` (in spoken order) to `stretches` (in time order).

    `caller_between[i]` says the caller spoke between line i-1 and line i (so their silence should
    separate them on this channel); `caller_speech`, where the caller's channel holds speech (same
    timeline), checks it against the recording. With `final` False the stretches are only part of
    the call (one window of a long recording): the lines after those it explains are left for the
    next part.
    """
    if not lines:
        return Alignment((), tuple(stretches), 0, chars_per_s or DEFAULT_CHARS_PER_S)
    if chars_per_s is None:
        # The first pass at a text-to-speech voice's usual rate (not the channel's speech over the
        # lines' characters: speech no line explains would skew it), the second at the rate fitted.
        first = _solve(lines, stretches, caller_between, caller_speech, final, DEFAULT_CHARS_PER_S)
        chars_per_s = _fitted_rate(lines, first) or DEFAULT_CHARS_PER_S
    return _solve(lines, stretches, caller_between, caller_speech, final, chars_per_s)


def _fitted_rate(lines: Sequence[str], alignment: Alignment) -> float | None:
    """The speaking rate of the lines as the first pass placed them (None when too little was placed)."""
    chars = sum(_speakable(lines[p.index]) for p in alignment.placed)
    seconds = sum(p.end - p.start for p in alignment.placed)
    if chars < 40 or seconds <= 0:
        return None
    return min(MAX_CHARS_PER_S, max(MIN_CHARS_PER_S, chars / seconds))


def _caller_before(stretches: Sequence[Stretch], caller_speech: Sequence[tuple[float, float]]) -> list[bool]:
    """For each stretch: whether the caller spoke since the stretch before it ended."""
    before = []
    for j, stretch in enumerate(stretches):
        since = stretches[j - 1].end if j else float("-inf")
        before.append(any(since < (start + end) / 2 < stretch.start for start, end in caller_speech))
    return before


def _solve(lines: Sequence[str], stretches: Sequence[Stretch], caller_between: Sequence[bool],
           caller_speech: Sequence[tuple[float, float]] | None, final: bool, rate: float) -> Alignment:
    n, m = len(lines), len(stretches)
    expected = [max(0.3, _speakable(t) / rate) for t in lines]
    between = [bool(caller_between[i]) if i < len(caller_between) else False for i in range(n)]
    spoke_before = _caller_before(stretches, caller_speech) if caller_speech is not None else None
    inf = math.inf
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, str] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            if j < m:  # speech no line explains
                c = (here + SKIP_STRETCH_COST + SKIP_STRETCH_PER_S * stretches[j].seconds
                     + (SKIP_BEFORE_LINES_COST if i < n else 0.0))
                if c < cost[i][j + 1]:
                    cost[i][j + 1], back[i][j + 1] = c, (i, j, "skip-stretch")
            if i < n:  # a line no speech explains
                c = here + SKIP_LINE_COST
                if c < cost[i + 1][j]:
                    cost[i + 1][j], back[i + 1][j] = c, (i, j, "skip-line")
            if i == n or j == m:
                continue
            cue = 0.0
            if spoke_before is not None and i > 0 and spoke_before[j] != between[i]:
                cue = CALLER_MISSING_COST if between[i] else CALLER_UNEXPECTED_COST
            want, merge = 0.0, 0.0
            for a in range(1, min(MAX_LINES_PER_MATCH, n - i) + 1):
                want += expected[i + a - 1]
                if a > 1:
                    merge += MERGE_ACROSS_CALLER_COST if between[i + a - 1] else MERGE_COST
                base = here + cue + merge
                pauses = 0.0
                for b in range(1, min(MAX_STRETCHES_PER_LINE * a, m - j) + 1):
                    last = stretches[j + b - 1]
                    if b > 1:
                        pauses += max(0.0, last.start - stretches[j + b - 2].end - LONG_PAUSE_S)
                    span = last.end - stretches[j].start
                    c = (base + MISMATCH_WEIGHT * abs(math.log(max(span, 0.05) / want)) + SPLIT_COST * (b - 1)
                         + pauses)
                    if c < cost[i + a][j + b]:
                        cost[i + a][j + b], back[i + a][j + b] = c, (i, j, "match")
                    if span > 3 * want + 2 * LONG_PAUSE_S:
                        break
    end_i = n if final else min(range(n + 1), key=lambda k: (cost[k][m], -k))
    placed: list[Placed] = []
    uncovered: list[Stretch] = []
    i, j = end_i, m
    while (i, j) != (0, 0):
        pi, pj, kind = back[i][j]
        if kind == "skip-stretch":
            uncovered.append(stretches[pj])
        elif kind == "match":
            placed.extend(reversed(_share(stretches[pj:j], expected[pi:i], pi)))
        i, j = pi, pj
    placed.reverse()
    uncovered.reverse()
    return Alignment(tuple(placed), tuple(uncovered), end_i, rate)


def _share(run: Sequence[Stretch], expected: Sequence[float], first: int) -> list[Placed]:
    """Lines spoken back to back over `run`: the span shared in proportion to their expected
    length, each cut moved to the pause between two stretches nearest it (when one is near)."""
    start, end = run[0].start, run[-1].end
    total = sum(expected)
    pauses = [(prev.end, nxt.start) for prev, nxt in zip(run, run[1:])]
    placed: list[Placed] = []
    at, elapsed = start, 0.0
    for k, seconds in enumerate(expected):
        elapsed += seconds
        if k == len(expected) - 1:
            cut_end, next_start = end, end
        else:
            cut = start + (end - start) * elapsed / total
            near = min(pauses, key=lambda p: abs((p[0] + p[1]) / 2 - cut), default=None)
            if near is not None and abs((near[0] + near[1]) / 2 - cut) <= 1.0 and near[0] > at:
                cut_end, next_start = near
            else:
                cut_end = next_start = cut
        placed.append(Placed(first + k, round(at, 2), round(cut_end, 2)))
        at = next_start
    return placed
