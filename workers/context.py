"""The per-process pipeline context that jobs run with.

RQ calls job functions with their arguments only; the heavy things a worker keeps (the Whisper
model, the S3 and HTTP clients, the database pool) are built once when the worker starts and
installed here, so jobs take ids and find their tools without rebuilding them.
"""

from __future__ import annotations

from contextvars import ContextVar

from receptionist.postcall.pipeline import PipelineContext

_current: ContextVar[PipelineContext | None] = ContextVar("pipeline_context", default=None)


def install(ctx: PipelineContext) -> None:
    _current.set(ctx)


def current() -> PipelineContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("no pipeline context: run jobs with `receptionist worker` (workers.worker.CallWorker)")
    return ctx
