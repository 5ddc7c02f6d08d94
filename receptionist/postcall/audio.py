"""Decoding call recordings into per-speaker sample arrays for Whisper, in bounded memory.

A recording is read from its file by an ffmpeg subprocess (the decoder pydub drives) that streams
its samples back, resampled to 16 kHz window by window as pydub resampled whole files; it is handed to Whisper a window at a time, so memory stays the
same for a one-minute call and for Twilio's four-hour maximum (`bench/long_call.py` measures it).
A window ends at the quietest moment near its end, so a word is not cut in two.
"""

from __future__ import annotations

import audioop  # pydub's resampler (audioop.ratecv), so Whisper hears what it heard before
import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydub.utils import get_encoder_name, get_prober_name

WHISPER_RATE = 16_000
# Twilio's dual-channel recording puts the inbound track (what the caller says) on the first
# channel and the outbound track (what the receptionist says) on the second.
CHANNEL_SPEAKERS = ("caller", "receptionist")
# Five minutes at 16 kHz is about 20 MB of samples per channel: the working set of one window.
WINDOW_S = 300.0
# A window is cut at the quietest tenth of a second in its last seconds (both channels together).
CUT_SEARCH_S = 10.0
CUT_FRAME_S = 0.1

# What a downloaded recording may weigh, from the duration Twilio reported: its WAV media is
# 16-bit PCM at 8 kHz per channel (the stand-in serves the same, see docs/twilio.md), two
# channels at most. A call lasts at most four hours (the Call resource's `TimeLimit` default,
# https://www.twilio.com/docs/voice/api/call-resource), the limit when no duration came.
WAV_BYTES_PER_SECOND = 8_000 * 2 * 2
MAX_CALL_S = 4 * 3600


def download_limit(duration_s: int | None) -> int:
    """The most bytes a recording reported as `duration_s` long can be, with room for rounding
    and headers; beyond it the download is refused."""
    seconds = duration_s if duration_s and duration_s > 0 else MAX_CALL_S
    return int(WAV_BYTES_PER_SECOND * (min(seconds, MAX_CALL_S) * 1.25 + 30)) + (1 << 20)


class BadRecording(Exception):
    """The recording cannot be used: empty, truncated or not audio. Retrying will not help."""


@dataclass(frozen=True)
class AudioWindow:
    offset_s: float  # where the window starts in the recording
    channels: dict[str, np.ndarray]  # speaker → float32 mono samples at 16 kHz


class RecordingAudio:
    """A recording file, probed, to be decoded window by window (`windows()`, once)."""

    def __init__(self, path: Path, window_s: float = WINDOW_S):
        self.path = Path(path)
        self.window_s = window_s
        if not self.path.exists() or self.path.stat().st_size == 0:
            raise BadRecording("the recording is empty (0 bytes)")
        self.channels, self.rate = _probe_channels(self.path)
        self.decoded_s = 0.0  # how much audio the windows so far held

    @property
    def speakers(self) -> tuple[str, ...]:
        # A mono recording cannot tell speakers apart: it is all the caller's.
        return ("caller",) if self.channels == 1 else CHANNEL_SPEAKERS[: self.channels]

    def windows(self) -> Iterator[AudioWindow]:
        """The recording as consecutive windows; BadRecording when ffmpeg cannot decode it."""
        frame_bytes = 2 * self.channels
        window_frames = int(self.window_s * self.rate)
        resampled = None  # audioop's resampler state, carried across windows (the one pydub used whole)
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [get_encoder_name(), "-nostdin", "-v", "error", "-i", str(self.path), "-map", "0:a:0",
                 "-f", "s16le", "-acodec", "pcm_s16le", "-ac", str(self.channels), "pipe:1"],
                stdout=subprocess.PIPE, stderr=errors)
            try:
                carry = np.zeros((0, self.channels), dtype=np.int16)
                offset = 0
                while True:
                    data = _read_exactly(process.stdout, (window_frames - len(carry)) * frame_bytes)
                    data = data[: len(data) - len(data) % frame_bytes]
                    frames = np.concatenate([carry, np.frombuffer(data, dtype=np.int16).reshape(-1, self.channels)])
                    last = len(frames) < window_frames
                    cut = len(frames) if last else _quiet_cut(frames, self.rate)
                    if cut:
                        self.decoded_s = (offset + cut) / self.rate
                        pcm, resampled = audioop.ratecv(frames[:cut].tobytes(), 2, self.channels, self.rate,
                                                        WHISPER_RATE, resampled)
                        samples = np.frombuffer(pcm, dtype=np.int16).reshape(-1, self.channels)
                        yield AudioWindow(offset / self.rate, {
                            speaker: samples[:, i].astype(np.float32) / 32768.0
                            for i, speaker in enumerate(self.speakers)})
                    if last:
                        break
                    carry, offset = frames[cut:].copy(), offset + cut
                    del frames, data
                code = process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                process.stdout.close()
            errors.seek(0)
            detail = errors.read().decode(errors="replace").replace(str(self.path), "the file").strip()[-300:]
        if code != 0 and self.decoded_s == 0:
            raise BadRecording(f"the recording could not be decoded: {detail or f'ffmpeg exited with {code}'}")
        if self.decoded_s == 0:
            raise BadRecording("the recording holds no audio")


def _probe_channels(path: Path) -> tuple[int, int]:
    result = subprocess.run(
        [get_prober_name(), "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels,sample_rate",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    try:
        streams = json.loads(result.stdout or "{}").get("streams") or []
        channels, rate = int(streams[0]["channels"]), int(streams[0]["sample_rate"])
    except (ValueError, KeyError, IndexError, TypeError):
        detail = (result.stderr or "").replace(str(path), "the file").strip()[-300:] or "no audio stream"
        raise BadRecording(f"the recording could not be decoded as audio: {detail}") from None
    if channels < 1 or rate < 1:
        raise BadRecording("the recording has no audio channel")
    return min(channels, len(CHANNEL_SPEAKERS)), rate


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _quiet_cut(frames: np.ndarray, rate: int) -> int:
    """Where to end a full window: the start of its quietest short frame near the end."""
    frame = int(CUT_FRAME_S * rate)
    search = min(int(CUT_SEARCH_S * rate), len(frames) // 2) // frame * frame
    tail = np.abs(frames[len(frames) - search:].astype(np.int32)).sum(axis=1)
    energy = tail.reshape(-1, frame).sum(axis=1)
    return len(frames) - search + int(np.argmin(energy)) * frame
