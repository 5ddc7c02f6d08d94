"""Synthetic phone calls made of real (espeak-ng) speech, shaped like Twilio recordings.

A dual-channel Twilio call recording is 8 kHz, 16-bit PCM WAV with the caller (inbound leg) on
channel 0 / left and our side (outbound leg) on channel 1 / right; each channel is silent while
the other party talks. After a transfer (`<Dial>`), our side carries the person the call was
transferred to: the `staff` speaker, on channel 1 in a voice of their own. The audio went through the phone network as G.711 mu-law, so the finished
file is passed once through mu-law and back to carry the same quantisation.

Needs `espeak-ng` and `sox` on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from types import MappingProxyType

import numpy as np

SAMPLE_RATE = 8000
CALLER = "caller"
RECEPTIONIST = "receptionist"
STAFF = "staff"


@dataclass(frozen=True)
class Voice:
    """espeak-ng settings: voice name (with optional +variant), pitch 0-99, words per minute."""

    name: str
    pitch: int
    speed_wpm: int


CALLER_VOICE = Voice("en-us", pitch=38, speed_wpm=160)
RECEPTIONIST_VOICE = Voice("en-gb+f3", pitch=62, speed_wpm=170)
STAFF_VOICE = Voice("en-us+m3", pitch=30, speed_wpm=175)

# speaker -> (channel, voice); read-only so no caller can change it for everyone else.
SPEAKERS = MappingProxyType({CALLER: (0, CALLER_VOICE), RECEPTIONIST: (1, RECEPTIONIST_VOICE),
                             STAFF: (1, STAFF_VOICE)})


@dataclass(frozen=True)
class TimedTurn:
    speaker: str
    text: str
    start_s: float
    end_s: float

    @property
    def channel(self) -> int:
        return SPEAKERS[self.speaker][0]


@dataclass(frozen=True)
class CallAudio:
    """A synthesized call recording and where each turn sits in it."""

    path: Path
    duration_s: float
    turns: tuple[TimedTurn, ...]
    sample_rate: int = SAMPLE_RATE
    channels: int = 2


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"`{name}` not found on PATH; install it (e.g. `apt-get install {name}`)")
    return found


def _run(argv: Sequence[str], text_input: str | None = None) -> None:
    result = subprocess.run(argv, input=text_input, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed (exit {result.returncode}): {result.stderr.strip()}")


def _speak(text: str, voice: Voice, workdir: Path, stem: str) -> np.ndarray:
    """`text` spoken by `voice` as mono 8 kHz int16 samples."""
    raw = workdir / f"{stem}.raw.wav"
    narrow = workdir / f"{stem}.8k.wav"
    # --stdin keeps text that starts with "-" from being read as an option.
    espeak = [_tool("espeak-ng"), "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed_wpm)]
    _run([*espeak, "-w", str(raw), "--stdin"], text_input=text)
    # -D: no dither, so silence stays digital zero (tests rely on silent channels being silent).
    sox = [_tool("sox"), "-D", str(raw)]
    _run([*sox, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(narrow)])
    with wave.open(str(narrow)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()


def _write_wav(path: Path, samples: np.ndarray) -> None:
    """Write int16 samples shaped (frames,) or (frames, channels) as PCM WAV."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(frames.astype("<i2").tobytes())


def _through_mu_law(pcm: Path, out_path: Path, workdir: Path) -> None:
    """Quantise like a G.711 phone line: 16-bit -> 8-bit mu-law -> 16-bit PCM."""
    mu_law = workdir / "line.mulaw.wav"
    _run([_tool("sox"), "-D", str(pcm), "-e", "mu-law", "-b", "8", str(mu_law)])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool("sox"), "-D", str(mu_law), "-e", "signed-integer", "-b", "16", str(out_path)])


def synthesize_speech(text: str, out_path: Path, voice: Voice | str = CALLER_VOICE) -> Path:
    """`text` as a mono 8 kHz mu-law-quantised 16-bit WAV at `out_path`.

    `voice` is a Voice, a speaker name ("caller", "receptionist"), or an espeak-ng voice name.
    """
    if isinstance(voice, str):
        voice = SPEAKERS[voice][1] if voice in SPEAKERS else Voice(voice, pitch=50, speed_wpm=165)
    with tempfile.TemporaryDirectory(prefix="receptionist-speech-") as tmp:
        workdir = Path(tmp)
        pcm = workdir / "speech.wav"
        _write_wav(pcm, _speak(text, voice, workdir, "speech"))
        _through_mu_law(pcm, Path(out_path), workdir)
    return Path(out_path)


def synthesize_call(
    turns: list[tuple[str, str]], out_path: Path, gap_s: float = 0.6, lead_in_s: float = 0.5
) -> CallAudio:
    """Speak `turns` ((speaker, text), speaker "caller", "receptionist" or "staff") into a dual-channel call.

    Turns follow each other with `gap_s` of silence; the call opens and ends with `lead_in_s`.
    """
    unknown = {speaker for speaker, _ in turns} - set(SPEAKERS)
    if unknown:
        raise ValueError(f"unknown speaker(s) {sorted(unknown)}; use {sorted(SPEAKERS)}")
    gap = round(gap_s * SAMPLE_RATE)
    lead = round(lead_in_s * SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix="receptionist-call-") as tmp:
        workdir = Path(tmp)
        spoken = [
            _speak(text, SPEAKERS[speaker][1], workdir, f"turn{i:03d}") for i, (speaker, text) in enumerate(turns)
        ]

        # Sample offsets, not float seconds, so timings add up exactly to the file length.
        placed: list[TimedTurn] = []
        position = lead
        offsets: list[int] = []
        for (speaker, text), samples in zip(turns, spoken):
            offsets.append(position)
            placed.append(TimedTurn(speaker, text, position / SAMPLE_RATE, (position + len(samples)) / SAMPLE_RATE))
            position += len(samples) + gap
        total = (position - gap if turns else position) + lead

        stereo = np.zeros((total, 2), dtype=np.int16)
        for (speaker, _), samples, offset in zip(turns, spoken, offsets):
            stereo[offset : offset + len(samples), SPEAKERS[speaker][0]] = samples

        pcm = workdir / "call.pcm.wav"
        _write_wav(pcm, stereo)
        _through_mu_law(pcm, Path(out_path), workdir)
    return CallAudio(path=Path(out_path), duration_s=total / SAMPLE_RATE, turns=tuple(placed))


# -- a realistic after-hours plumbing call, for demos and benchmarks -----------------------------

_OPENING: tuple[tuple[str, str], ...] = (
    (RECEPTIONIST, "Thank you for calling Rivera Plumbing, this is the after hours line. How can I help you today?"),
    (CALLER, "Hi. My water heater is leaking, there is water all over the basement floor. I need someone tonight."),
    (RECEPTIONIST, "I'm sorry to hear that. Let's get someone out to you. Can I have your full name, please?"),
    (CALLER, "It's Dana Whitaker. That is Dana, D A N A, and Whitaker, W H I T A K E R."),
    (RECEPTIONIST, "Thank you, Dana. What is the best number to call you back on?"),
    (CALLER, "You can reach me at five five five, two one four, eight eight three zero. It's my cell phone."),
    (RECEPTIONIST, "And what is the address where the water heater is?"),
    (CALLER, "Forty two Maple Grove Road, in Springfield. It's the blue house on the corner."),
    (RECEPTIONIST, "How urgent is this for you? Would you like someone tonight, or is first thing tomorrow okay?"),
    (CALLER, "Tonight if at all possible. I'm worried the water will reach the furnace and the boxes down there."),
)

# Follow-up exchanges a real call drifts into; cycled to stretch a call to any length.
_FOLLOW_UPS: tuple[tuple[str, str], ...] = (
    (RECEPTIONIST, "Let me read the number back. Five five five, two one four, eight eight three zero. Is that right?"),
    (CALLER, "Yes, that's right."),
    (RECEPTIONIST, "Is the water still leaking right now?"),
    (CALLER, "It is. It's dripping steadily from the bottom of the tank, and the puddle keeps getting bigger."),
    (RECEPTIONIST, "Do you know where the cold water shut off valve is, on the pipe above the heater?"),
    (CALLER, "I think so. There's a handle on the pipe going into the top. I'll turn it off after this call."),
    (RECEPTIONIST, "Good. Is the heater gas or electric, and do you know roughly how old it is?"),
    (CALLER, "It's gas. It came with the house, so it must be at least twelve years old."),
    (RECEPTIONIST, "Is there anything the plumber should know before arriving, like pets or a gate code?"),
    (CALLER, "We have a friendly dog in the back yard. The side gate code is one nine seven three."),
    (RECEPTIONIST, "Has anything like this happened before, or has the heater been serviced recently?"),
    (CALLER, "No, never. Nobody has looked at it since we moved in, which was about five years ago."),
    (RECEPTIONIST, "Is anyone in the house who needs hot water for medical reasons, or small children?"),
    (CALLER, "Just me and my husband. We can manage without hot water for a night if we have to."),
)

_CLOSING: tuple[tuple[str, str], ...] = (
    (RECEPTIONIST, "I've marked this as urgent. The on call plumber will call you back within thirty minutes."),
    (CALLER, "Thank you so much. Please have them call my cell. Bye."),
)

# Seconds of audio per word for the voices above, including the silence espeak-ng puts around
# each utterance; measured on this script (espeak-ng 1.51). Only used to size long_call_turns.
_SECONDS_PER_WORD = MappingProxyType({CALLER: 0.34, RECEPTIONIST: 0.31})


def _estimated_seconds(turn: tuple[str, str], gap_s: float) -> float:
    speaker, text = turn
    return len(text.split()) * _SECONDS_PER_WORD[speaker] + gap_s


def _body_exchanges() -> Iterator[tuple[tuple[str, str], tuple[str, str]]]:
    """(receptionist asks, caller answers) pairs: the opening once, then follow-ups forever."""
    turns = iter(_OPENING)
    yield from zip(turns, turns)
    follow_ups = cycle(_FOLLOW_UPS)
    yield from zip(follow_ups, follow_ups)


def long_call_turns(target_seconds: float, gap_s: float = 0.6, lead_in_s: float = 0.5) -> list[tuple[str, str]]:
    """A deterministic plumber/receptionist call lasting about `target_seconds` once synthesized.

    The caller states the problem (a leaking water heater) and that it is urgent in the first
    exchange, then name, callback number and address (all within ~60 s); longer calls add an
    explicit urgency question, then cycle through follow-up questions. Every call ends with a
    goodbye; the shortest is the first exchange plus the goodbye (about 25 s).
    """
    closing = sum(_estimated_seconds(turn, gap_s) for turn in _CLOSING)
    budget = target_seconds - 2 * lead_in_s - closing + gap_s  # no gap after the last turn
    turns: list[tuple[str, str]] = []
    elapsed = 0.0
    for exchange in _body_exchanges():
        length = sum(_estimated_seconds(turn, gap_s) for turn in exchange)
        # Whole exchanges only, so the call never ends on an unanswered question; take this one
        # if that lands nearer the target than stopping short.
        if turns and elapsed + length / 2 > budget:
            break
        turns.extend(exchange)
        elapsed += length
    return turns + list(_CLOSING)
