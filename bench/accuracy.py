"""How accurate the caller's transcript is: on real recorded speech and on synthetic calls naming businesses.

Two sets, shared by `bench/transcribe.py`, `bench/models.py` and `tests/postcall/test_accuracy.py`:

- **Real speech**: `../shared/data/realspeech-dev/` (or `RECEPTIONIST_REALSPEECH_DIR`), real recorded
  human speech from public repositories at 8 kHz mu-law, as mono clips and two-channel calls (caller on
  the first channel), with reference transcripts and their sources in its `manifest.json` (today all from
  cmusphinx/pocketsphinx at commit 511126b4: a LibriVox reading of *Sense and Sensibility* and a speaker
  naming playing cards). Beside it, `bench/data/realspeech-pypi/`: two more clips ("go forward ten
  meters", "feels like these days go on forever") from the pocketsphinx 5.1.1 source distribution on
  PyPI, their sources in its manifest (`bench/realspeech_pypi.py` rebuilds it). The caller's side of
  every clip and call is scored.
- **Business names**: calls synthesized with espeak-ng (`sandbox.speech`) in which the caller names an
  unusual business, its service and its town: what the vocabulary prompt is for.

Word error rate is jiwer's, after lowercasing and stripping punctuation on both sides (the manifest's
`reference_normalized`); nothing else is normalised, so "10" for "ten" counts as an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from bench.common import ACCOUNT
from receptionist.postcall.audio import RecordingAudio
from receptionist.postcall.transcription import Transcriber, split_at_pauses, vocabulary_prompt
from sandbox.speech import synthesize_call

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REALSPEECH_DIR = REPO.parent / "shared" / "data" / "realspeech-dev"
PYPI_REALSPEECH_DIR = REPO / "bench" / "data" / "realspeech-pypi"

# The real speech is heard as a call to the benchmark's business: its vocabulary is in the prompt
# while the caller says something else, as on most real calls.
REAL_SPEECH_PROMPT = vocabulary_prompt(ACCOUNT["name"], ACCOUNT["business"])


def normalize(text: str) -> str:
    """Lower case, punctuation gone (an apostrophe joins its word: "it's" → "its")."""
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses])


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))


def spell_numbers(text: str) -> str:
    """Whole numbers below 1000 written as words ("10 of clubs" → "ten of clubs"), for a second figure that
    does not count Whisper's choice of digits as an error (as Whisper's own English normaliser does not)."""
    return re.sub(r"\b\d{1,3}\b", lambda m: _number_words(int(m.group())), normalize(text))


def wer_numbers_spelled(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.wer([spell_numbers(r) for r in references], [spell_numbers(h) for h in hypotheses])


@dataclass(frozen=True)
class Sample:
    """One recording whose caller side is scored."""

    id: str
    path: Path
    reference: str  # the caller's words
    prompt: str  # the vocabulary prompt of the business called
    business_name: str = ""  # for synthetic calls: the name the caller says


def realspeech_dir() -> Path:
    return Path(os.environ.get("RECEPTIONIST_REALSPEECH_DIR") or DEFAULT_REALSPEECH_DIR)


def real_speech() -> list[Sample]:
    """Every clip and every call of the real-speech sets (caller side), as their manifests list them: the
    shared realspeech-dev and this repository's realspeech-pypi (`bench/realspeech_pypi.py`)."""
    return _manifest_samples(realspeech_dir()) + _manifest_samples(PYPI_REALSPEECH_DIR)


def _manifest_samples(root: Path) -> list[Sample]:
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"the real-speech set is missing: no {manifest_path} (realspeech-dev lives in ../shared/data beside the "
            "repository; set RECEPTIONIST_REALSPEECH_DIR to its folder)")
    manifest = json.loads(manifest_path.read_text())
    samples = [Sample(clip["id"], root / clip["file"], clip["reference_normalized"], REAL_SPEECH_PROMPT)
               for clip in manifest["clips"]]
    samples += [Sample(call["id"], root / call["file"], call["caller_reference_normalized"], REAL_SPEECH_PROMPT)
                for call in manifest["calls"]]
    for sample in samples:
        if not sample.path.is_file():
            raise FileNotFoundError(f"{sample.path} is listed in {manifest_path} but missing")
    return samples


# (business, its services and towns, the call): names tiny.en gets wrong without the prompt.
BUSINESS_CALLS: tuple[tuple[str, dict, list[tuple[str, str]]], ...] = (
    ("Kowalczyk Heating", {"services": ["furnace repair", "boiler service"], "service_areas": ["Schaumburg"]},
     [("receptionist", "Thanks for calling, how can I help?"),
      ("caller", "Hi, is this Kowalczyk Heating? My furnace stopped working last night in Schaumburg."),
      ("receptionist", "I am sorry. What is your name?"),
      ("caller", "Tom Baker. I need boiler service too, if you do that.")]),
    ("Nguyen Appliance Repair", {"services": ["dishwasher repair", "refrigerator repair"],
                                 "service_areas": ["Naperville"]},
     [("receptionist", "Thanks for calling, how can I help?"),
      ("caller", "I saw Nguyen Appliance Repair online. My dishwasher is leaking in Naperville."),
      ("receptionist", "Okay. Anything else?"),
      ("caller", "The refrigerator repair can wait until next week.")]),
    ("Szymanski Electric", {"services": ["panel upgrade", "EV charger installation"], "service_areas": ["Oak Park"]},
     [("receptionist", "Thanks for calling, how can I help?"),
      ("caller", "Is this Szymanski Electric? I want an EV charger installation at my house in Oak Park."),
      ("receptionist", "Sure. Anything else?"),
      ("caller", "Maybe a panel upgrade as well.")]),
)


def business_calls(workdir: Path) -> list[Sample]:
    """The synthetic business-name calls, spoken into `workdir`."""
    samples = []
    for index, (name, business, turns) in enumerate(BUSINESS_CALLS):
        audio = synthesize_call(turns, Path(workdir) / f"business-{index}.wav")
        reference = " ".join(text for speaker, text in turns if speaker == "caller")
        samples.append(Sample(f"business-{index}", audio.path, reference, vocabulary_prompt(name, business), name))
    return samples


def caller_samples(path: Path) -> np.ndarray:
    """The caller's channel (a mono file's only one) at 16 kHz, decoded as the worker decodes it."""
    return np.concatenate([window.channels["caller"] for window in RecordingAudio(path).windows()])


def pipeline_caller_text(transcriber: Transcriber, sample: Sample, prompt: bool = True) -> str:
    """The caller's words as the worker transcribes the recording (`Transcriber.transcribe_call`)."""
    segments = transcriber.transcribe_call(RecordingAudio(sample.path).windows(), sample.prompt if prompt else "")
    return " ".join(s.text for s in segments if s.speaker == "caller")


def sequential_caller_text(model, sample: Sample, beam_size: int, prompt: bool = True) -> str:
    """The caller's words as the product transcribed them before the batched pipeline (issue 14): the
    sequential `WhisperModel.transcribe` with VAD, word times cut at pauses."""
    segments, _info = model.transcribe(caller_samples(sample.path), language="en", beam_size=beam_size,
                                       initial_prompt=(sample.prompt if prompt else "") or None, vad_filter=True,
                                       condition_on_previous_text=False, word_timestamps=True)
    return " ".join(u[2] for segment in segments for u in split_at_pauses(segment.words or []))


def bare_caller_text(model, sample: Sample) -> str:
    """Bare faster-whisper with its defaults (beam 5, no VAD, no prompt) on the same caller audio."""
    segments, _info = model.transcribe(caller_samples(sample.path), language="en")
    return " ".join(s.text for s in segments)


@dataclass(frozen=True)
class Score:
    wer: float
    wer_numbers_spelled: float  # the same, with numbers written as words on both sides
    words: int
    names_heard: int  # business names found in the transcript (synthetic calls)
    hypotheses: tuple[str, ...]


def score(samples: list[Sample], transcribe: Callable[[Sample], str]) -> Score:
    hypotheses = [transcribe(sample) for sample in samples]
    names = sum(1 for s, h in zip(samples, hypotheses) if s.business_name and normalize(s.business_name) in normalize(h))
    references = [s.reference for s in samples]
    return Score(wer(references, hypotheses), wer_numbers_spelled(references, hypotheses), sum(len(normalize(s.reference).split()) for s in samples),
                 names, tuple(hypotheses))
