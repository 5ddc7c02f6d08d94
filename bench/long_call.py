"""Peak worker memory decoding and transcribing a long two-channel call (Twilio's maximum is 4 hours).

Generates a call of `--minutes` (default 240) as Twilio sends it (8 kHz, 16-bit, two channels):
a minute of espeak-ng conversation at the start of every ten minutes, silence between. Then, each
in a fresh process, so the peak is that job's alone:

- the worker's decode/transcribe path (`postcall.audio.RecordingAudio` windows into
  `postcall.transcription.Transcriber.transcribe_call`) on the long call, and on a
  `--baseline-minutes` (default 10) call;
- the old whole-file decode (pydub: the whole file in memory, resampled, split, as float arrays,
  each channel transcribed whole) on the baseline call, and that figure scaled linearly to the
  long call (its memory grows with the file; running it for 4 hours would need gigabytes).

Prints peak RSS (VmHWM) of each with the ratio against the scaled whole-file baseline; the target
is a peak under 1 GB for the long call. On a 2-core machine shared with other jobs (load ~11) the
default 240 minutes took about 30 minutes in all (25 of them the long call's run: Whisper on its 24
minutes of speech and VAD over the silence); `--minutes 20` took about 4.

    python bench/long_call.py [--minutes 240] [--baseline-minutes 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEECH_EVERY_S = 600  # one minute of conversation at the start of every ten minutes


def write_long_call(path: Path, minutes: float, speech: bytes) -> float:
    """Write the call frame block by frame block (constant memory); returns its length in seconds."""
    total_frames = int(minutes * 60 * 8000)
    period_frames = SPEECH_EVERY_S * 8000
    speech_frames = len(speech) // 4
    silence = bytes(4 * 8000 * 10)  # ten seconds of two-channel digital silence
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        written = 0
        while written < total_frames:
            in_period = written % period_frames
            if in_period < speech_frames:
                chunk = speech[in_period * 4:(in_period + min(speech_frames - in_period, total_frames - written)) * 4]
            else:
                left = min(period_frames - in_period, total_frames - written, len(silence) // 4)
                chunk = silence[:left * 4]
            out.writeframes(chunk)
            written += len(chunk) // 4
    return total_frames / 8000


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(mode: str, path: Path) -> None:
    """Run one decode/transcribe in this (fresh) process and print its figures as JSON."""
    from receptionist.postcall.transcription import Transcriber
    from receptionist.settings import Settings

    settings = Settings(_env_file=None)
    transcriber = Transcriber(settings.whisper_model_path, settings.whisper_compute_type, settings.whisper_beam_size)
    loaded_mb = peak_rss_mb()
    started = time.perf_counter()
    if mode == "windowed":
        from receptionist.postcall.audio import RecordingAudio

        audio = RecordingAudio(path)
        segments = transcriber.transcribe_call(audio.windows(), "A phone call to Acme Plumbing.")
        seconds = audio.decoded_s
    else:  # the whole-file decode this replaced
        import numpy as np
        from pydub import AudioSegment

        segment = AudioSegment.from_file(path, format="wav").set_sample_width(2).set_frame_rate(16_000)
        channels = [np.frombuffer(m.raw_data, dtype=np.int16).astype(np.float32) / 32768.0
                    for m in segment.split_to_mono()]
        seconds = len(segment) / 1000
        segments = [u for samples in channels
                    for u in transcriber.transcribe_channel(samples, "A phone call to Acme Plumbing.")]
    print(json.dumps({"mode": mode, "audio_s": seconds, "segments": len(segments), "model_mb": loaded_mb,
                      "peak_mb": peak_rss_mb(), "wall_s": time.perf_counter() - started}))


def measure(mode: str, path: Path) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True,
                            cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=240.0)
    parser.add_argument("--baseline-minutes", type=float, default=10.0)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))

    from sandbox.speech import long_call_turns, synthesize_call

    with tempfile.TemporaryDirectory(prefix="bench-long-call-") as tmp:
        started = time.perf_counter()
        spoken = synthesize_call(long_call_turns(60), Path(tmp) / "speech.wav")
        with wave.open(str(spoken.path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
            speech = wav.readframes(wav.getnframes())
        long_path, short_path = Path(tmp) / "long.wav", Path(tmp) / "short.wav"
        long_s = write_long_call(long_path, args.minutes, speech)
        short_s = write_long_call(short_path, args.baseline_minutes, speech)
        print(f"calls generated in {time.perf_counter() - started:.1f} s: {long_s / 60:.0f} min "
              f"({long_path.stat().st_size / 1e6:.0f} MB) and {short_s / 60:.0f} min "
              f"({short_path.stat().st_size / 1e6:.0f} MB), two channels at 8 kHz, one minute of speech per ten")

        old_short = measure("whole-file", short_path)
        new_short = measure("windowed", short_path)
        new_long = measure("windowed", long_path)

    scale = long_s / short_s
    old_long_mb = old_short["model_mb"] + (old_short["peak_mb"] - old_short["model_mb"]) * scale
    print(f"{'run':<44} {'audio':>8} {'segments':>8} {'model':>9} {'peak RSS':>10} {'wall':>8}")
    for label, run in ((f"whole-file decode (old), {short_s / 60:.0f} min", old_short),
                       (f"windowed decode (worker), {short_s / 60:.0f} min", new_short),
                       (f"windowed decode (worker), {long_s / 60:.0f} min", new_long)):
        print(f"{label:<44} {run['audio_s'] / 60:>6.0f} m {run['segments']:>8} {run['model_mb']:>6.0f} MB "
              f"{run['peak_mb']:>7.0f} MB {run['wall_s']:>6.0f} s")
    print(f"whole-file decode scaled to {long_s / 60:.0f} min (estimate): {old_long_mb:.0f} MB peak")
    print(f"peak RSS, windowed {long_s / 60:.0f} min / whole-file scaled: {new_long['peak_mb']:.0f} / "
          f"{old_long_mb:.0f} MB = {new_long['peak_mb'] / old_long_mb:.2f}x; "
          f"windowed {long_s / 60:.0f} min / windowed {short_s / 60:.0f} min: "
          f"{new_long['peak_mb'] / new_short['peak_mb']:.2f}x")
    print(f"target: peak under 1024 MB for the long call: {'met' if new_long['peak_mb'] < 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
