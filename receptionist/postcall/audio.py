"""Decoding call recordings into per-speaker sample arrays for Whisper."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

WHISPER_RATE = 16_000
# Twilio's dual-channel recording puts the inbound track (what the caller says) on the first
# channel and the outbound track (what the receptionist says) on the second.
CHANNEL_SPEAKERS = ("caller", "receptionist")


class BadRecording(Exception):
    """The recording cannot be used: empty, truncated or not audio. Retrying will not help."""


@dataclass(frozen=True)
class DecodedCall:
    channels: dict[str, np.ndarray]  # speaker → float32 mono samples at 16 kHz
    duration_s: float


def decode_recording(data: bytes, fmt: str = "wav") -> DecodedCall:
    if not data:
        raise BadRecording("the recording is empty (0 bytes)")
    try:
        # pydub reads PCM WAV itself and hands other formats (mu-law WAV, MP3) to ffmpeg.
        segment = AudioSegment.from_file(io.BytesIO(data), format=fmt)
    except (CouldntDecodeError, IndexError, ValueError, EOFError) as exc:
        raise BadRecording(f"the recording could not be decoded as {fmt}: {str(exc).strip()[:300]}") from exc
    except Exception as exc:  # wave.Error and friends from a malformed header
        if type(exc).__module__ in ("wave", "audioop") or "wav" in str(exc).lower():
            raise BadRecording(f"the recording could not be decoded as {fmt}: {exc}") from exc
        raise
    if len(segment) == 0 or segment.frame_count() == 0:
        raise BadRecording("the recording holds no audio")
    segment = segment.set_sample_width(2).set_frame_rate(WHISPER_RATE)
    monos = segment.split_to_mono()
    if len(monos) == 1:
        channels = {"caller": _to_float(monos[0])}  # a mono recording cannot tell speakers apart
    else:
        channels = {speaker: _to_float(mono) for speaker, mono in zip(CHANNEL_SPEAKERS, monos)}
    return DecodedCall(channels=channels, duration_s=len(segment) / 1000.0)


def _to_float(mono: AudioSegment) -> np.ndarray:
    samples = np.frombuffer(mono.raw_data, dtype=np.int16)
    return samples.astype(np.float32) / 32768.0
