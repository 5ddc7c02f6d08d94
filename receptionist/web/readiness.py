"""Readiness: is this process able to serve (database, Redis, S3)? Answered fast, whatever they do.

Each dependency is probed on a thread of its own (never the threads the routes run on; a daemon, so
a hung probe never holds up the process's exit), for at most `PROBE_TIMEOUT_S`; a probe that has not
answered by then reports a timeout, and while it still hangs no second one is started for that
dependency (so a hung S3 holds one thread, however often it is asked). The answer is kept for `CACHE_S` seconds, and concurrent requests share one
round of probes: `/readyz` is unauthenticated, so asking it often costs nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import anyio

PROBE_TIMEOUT_S = 2.0
CACHE_S = 3.0


class Readiness:
    def __init__(self, probes: dict[str, Callable[[], object]], *, timeout_s: float = PROBE_TIMEOUT_S,
                 cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic):
        self.probes = probes
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self.clock = clock
        self._running: dict[str, Future] = {}
        self._answer: tuple[float, dict[str, str]] | None = None
        self._lock = anyio.Lock()

    async def checks(self) -> dict[str, str]:
        """Each dependency's state: "ok", or what went wrong."""
        async with self._lock:  # one round at a time; the others take its answer
            if self._answer is not None and self.clock() - self._answer[0] < self.cache_s:
                return self._answer[1]
            names = list(self.probes)
            results = await asyncio.gather(*(self._probe(name) for name in names))
            self._answer = (self.clock(), dict(zip(names, results, strict=True)))
            return self._answer[1]

    async def _probe(self, name: str) -> str:
        future = self._running.get(name)
        if future is None or future.done():
            future = self._running[name] = self._start(name)
        try:
            with anyio.fail_after(self.timeout_s):
                await asyncio.wrap_future(future)  # a cancelled wait leaves a running probe running
        except TimeoutError:
            return f"timed out after {self.timeout_s:g} s"
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return "ok"

    def _start(self, name: str) -> Future:
        future: Future = Future()
        probe = self.probes[name]

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return  # its wait timed out before the thread started: the next round starts another
            try:
                future.set_result(probe())
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, name=f"readyz-{name}", daemon=True).start()
        return future
