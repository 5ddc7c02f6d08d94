"""The worker `bench/post_call.py` starts: `receptionist worker`, or with `--baseline` the same
worker on the path before the receptionist's lines came from the call's log (Whisper on both
channels: `PipelineContext.whisper_every_channel`, a benchmark switch, not a product setting).

    python -m bench.post_call_worker [--baseline]
"""

from __future__ import annotations

import sys

from receptionist.cli import _logging
from receptionist.settings import Settings
from receptionist.wiring import build_pipeline_context
from workers.worker import serve_worker


def main() -> None:
    _logging()  # as `receptionist worker` logs (phone numbers scrubbed)
    settings = Settings.load()
    # As `receptionist worker` builds it: the model in its own process (both paths pay the same hop).
    ctx = build_pipeline_context(settings, isolate_transcription=True)
    ctx.whisper_every_channel = "--baseline" in sys.argv[1:]
    print(f"worker path: {'baseline (Whisper on both channels)' if ctx.whisper_every_channel else 'the log'}",
          flush=True)
    serve_worker(settings, ctx=ctx)


if __name__ == "__main__":
    main()
