"""The caller's transcript on real recorded speech is at least as accurate as bare faster-whisper with its
defaults, on the same audio and model, and the business vocabulary still makes unusual names come out right.

Both word error rates are computed here, in the same run (`bench/accuracy.py` holds the sets and the
scoring); the figures for every model are in the README ("Choosing a model", from `bench/models.py`).
"""

from __future__ import annotations

import pytest

from bench.accuracy import bare_caller_text, business_calls, pipeline_caller_text, real_speech, score
from receptionist.postcall.transcription import vocabulary_prompt


def test_on_real_speech_the_pipeline_is_as_accurate_as_bare_faster_whisper(transcriber):
    samples = real_speech()
    assert len(samples) >= 10 and all(s.reference for s in samples)
    pipeline = score(samples, lambda s: pipeline_caller_text(transcriber, s))
    bare = score(samples, lambda s: bare_caller_text(transcriber.model, s))
    report = "\n".join(f"{s.id}\n  ref:      {s.reference}\n  pipeline: {p}\n  bare:     {b}"
                       for s, p, b in zip(samples, pipeline.hypotheses, bare.hypotheses))
    print(f"caller WER over {pipeline.words} words: pipeline {pipeline.wer:.3f}, bare defaults {bare.wer:.3f}")
    # Sanity: the scoring sees words at all (a transcript of nothing would be a WER of 1.0).
    assert bare.wer < 0.5, report
    assert pipeline.wer <= bare.wer, report


def test_business_names_are_heard_thanks_to_the_vocabulary(transcriber, tmp_path):
    samples = business_calls(tmp_path)
    with_prompt = score(samples, lambda s: pipeline_caller_text(transcriber, s))
    without = score(samples, lambda s: pipeline_caller_text(transcriber, s, prompt=False))
    report = "\n".join(f"{s.business_name}: with {w!r}\n    without {wo!r}"
                       for s, w, wo in zip(samples, with_prompt.hypotheses, without.hypotheses))
    assert with_prompt.names_heard == len(samples), report
    # The gain is the prompt's: without it the same model mishears them.
    assert without.names_heard < with_prompt.names_heard, report
    assert with_prompt.wer < without.wer, report


def test_a_missing_real_speech_set_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("RECEPTIONIST_REALSPEECH_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="real-speech set is missing"):
        real_speech()


def test_the_vocabulary_prompt_is_one_sentence_of_what_the_business_has():
    business = {"services": ["water heater repair", "drain cleaning"], "service_areas": ["Springfield", "Oak Park"]}
    assert vocabulary_prompt("Acme Plumbing", business) == (
        "A phone call to Acme Plumbing about water heater repair, drain cleaning in Springfield, Oak Park.")
    assert vocabulary_prompt("Acme Plumbing", None) == "A phone call to Acme Plumbing."
    assert vocabulary_prompt("", {"service_areas": ["Oak Park"], "services": [" "]}) == "A phone call in Oak Park."
    assert vocabulary_prompt("", {}) == ""
