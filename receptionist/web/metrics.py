"""Prometheus metrics: request latencies measured in this process, and the state of calls, jobs
and alerts read from the database and Redis at scrape time (so web and worker processes agree
without a shared metrics store)."""

from __future__ import annotations

import hmac
import statistics
import time
from datetime import timedelta

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from receptionist.core.models import Call, Delivery, Recording, utcnow
from receptionist.web.errors import ApiError


def authorize_scrape(token: str | None, authorization: str | None) -> None:
    """`/metrics` is closed unless `RECEPTIONIST_METRICS_TOKEN` is set (404: nothing to find on the
    public port), and then answers only `Authorization: Bearer <that token>` (401 otherwise)."""
    if not token:
        raise ApiError(404, "not found")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "a bearer token is required to scrape metrics")


class DatabaseCollector:
    def __init__(self, services):
        self.services = services

    def collect(self):
        db, queue = self.services.api_db, self.services.queue.queue
        with db.session() as session:
            calls = GaugeMetricFamily("receptionist_calls", "Calls recorded, by outcome", labels=["outcome"])
            for outcome, count in session.execute(select(Call.outcome, func.count()).group_by(Call.outcome)):
                calls.add_metric([outcome or "in-progress"], count)
            recordings = GaugeMetricFamily("receptionist_recordings", "Recordings, by processing status",
                                           labels=["status"])
            for status, count in session.execute(select(Recording.status, func.count()).group_by(Recording.status)):
                recordings.add_metric([status], count)
            given_up = GaugeMetricFamily(
                "receptionist_recordings_given_up",
                "Recordings given up and never retried (unusable, too-large, attempts-exhausted, abandoned-exhausted, retries-exhausted)",
                labels=["reason"])
            for reason, count in session.execute(select(Recording.failure, func.count())
                                                 .where(Recording.status == "failed").group_by(Recording.failure)):
                given_up.add_metric([reason or "unknown"], count)
            deliveries = GaugeMetricFamily("receptionist_alert_deliveries", "Owner alerts, by channel and status",
                                           labels=["channel", "status"])
            for channel, status, count in session.execute(
                    select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)):
                deliveries.add_metric([channel, status], count)
            since = utcnow() - timedelta(hours=24)
            spans = [(done - created).total_seconds() for created, done in session.execute(
                select(Recording.created_at, Recording.finished_at).where(Recording.finished_at >= since))]
        yield calls
        yield recordings
        yield given_up
        yield deliveries
        latency = GaugeMetricFamily("receptionist_recording_latency_seconds",
                                    "Recording callback to processed (alerts sent), last 24 h", labels=["quantile"])
        if spans:
            ordered = sorted(spans)
            for q in (0.5, 0.95, 1.0):
                latency.add_metric([str(q)], ordered[min(len(ordered) - 1, int(q * len(ordered)))])
            latency.add_metric(["mean"], statistics.fmean(spans))
        yield latency
        jobs = GaugeMetricFamily("receptionist_jobs", "Jobs by state", labels=["queue", "state"])
        jobs.add_metric([queue.name, "queued"], queue.count)
        for state, registry in (("started", StartedJobRegistry), ("failed", FailedJobRegistry),
                                ("scheduled", ScheduledJobRegistry)):
            jobs.add_metric([queue.name, state], registry(queue.name, connection=queue.connection).count)
        yield jobs


class Metrics:
    def __init__(self, services):
        self.registry = CollectorRegistry()
        self.requests = Histogram("receptionist_http_request_duration_seconds", "HTTP request latency",
                                  ["method", "route", "status"], registry=self.registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.registry.register(DatabaseCollector(services))


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): a few microseconds on the webhook's path, measured."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status["code"])).observe(
                time.perf_counter() - started)
