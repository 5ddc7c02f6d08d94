"""Operations: liveness, readiness (database, Redis, S3) and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from receptionist import __version__
from receptionist.web.deps import services
from receptionist.web.metrics import authorize_scrape
from receptionist.web.services import AppServices

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz():
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request):
    """Database, Redis and S3, each probed off the routes' threads with a short timeout; cached a few seconds."""
    checks = await request.app.state.readiness.checks()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)


def probes(svc: AppServices) -> dict[str, Callable[[], object]]:
    """What `/readyz` checks: the API's database connections, Redis and the bucket."""
    return {"database": lambda: _db_ping(svc), "redis": svc.queue.ping, "s3": svc.store.ping}


def _db_ping(svc: AppServices) -> None:
    with svc.api_db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, svc=Depends(services)):
    authorize_scrape(svc.settings.metrics_token, request.headers.get("authorization"))
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
