"""From the recording callback to the owner's email accepted by the SMTP server, for a ~60 s call.

A real worker process (`receptionist worker`'s, model already loaded) waits on the queue; the bench
posts the signed recording callback and stops the clock when the SMTP server accepts the alert.
The split by stage comes from the worker's own timing of the job.

Two paths, measured in turn in the same run (a fresh worker for each call): the product's, where
the receptionist's words come from the call's log (the relay's turns) and Whisper hears the
caller's channel, and the baseline, the path before it, Whisper on both channels
(`bench/post_call_worker.py --baseline`). It prints both and their ratio.

    python bench/post_call.py [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Stack, median  # noqa: E402
from receptionist.core.models import Call  # noqa: E402
from sandbox.speech import long_call_turns, synthesize_call  # noqa: E402

PATHS = ("baseline", "log")
STAGES = ("download", "decode", "transcribe", "store", "outcome", "summary", "alert")
TIMES = re.compile(r"recording (RE\w+) of call \w+ processed: (\{.*\})")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(what)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-post-call-") as tmp, Stack(Path(tmp)) as stack:
        audio = synthesize_call(turns := long_call_turns(args.seconds), Path(tmp) / "call.wav")
        wav = audio.path.read_bytes()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "AWS_"))}
        env |= stack.settings.to_env()
        print(f"call: {audio.duration_s:.1f} s, 2 channels, 8 kHz")
        db = stack.app.server.config.app.state.services.db
        totals: dict[str, list[float]] = {path: [] for path in PATHS}
        splits: dict[str, list[dict]] = {path: [] for path in PATHS}
        for round_no in range(args.rounds):
            for path in PATHS:
                log_path = Path(tmp) / f"worker-{round_no}-{path}.log"
                total, split = one_call(stack, db, env, log_path, path, turns, wav, audio.duration_s)
                totals[path].append(total)
                splits[path].append(split)
                print(f"round {round_no + 1} {path:<8}: callback → email accepted {total:.2f} s  " +
                      "  ".join(f"{k} {split.get(k, 0):.2f}" for k in STAGES))

    print()
    for path in PATHS:
        print(f"{path}: callback → owner email, median of {args.rounds}: {median(totals[path]):.2f} s")
        for stage in STAGES:
            print(f"  {stage:<11}{median([s.get(stage, 0.0) for s in splits[path]]):6.3f} s")
        accounted = median([sum(s.values()) for s in splits[path]])
        print(f"  {'(queue, db)':<11}{median(totals[path]) - accounted:6.3f} s")
    ratio = median(totals["log"]) / median(totals["baseline"])
    per_round = [new / old for new, old in zip(totals["log"], totals["baseline"])]
    print(f"ratio log / baseline (medians): {ratio:.2f} (target <= 0.6); per round: "
          + ", ".join(f"{r:.2f}" for r in per_round))


def one_call(stack: Stack, db, env: dict, log_path: Path, path: str, turns, wav: bytes,
             duration_s: float) -> tuple[float, dict]:
    """A fresh worker on `path`: one call to warm it (a model's first run is slower), then the
    timed one: (callback → email seconds, stages)."""
    argv = [sys.executable, "-m", "bench.post_call_worker"] + (["--baseline"] if path == "baseline" else [])
    worker = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        wait_for(lambda: "Listening on" in log_path.read_text(), 60, "worker start")
        _post_call(stack, db, log_path, turns, wav, duration_s)  # the warm-up
        return _post_call(stack, db, log_path, turns, wav, duration_s)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _post_call(stack: Stack, db, log_path: Path, turns, wav: bytes, duration_s: float) -> tuple[float, dict]:
    call = stack.player.start("+15550142367", "+15550100200")
    with db.session() as session:  # what the relay stored while the caller talked
        row = session.query(Call).filter_by(call_sid=call.call_sid).one()
        row.conversation = [{"speaker": s, "text": t, "at": row.started_at.astimezone(timezone.utc).isoformat()}
                            for s, t in turns]
        row.relay_attempt = 1  # the relay session that stored them claimed the call first
    recording_sid = "RE" + call.call_sid[2:]
    stack.twilio.add_recording(recording_sid, wav, call_sid=call.call_sid)
    stack.player.end(call, round(duration_s))
    seen = len(stack.smtp.messages)
    started = time.perf_counter()
    stack.player.recording_ready(call, stack.twilio.recording_url(recording_sid), round(duration_s),
                                 recording_sid)
    wait_for(lambda: len(stack.smtp.messages) > seen, 120, "owner email")
    total = time.perf_counter() - started
    line = wait_for(lambda: next((m for m in TIMES.finditer(log_path.read_text())
                                  if m.group(1) == recording_sid), None), 10, "worker timing")
    return total, ast.literal_eval(line.group(2))


if __name__ == "__main__":
    main()
