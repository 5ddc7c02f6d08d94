"""Speech to text with faster-whisper, one channel per speaker, merged in time order."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from receptionist.postcall.audio import AudioWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    speaker: str
    start: float
    end: float
    text: str
    # On a caller segment: what the relay's live speech-to-text heard of the same utterance, where
    # it differs from Whisper's words (postcall.transcript).
    live_text: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def vocabulary_prompt(business_name: str, business: dict | None) -> str:
    """Business words Whisper would otherwise mishear (names, services, towns), as its initial prompt.

    One plain sentence, as if it were the transcript before the call ("A phone call to Acme Plumbing
    about water heater repair, drain cleaning in Springfield."): measured with tiny.en on real speech and
    on synthetic calls naming unusual businesses (`bench/accuracy.py`), it keeps every name the word
    list ("A phone call to Acme Plumbing. water heater repair, drain cleaning, Springfield.") got right
    (3 of 3; 0 of 3 without a prompt), and on real speech, where the caller talks of something else,
    it costs less: a caller WER of 0.103 against 0.118 for the list and 0.118 for bare faster-whisper.
    """
    business = business or {}
    services = [str(v) for v in business.get("services") or [] if str(v).strip()]
    areas = [str(v) for v in business.get("service_areas") or [] if str(v).strip()]
    name = (business_name or "").strip()
    if not (name or services or areas):
        return ""
    sentence = "A phone call" + (f" to {name}" if name else "")
    if services:
        sentence += " about " + ", ".join(services)
    if areas:
        sentence += " in " + ", ".join(areas)
    return sentence + "."


# A silence this long inside one channel ends an utterance (the other party usually speaks in it).
PAUSE_S = 0.8
# Shorter "utterances" are Whisper's filler at the edge of speech ("Thank you." in 80 ms), not words.
MIN_UTTERANCE_S = 0.2


def split_at_pauses(words, pause_s: float = PAUSE_S) -> list[tuple[float, float, str]]:
    """Group Whisper words (with .start, .end, .word) into utterances separated by pauses."""
    utterances: list[tuple[float, float, str]] = []
    current: list = []
    for word in words:
        if current and word.start - current[-1].end > pause_s:
            utterances.append(_join(current))
            current = []
        current.append(word)
    if current:
        utterances.append(_join(current))
    return [u for u in utterances if u[2] and u[1] - u[0] >= MIN_UTTERANCE_S]


def _join(words) -> tuple[float, float, str]:
    return words[0].start, words[-1].end, "".join(w.word for w in words).strip()


class Transcriber:
    """A loaded Whisper model. Load once per process: CTranslate2 is not fork-safe and loading is slow.

    Each channel goes through faster-whisper's batched pipeline (`BatchedInferencePipeline`): VAD
    cuts the channel into its stretches of speech, merged into chunks of at most 30 s, and every
    chunk is decoded with the business vocabulary as its prompt and beam search (5 beams). Measured
    with tiny.en int8 on 2 cores (`bench/transcribe.py`, README "Choosing a model"), against the
    sequential `WhisperModel.transcribe` with VAD that this replaced:

    - real recorded speech, caller side: the sequential pipeline (beam 1, the old word-list prompt)
      had a word error rate of 0.223 over the 184 words of ../shared/data/realspeech-dev, against
      0.120 for bare faster-whisper with its defaults on the same audio and model; the batched one,
      with `vocabulary_prompt`'s sentence, has 0.103 over 195 words (bench/data/realspeech-pypi
      added) against bare's 0.118.
      Sequentially the prompt conditions only the first 30 s window and, at the end of a short stretch
      of audio, invites hallucinated endings ("... is to be ill disposed. Thank you."), and windows
      that span several turns dropped whole phrases; each batched chunk is decoded on its own, prompt
      included, and ends where the speech ends.
    - synthetic calls naming unusual businesses (espeak-ng): 3 of 3 names right, against 2 of 3
      sequentially and 0 of 3 without the prompt.
    - speed: on a 60 s two-channel call on 2 cores, as fast as the sequential pipeline at the same
      beam (`bench/transcribe.py`); beam 1 would be faster but loses on real speech (0.136).
    """

    def __init__(self, model_path: str, compute_type: str = "int8", beam_size: int = 5, cpu_threads: int = 0,
                 pause_s: float = PAUSE_S, batch_size: int = 8):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        if beam_size < 1:
            raise ValueError(f"the beam size must be at least 1, not {beam_size}")
        if batch_size < 1:
            raise ValueError(f"the batch size must be at least 1, not {batch_size}")
        started = time.perf_counter()
        self.model = WhisperModel(model_path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)
        self.pipeline = BatchedInferencePipeline(self.model)
        self.beam_size = beam_size
        self.batch_size = batch_size
        self.pause_s = pause_s
        self.load_seconds = time.perf_counter() - started
        log.info("whisper model %s loaded in %.2fs", model_path, self.load_seconds)

    def transcribe_channel(self, samples: np.ndarray, prompt: str = "") -> list[tuple[float, float, str]]:
        segments, _info = self.pipeline.transcribe(
            samples,
            language="en",
            beam_size=self.beam_size,
            batch_size=self.batch_size,
            # The batched pipeline gives the prompt to every chunk (the sequential one only to the
            # first 30 s window when it does not condition on previous text).
            initial_prompt=prompt or None,
            # Each channel is mostly silence (the other party is talking): VAD skips it, which is
            # both faster and stops Whisper from inventing words in the gaps.
            vad_filter=True,
            # VAD glues the speech of one channel together, so one Whisper segment can span several
            # turns with the other party talking in between; word times let us cut it at the pauses
            # and keep the two speakers interleaved in time.
            word_timestamps=True,
        )
        utterances: list[tuple[float, float, str]] = []
        for segment in segments:
            utterances.extend(split_at_pauses(segment.words or [], self.pause_s))
        return utterances

    def transcribe_call(self, windows: Iterable[AudioWindow], prompt: str = "", log=None) -> list[Segment]:
        """Every channel of every window (`postcall.audio.RecordingAudio.windows()`), in time order.
        One window is in memory at a time, whatever the length of the call.

        With the call's `log` (`postcall.transcript.CallLog`) the receptionist's side comes from
        its own words and Whisper hears only what they do not explain; without it (the benchmark's
        baseline, `bench/post_call.py --baseline`) Whisper transcribes every channel."""
        return transcribe_call(self, windows, prompt, log)

    def transcribe_window(self, window: AudioWindow, prompt: str = "") -> list[Segment]:
        """Every channel of one window, on the recording's timeline."""
        segments: list[Segment] = []
        for speaker, samples in window.channels.items():
            for start, end, text in self.transcribe_channel(samples, prompt):
                segments.append(Segment(speaker, round(window.offset_s + start, 2),
                                        round(window.offset_s + end, 2), text))
        return segments


def transcribe_call(transcriber, windows: Iterable[AudioWindow], prompt: str = "", log=None) -> list[Segment]:
    """`Transcriber.transcribe_call` for anything with its `transcribe_channel` and
    `transcribe_window` (the model here, or in its own process: `postcall.transcriber_process`)."""
    if log is not None:
        from receptionist.postcall.transcript import transcribe_with_log

        return transcribe_with_log(transcriber, windows, prompt, log)
    merged: list[Segment] = []
    for window in windows:
        merged.extend(transcriber.transcribe_window(window, prompt))
    merged.sort(key=lambda s: (s.start, s.end))
    return merged
