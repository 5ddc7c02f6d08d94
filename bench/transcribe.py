"""Worker job vs bare faster-whisper on the same ~60 s call, measured in the same run.

The job: download from the Twilio stand-in, decode, transcribe both channels, store both objects
encrypted in SeaweedFS, update the database, email the owner, all through the real RQ worker.
The baseline: the same model object transcribing the same two channels with the same settings.

    python bench/transcribe.py [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from redis import Redis
from rq.job import Job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Stack, median, peak_rss_mib, rss_mib  # noqa: E402
from receptionist.core.queue import recording_job_id  # noqa: E402
from receptionist.postcall.transcription import vocabulary_prompt  # noqa: E402
from receptionist.wiring import build_pipeline_context  # noqa: E402
from sandbox.speech import long_call_turns, synthesize_call  # noqa: E402
from workers.worker import run_worker  # noqa: E402


def bare_transcription(model, wav_bytes: bytes, prompt: str, beam_size: int) -> float:
    """Decode the two channels with the stdlib and numpy, then transcribe each: the floor."""
    started = time.perf_counter()
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, channels)
    for index in range(channels):
        mono = pcm[:, index].astype(np.float32) / 32768.0
        # Upsample 8 kHz → 16 kHz as Whisper expects (linear; faster-whisper does this for files).
        upsampled = np.interp(np.arange(0, len(mono), rate / 16000), np.arange(len(mono)), mono).astype(np.float32)
        segments, _ = model.transcribe(upsampled, language="en", beam_size=beam_size, initial_prompt=prompt,
                                       vad_filter=True, condition_on_previous_text=False, word_timestamps=True)
        for _segment in segments:
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp, Stack(Path(tmp)) as stack:
        audio = synthesize_call(long_call_turns(args.seconds), Path(tmp) / "call.wav")
        wav = audio.path.read_bytes()
        print(f"call: {audio.duration_s:.1f} s, 2 channels, 8 kHz ({len(wav) / 1e6:.2f} MB)")

        rss_before_model = rss_mib()
        ctx = build_pipeline_context(stack.settings)
        model = ctx.transcriber.model
        print(f"model: {stack.settings.whisper_model_path} ({stack.settings.whisper_compute_type}, "
              f"beam {stack.settings.whisper_beam_size}), loaded once in {ctx.transcriber.load_seconds:.2f} s")
        prompt = vocabulary_prompt(stack.account["name"], stack.account["business"])
        redis = Redis.from_url(stack.settings.redis_url)

        bare_transcription(model, wav, prompt, ctx.transcriber.beam_size)  # warm-up (allocations, VAD model)
        job_times, bare_times = [], []
        for round_no in range(args.rounds):
            bare_times.append(bare_transcription(model, wav, prompt, ctx.transcriber.beam_size))

            call = stack.player.start("+15550142367", "+15550100200")
            recording_sid = "RE" + call.call_sid[2:]
            stack.twilio.add_recording(recording_sid, wav, call_sid=call.call_sid)
            stack.player.end(call, round(audio.duration_s))
            stack.player.recording_ready(call, stack.twilio.recording_url(recording_sid), round(audio.duration_s),
                                         recording_sid)
            run_worker(ctx, redis, stack.settings.queue_name, burst=True, with_scheduler=False, logging_level="WARNING")
            job = Job.fetch(recording_job_id(recording_sid), connection=redis)
            assert job.get_status() == "finished", job.get_status()
            job_times.append((job.ended_at - job.started_at).total_seconds())
            print(f"round {round_no + 1}: job {job_times[-1]:.3f} s, bare {bare_times[-1]:.3f} s")

        assert len(stack.smtp.messages) == args.rounds, "every job must email the owner exactly once"
        job_s, bare_s = median(job_times), median(bare_times)
        print()
        print(f"worker job   median {job_s:.3f} s   RTF {job_s / audio.duration_s:.4f}")
        print(f"bare whisper median {bare_s:.3f} s   RTF {bare_s / audio.duration_s:.4f}")
        print(f"ratio job/bare {job_s / bare_s:.3f}   (target <= 1.10; RTF target <= 0.06)")
        print(f"worker RSS {rss_mib():.0f} MiB now, peak {peak_rss_mib():.0f} MiB "
              f"({rss_before_model:.0f} MiB before the model; the worker runs jobs in this process)")
        ctx.close()


if __name__ == "__main__":
    main()
