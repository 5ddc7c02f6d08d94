"""From the recording callback to the owner's email accepted by the SMTP server, for a ~60 s call.

A real worker process (`receptionist worker`, model already loaded) waits on the queue; the bench
posts the signed recording callback and stops the clock when the SMTP server accepts the alert.
The split by stage comes from the worker's own timing of the job.

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
        log_path = Path(tmp) / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "AWS_"))}
        worker = subprocess.Popen([sys.executable, "-m", "receptionist.cli", "worker"], cwd=ROOT,
                                  env=env | stack.settings.to_env(), stdout=log_path.open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: "Listening on" in log_path.read_text(), 60, "worker start")
            print(f"call: {audio.duration_s:.1f} s, 2 channels, 8 kHz; worker ready (model loaded)")
            db = stack.app.server.config.app.state.services.db
            totals, splits = [], []
            for round_no in range(args.rounds):
                call = stack.player.start("+15550142367", "+15550100200")
                with db.session() as session:  # what the relay stored while the caller talked
                    row = session.query(Call).filter_by(call_sid=call.call_sid).one()
                    row.conversation = [{"speaker": s, "text": t, "at": row.started_at.astimezone(timezone.utc).isoformat()}
                                        for s, t in turns]
                    row.relay_attempt = 1  # the relay session that stored them claimed the call first
                recording_sid = "RE" + call.call_sid[2:]
                stack.twilio.add_recording(recording_sid, wav, call_sid=call.call_sid)
                stack.player.end(call, round(audio.duration_s))
                seen = len(stack.smtp.messages)
                started = time.perf_counter()
                stack.player.recording_ready(call, stack.twilio.recording_url(recording_sid), round(audio.duration_s),
                                             recording_sid)
                wait_for(lambda: len(stack.smtp.messages) > seen, 120, "owner email")
                totals.append(time.perf_counter() - started)
                line = wait_for(lambda: next((m for m in TIMES.finditer(log_path.read_text())
                                              if m.group(1) == recording_sid), None), 10, "worker timing")
                splits.append(ast.literal_eval(line.group(2)))
                print(f"round {round_no + 1}: callback → email accepted {totals[-1]:.2f} s  " +
                      "  ".join(f"{k} {splits[-1].get(k, 0):.2f}" for k in STAGES))
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    print()
    print(f"callback → owner email, median of {args.rounds}: {median(totals):.2f} s (target <= 6 s with tiny.en)")
    for stage in STAGES:
        print(f"  {stage:<11}{median([s.get(stage, 0.0) for s in splits]):6.3f} s")
    accounted = median([sum(s.values()) for s in splits])
    print(f"  {'(queue, db)':<11}{median(totals) - accounted:6.3f} s")


if __name__ == "__main__":
    main()
