"""Lanes: the phone is never behind anything else.

Sync routes run on AnyIO's worker threads, as many at once as the default thread limiter allows.
The app gives that limiter one token per thread of each lane: the Twilio edge's
(`RECEPTIONIST_DB_POOL_SIZE`), the API's and the dashboard's (`RECEPTIONIST_API_THREADS`) and the
exports' and erasures' (`RECEPTIONIST_EXPORT_THREADS`). This middleware admits requests of the last
two into their own limiter before they run, so together they never hold more threads than their
lanes have, and whatever they do (a slow export, an API call waiting on S3, a flood of dashboard
requests) the Twilio webhooks always find their own threads free. Each lane has its own database
connections too (`AppServices.db` for the edge, `AppServices.api_db` for the rest).

A request of these lanes holds at most one worker thread at a time (FastAPI solves dependencies,
runs the endpoint and iterates a sync response one after another), so one admission is one thread.
The Twilio routes and the probes (`/healthz`, `/readyz`: async, see `web.readiness`) pass straight
through.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

TWILIO_PREFIX = "/twilio/"
PROBES = frozenset({"/healthz", "/readyz"})


def thread_tokens(twilio: int, api: int, heavy: int) -> int:
    """The default thread limiter's size: every lane's threads."""
    return twilio + api + heavy


class Lanes:
    def __init__(self, app: ASGIApp, *, api_threads: int, heavy_threads: int, heavy_routes: Iterable[BaseRoute]):
        self.app = app
        self.api = anyio.CapacityLimiter(api_threads)
        self.heavy = anyio.CapacityLimiter(heavy_threads)
        self.heavy_routes = tuple(heavy_routes)

    def lane(self, scope: Scope) -> anyio.CapacityLimiter | None:
        path = scope["path"]
        if path.startswith(TWILIO_PREFIX) or path in PROBES:
            return None
        if any(route.matches(scope)[0] is Match.FULL for route in self.heavy_routes):
            return self.heavy
        return self.api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.lane(scope) if scope["type"] == "http" else None
        if limiter is None:
            return await self.app(scope, receive, send)
        async with limiter:
            await self.app(scope, receive, send)
