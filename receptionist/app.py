"""The web process's composition root: the application factory."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from receptionist import __version__, dashboard, telephony
from receptionist.api.routes import accounts, calls, ops, privacy, webhooks
from receptionist.core.logs import install_log_scrubbing
from receptionist.privacy.deployment import claim_deployment
from receptionist.settings import Settings
from receptionist.web.body_limits import BodyLimits
from receptionist.web.docs import install_docs
from receptionist.web.errors import install_error_handlers
from receptionist.web.lanes import Lanes, thread_tokens
from receptionist.web.metrics import Metrics, MetricsMiddleware
from receptionist.web.readiness import Readiness
from receptionist.web.services import AppServices
from receptionist.wiring import build_app_services

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, services: AppServices | None = None,
               prepare: bool = True, freeze_heap: bool = False) -> FastAPI:
    """Build the app. With `prepare`, start-up migrates the database, makes sure the bucket exists and
    that the two are one deployment's (receptionist.privacy.deployment);
    with `freeze_heap` (the server process), start-up ends by freezing the heap (see below)."""
    settings = settings or Settings()
    settings.require("public_url")  # every webhook signature and the relay's URL are made from it
    svc = services or build_app_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync routes run on AnyIO's worker threads, one token each: the lanes' threads (web.lanes), each
        # lane as many as its database connections (more would only queue on a pool, or churn overflow).
        anyio.to_thread.current_default_thread_limiter().total_tokens = thread_tokens(
            settings.db_pool_size, settings.api_threads, settings.export_threads)
        if prepare:
            svc.db.migrate()
            if svc.store.ensure_bucket():
                log.info("created bucket %s with default encryption", svc.store.bucket)
            claim_deployment(svc.db, svc.store)  # DeploymentMismatch: this database is not this bucket's
        if not settings.twilio_auth_token:
            log.warning("TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403)")
        if freeze_heap:
            # The heap built by start-up (modules, the ORM's metadata, the clients' models: over 200k
            # objects) is never garbage, yet every full collection walked it: a pause of about 60 ms
            # that every live call heard at once, and the relay's worst latency under load (measured).
            # Frozen, collections only look at what the calls create. (Not for apps made in tests or
            # the demo: they come and go within one process.)
            gc.collect()
            gc.freeze()
        yield
        # The LLM client's connections belong to the event loop that served the calls: close them on it.
        await svc.llm.aclose()
        svc.close()

    app = FastAPI(title="AI receptionist", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)  # Swagger UI from files shipped with the product, not a CDN
    app.state.services = svc
    app.state.metrics = Metrics(svc)
    app.state.readiness = Readiness(ops.probes(svc))
    # Outermost last: metrics see every answer; bodies are refused before anything reads them, or waits.
    app.add_middleware(Lanes, api_threads=settings.api_threads, heavy_threads=settings.export_threads,
                       heavy_routes=privacy.router.routes)  # exports and erasures: their own lane
    app.add_middleware(BodyLimits, twilio_max=settings.twilio_max_body, api_max=settings.api_max_body)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    telephony.install(app, settings)
    for router in (accounts.router, calls.router, privacy.router, webhooks.router, ops.router, dashboard.router):
        app.include_router(router)

    return app


def create_server_app() -> FastAPI:
    """The app as `receptionist serve` runs it: one per process, its start-up heap frozen, its logs
    scrubbed of phone numbers (also in `serve --workers N`'s worker processes, which start here)."""
    install_log_scrubbing()
    return create_app(freeze_heap=True)
