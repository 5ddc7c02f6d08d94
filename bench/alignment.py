"""How close the receptionist's known lines land to where they were spoken.

Synthetic calls of real speech (espeak-ng, 8 kHz through mu-law, as `sandbox.speech` makes
them) put each line at a known place; `postcall.alignment` places the same lines from the second
channel alone (Silero VAD, then the duration alignment). Printed per call shape: the lines placed
of those spoken, the mean and the largest error of a line's start and end, and the time the VAD
and the alignment took, against Whisper transcribing the same channel (the path they replace).
The two-channel calls of `../shared/data/realspeech-dev` (real recorded callers, an agent in
another espeak-ng voice and rate, its lines' times in the manifest) are measured too when present.

    python bench/alignment.py [--calls 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from receptionist.postcall.alignment import align, speech_stretches  # noqa: E402
from receptionist.postcall.audio import RecordingAudio  # noqa: E402
from receptionist.postcall.transcription import Transcriber  # noqa: E402
from receptionist.settings import Settings  # noqa: E402
from sandbox.speech import CALLER, RECEPTIONIST, STAFF, long_call_turns, synthesize_call  # noqa: E402

REAL_SPEECH = ROOT.parent / "shared" / "data" / "realspeech-dev"

INTERRUPTED = [
    (RECEPTIONIST, "Thanks for calling Acme Plumbing. How can I help you today?"),
    (CALLER, "When can someone come and look at my boiler?"),
    (RECEPTIONIST, "The plumber can come tomorrow morning between"),  # cut: the caller spoke over it
    (CALLER, "Sorry, tomorrow is no good, I work all day."),
    (RECEPTIONIST, "I understand."),
    (RECEPTIONIST, "What day would suit you better?"),  # back to back with the last: one stretch
    (CALLER, "Friday afternoon would be great."),
    (RECEPTIONIST, "Friday afternoon it is. Goodbye."),
]
TRANSFERRED = [
    (RECEPTIONIST, "Thanks for calling Acme Plumbing. How can I help you today?"),
    (CALLER, "Can I talk to a person about a quote, please?"),
    (RECEPTIONIST, "Please hold while I connect you to someone at Acme Plumbing."),
    (STAFF, "Hello, this is the office manager speaking. What can I do for you?"),
    (CALLER, "I need a quote for a new water heater."),
    (STAFF, "Sure, we can send someone on Monday morning to take a look."),
]


def shapes(calls: int) -> dict[str, list[tuple[str, str]]]:
    found = {f"{s} s call": long_call_turns(s) for s in (30, 60, 120, 240)[:max(1, calls)]}
    return found | {"interrupted, back to back": INTERRUPTED, "transferred (staff unlogged)": TRANSFERRED}


def calls(how_many: int, workdir: Path):
    """(name, recording, [(start, end, text)] of the agent's lines, caller spoke before each line)."""
    for index, (name, turns) in enumerate(shapes(how_many).items()):
        audio = synthesize_call(turns, workdir / f"call{index}.wav")
        between, caller_since = [], False
        for speaker, _ in turns:
            if speaker == CALLER:
                caller_since = True
            elif speaker == RECEPTIONIST:
                between.append(caller_since)
                caller_since = False
        yield name, audio.path, [(t.start_s, t.end_s, t.text) for t in audio.turns if t.speaker == RECEPTIONIST], between
    manifest = REAL_SPEECH / "manifest.json"
    if not manifest.exists():
        print(f"({REAL_SPEECH} not found: its calls are not measured)")
        return
    for call in json.loads(manifest.read_text())["calls"]:
        agent = [(u["start_s"], u["end_s"], u["text"]) for u in call["agent_utterances"]]
        callers = [u["start_s"] for u in call["caller_utterances"]]
        between = [any(prev < c < start for c in callers)
                   for prev, start in zip([float("-inf")] + [a[1] for a in agent], [a[0] for a in agent])]
        yield f"realspeech-dev {call['id']}", REAL_SPEECH / call["file"], agent, between


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="how many of the long call lengths (30, 60, 120, 240 s)")
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    transcriber = Transcriber(settings.whisper_model_path, settings.whisper_compute_type, settings.whisper_beam_size,
                              settings.whisper_threads)
    starts, ends = [], []
    print(f"{'call':<30}{'placed':>8}{'start err mean/max':>22}{'end err mean/max':>20}{'align s':>9}{'whisper s':>11}")
    with tempfile.TemporaryDirectory(prefix="bench-alignment-") as tmp:
        for name, path, truth, between in calls(args.calls, Path(tmp)):
            lines = [t[2] for t in truth]
            windows = list(RecordingAudio(path).windows())
            assert len(windows) == 1
            samples = windows[0].channels["receptionist"]
            # The caller's speech, as the worker has it from Whisper; here by the VAD (cheaper, about the same).
            caller = [(c.start, c.end) for c in speech_stretches(windows[0].channels["caller"])]
            started = time.perf_counter()
            placed = align(lines, speech_stretches(samples), caller_between=between, caller_speech=caller).placed
            align_s = time.perf_counter() - started
            started = time.perf_counter()
            transcriber.transcribe_channel(samples)
            whisper_s = time.perf_counter() - started
            start_err = [abs(p.start - truth[p.index][0]) for p in placed]
            end_err = [abs(p.end - truth[p.index][1]) for p in placed]
            starts += start_err
            ends += end_err
            print(f"{name:<30}{len(placed):>4}/{len(lines):<3}"
                  f"{statistics.mean(start_err):>12.2f} / {max(start_err):.2f} s"
                  f"{statistics.mean(end_err):>10.2f} / {max(end_err):.2f} s{align_s:>9.2f}{whisper_s:>11.2f}")
    print(f"all lines: start error mean {statistics.mean(starts):.2f} s, max {max(starts):.2f} s; "
          f"end error mean {statistics.mean(ends):.2f} s, max {max(ends):.2f} s "
          "(espeak-ng's own silence at a line's end counts as the line's)")


if __name__ == "__main__":
    main()
