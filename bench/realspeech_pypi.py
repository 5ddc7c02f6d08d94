"""Rebuild bench/data/realspeech-pypi: more real speech, from the pocketsphinx source distribution on PyPI.

The clips are the recordings of pocketsphinx's own tests whose words those tests state (no transcript
is written by hand), converted exactly as ../shared/data/realspeech-dev converts its clips (8 kHz
mu-law, peak-normalised to -3 dBFS with sox). The sources, licence and references are in the
folder's manifest.json; the licence text is copied beside it.

    python bench/realspeech_pypi.py     # needs pip (reaching PyPI) and sox
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "5.1.1"
OUT = Path(__file__).resolve().parent / "data" / "realspeech-pypi"
# (id, path in the sdist, raw?, reference, where the sdist states it, what is known of the recording)
CLIPS = (
    ("goforward", "test/data/goforward.raw", True, "go forward ten meters",
     "cython/test/decoder_test.py: assertEqual(hyp, \"go forward ten meters\")",
     "CMU Sphinx's classic test utterance, a human speaker (16 kHz 16-bit raw)"),
    ("forever_2", "test/data/forever/input_2_16k.wav", False, "feels like these days go on forever",
     "cython/test/alignment_test.py: decoder.set_align_text(\"feels like these days go on forever\")",
     "origin not documented in the package"),
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"pocketsphinx=={VERSION}", "-d", tmp], check=True)
        sdist = next(Path(tmp).glob("pocketsphinx-*.tar.gz"))
        root = f"pocketsphinx-{VERSION}"
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        OUT.joinpath("clips").mkdir(parents=True, exist_ok=True)
        (OUT / "LICENSE.pocketsphinx").write_bytes((Path(tmp) / root / "LICENSE").read_bytes())
        clips = []
        for clip_id, member, raw, reference, where, origin in CLIPS:
            source = Path(tmp) / root / member
            fmt = ["-t", "raw", "-r", "16000", "-b", "16", "-e", "signed-integer", "-c", "1"] if raw else []
            target = OUT / "clips" / f"{clip_id}.wav"
            subprocess.run(["sox", "-D", *fmt, str(source), "-r", "8000", "-c", "1", "-e", "mu-law", str(target),
                            "gain", "-n", "-3"], check=True)
            duration = float(subprocess.run(["soxi", "-D", str(target)], capture_output=True, text=True,
                                            check=True).stdout)
            clips.append({"id": clip_id, "file": f"clips/{clip_id}.wav", "duration_s": round(duration, 3),
                          "reference": reference, "reference_normalized": reference,
                          "reference_source": {"package": f"pocketsphinx {VERSION} (PyPI sdist)", "where": where},
                          "source": {"package": f"pocketsphinx {VERSION} (PyPI sdist)", "path": member,
                                     "licence": "BSD-2-Clause-style CMU licence", "licence_file": "LICENSE.pocketsphinx"},
                          "audio_origin": origin})
    manifest = {"name": "realspeech-pypi", "schema_version": 1,
                "purpose": "More real recorded speech beside ../shared/data/realspeech-dev, from a PyPI package",
                "audio_format": {"clips": "RIFF WAV, 8000 Hz, 1 channel, G.711 mu-law (8 bit)"},
                "conversion": "sox -D SRC -r 8000 -c 1 -e mu-law clips/ID.wav gain -n -3 (as realspeech-dev)",
                "made_by": "bench/realspeech_pypi.py", "clips": clips, "calls": []}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(clips)} clips in {OUT}")


if __name__ == "__main__":
    main()
