"""The worker's transcription: its cost, its decoding pipeline and its accuracy, each against a baseline in the same run.

1. Timing, the job against its floor on the same ~60 s two-channel call. The job: download from the
   Twilio stand-in, decode, transcribe both channels, store both objects encrypted in SeaweedFS,
   update the database, email the owner, all through the real RQ worker. The floor: the same model
   object transcribing the same two channels with the product's own settings
   (`Transcriber.transcribe_channel`), decoded with the stdlib and numpy: what the job adds.
2. Decoding, on the same call's channels: faster-whisper's batched pipeline (the product) against
   the sequential `WhisperModel.transcribe` with VAD it replaced, at beam 1 (the old default) and at
   the product's beam; RTF and the ratio batched/sequential.
3. Accuracy (`bench/accuracy.py`): the caller's word error rate on the real-speech set
   (../shared/data/realspeech-dev) for the pipeline and for bare faster-whisper WITH ITS DEFAULTS
   (`model.transcribe(audio, language="en")`: beam 5, no VAD, no prompt) on the same audio and model,
   and the business names heard on synthetic calls, with and without the vocabulary prompt.

    python bench/transcribe.py [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from redis import Redis
from rq.job import Job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy import (bare_caller_text, business_calls, pipeline_caller_text, real_speech,  # noqa: E402
                            realspeech_dir, score, sequential_caller_text)
from bench.common import Stack, median, peak_rss_mib, rss_mib  # noqa: E402
from receptionist.core.queue import recording_job_id  # noqa: E402
from receptionist.postcall.transcription import vocabulary_prompt  # noqa: E402
from receptionist.wiring import build_pipeline_context  # noqa: E402
from sandbox.speech import long_call_turns, synthesize_call  # noqa: E402
from workers.worker import run_worker  # noqa: E402


def stdlib_channels(wav_bytes: bytes) -> list[np.ndarray]:
    """The call's channels decoded with the stdlib and numpy, at 16 kHz."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, channels)
    out = []
    for index in range(channels):
        mono = pcm[:, index].astype(np.float32) / 32768.0
        # Upsample 8 kHz → 16 kHz as Whisper expects (linear; faster-whisper does this for files).
        out.append(np.interp(np.arange(0, len(mono), rate / 16000), np.arange(len(mono)), mono).astype(np.float32))
    return out


def floor_transcription(transcriber, wav_bytes: bytes, prompt: str) -> float:
    """Decode the two channels with the stdlib and numpy, then transcribe each as the product does: the floor."""
    started = time.perf_counter()
    for channel in stdlib_channels(wav_bytes):
        transcriber.transcribe_channel(channel, prompt)
    return time.perf_counter() - started


def sequential_transcription(model, channels: list[np.ndarray], prompt: str, beam_size: int) -> float:
    """The per-channel decoding the product used before the batched pipeline (issue 14)."""
    started = time.perf_counter()
    for channel in channels:
        segments, _ = model.transcribe(channel, language="en", beam_size=beam_size, initial_prompt=prompt,
                                       vad_filter=True, condition_on_previous_text=False, word_timestamps=True)
        for _segment in segments:
            pass
    return time.perf_counter() - started


def batched_transcription(transcriber, channels: list[np.ndarray], prompt: str) -> float:
    started = time.perf_counter()
    for channel in channels:
        transcriber.transcribe_channel(channel, prompt)
    return time.perf_counter() - started


def print_accuracy(transcriber, workdir: Path) -> None:
    real = real_speech()
    pipeline = score(real, lambda s: pipeline_caller_text(transcriber, s))
    bare = score(real, lambda s: bare_caller_text(transcriber.model, s))
    print(f"real speech ({len(real)} recordings, {pipeline.words} caller words, {realspeech_dir().name}):")
    print(f"  caller WER pipeline {pipeline.wer:.3f}   bare faster-whisper defaults {bare.wer:.3f}   "
          f"ratio {pipeline.wer / bare.wer if bare.wer else float('nan'):.3f}   (target <= 1.0)")
    print(f"  with numbers as words on both sides: pipeline {pipeline.wer_numbers_spelled:.3f}   "
          f"bare {bare.wer_numbers_spelled:.3f}   (the prompt makes Whisper write digits: \"5 5\" for \"five five\")")
    synthetic = business_calls(workdir)
    with_prompt = score(synthetic, lambda s: pipeline_caller_text(transcriber, s))
    without = score(synthetic, lambda s: pipeline_caller_text(transcriber, s, prompt=False))
    bare_synthetic = score(synthetic, lambda s: bare_caller_text(transcriber.model, s))
    print(f"synthetic business-name calls ({len(synthetic)}, {with_prompt.words} caller words):")
    for label, result in (("pipeline", with_prompt), ("pipeline without the prompt", without),
                          ("bare faster-whisper defaults", bare_synthetic)):
        print(f"  {label:30s} caller WER {result.wer:.3f}   names heard {result.names_heard}/{len(synthetic)}")


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

        floor_transcription(ctx.transcriber, wav, prompt)  # warm-up (allocations, VAD model)
        job_times, bare_times = [], []
        for round_no in range(args.rounds):
            bare_times.append(floor_transcription(ctx.transcriber, wav, prompt))

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
            print(f"round {round_no + 1}: job {job_times[-1]:.3f} s, floor {bare_times[-1]:.3f} s")

        assert len(stack.smtp.messages) == args.rounds, "every job must email the owner exactly once"
        job_s, bare_s = median(job_times), median(bare_times)
        print()
        print(f"worker job   median {job_s:.3f} s   RTF {job_s / audio.duration_s:.4f}")
        print(f"floor        median {bare_s:.3f} s   RTF {bare_s / audio.duration_s:.4f}   (the same Transcriber on "
              "stdlib-decoded channels)")
        print(f"ratio job/floor {job_s / bare_s:.3f}   (target <= 1.10; RTF target <= 0.1)")
        print(f"worker RSS {rss_mib():.0f} MiB now, peak {peak_rss_mib():.0f} MiB "
              f"({rss_before_model:.0f} MiB before the model; the worker runs jobs in this process)")

        print()
        channels = stdlib_channels(wav)
        beam = ctx.transcriber.beam_size
        runs: dict[str, list[float]] = {"sequential beam 1": [], f"sequential beam {beam}": [],
                                        f"batched beam {beam}": []}
        for _round in range(args.rounds):
            runs["sequential beam 1"].append(sequential_transcription(model, channels, prompt, 1))
            runs[f"sequential beam {beam}"].append(sequential_transcription(model, channels, prompt, beam))
            runs[f"batched beam {beam}"].append(batched_transcription(ctx.transcriber, channels, prompt))
        print(f"decoding the two channels ({audio.duration_s:.1f} s call, {args.rounds} rounds, "
              f"{os.cpu_count()} cores):")
        for label, times in runs.items():
            print(f"  {label:20s} median {median(times):.3f} s   RTF {median(times) / audio.duration_s:.4f}")
        batched_s = median(runs[f"batched beam {beam}"])
        print(f"  ratio batched/sequential: {batched_s / median(runs['sequential beam 1']):.3f} against beam 1 "
              f"(the old product), {batched_s / median(runs[f'sequential beam {beam}']):.3f} at the same beam")
        real, synthetic = real_speech(), business_calls(Path(tmp))
        print("  the same decodings' accuracy (caller WER on real speech; business names heard on synthetic calls):")
        for label, transcribe in (
                ("sequential beam 1", lambda s: sequential_caller_text(model, s, 1)),
                (f"sequential beam {beam}", lambda s: sequential_caller_text(model, s, beam)),
                (f"batched beam {beam}", lambda s: pipeline_caller_text(ctx.transcriber, s))):
            print(f"  {label:20s} real WER {score(real, transcribe).wer:.3f}   names heard "
                  f"{score(synthetic, transcribe).names_heard}/{len(synthetic)}")

        print()
        print_accuracy(ctx.transcriber, Path(tmp))
        ctx.close()


if __name__ == "__main__":
    main()
