"""Fixtures on real parts: PostgreSQL and SQLite, Redis, SeaweedFS S3, an aiosmtpd SMTP server,
espeak-ng speech, and a local stand-in of Twilio's REST API (the only remote API replaced)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from redis import Redis
from sqlalchemy import select, text

from receptionist.app import create_app
from receptionist.core.db import Database
from receptionist.core.models import Base
from receptionist.postcall.pipeline import PipelineContext
from receptionist.postcall.transcription import Transcriber
from receptionist.settings import Settings
from receptionist.wiring import build_pipeline_context
from sandbox import LocalS3, LocalTwilioApi, SmtpCapture
from sandbox.call_player import CallPlayer
from sandbox.ports import free_port
from sandbox.served_app import ServedApp
from sandbox.speech import CallAudio, synthesize_call

PG_ADMIN_URL = os.environ.get("RECEPTIONIST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RECEPTIONIST_TEST_REDIS", "redis://127.0.0.1:6379/13")

BUSINESS_NUMBER = "+15550100200"
CALLER_NUMBER = "+15550142367"
OWNER_EMAIL = "owner@acme-plumbing.example"

ACCOUNT = {
    "name": "Acme Plumbing",
    "phone_numbers": [BUSINESS_NUMBER],
    "timezone": "America/Chicago",
    "business": {
        "services": ["water heater repair", "drain cleaning"],
        "service_areas": ["Springfield", "Shelbyville"],
        "hours": {"mon": "08:00-17:00", "sat": "closed"},
    },
    "disclosure": "This call is recorded for quality.",
    "alert_emails": [OWNER_EMAIL],
}

CALL_TURNS = [
    ("receptionist", "Thanks for calling Acme Plumbing. How can I help you today?"),
    ("caller", "Hi, my water heater is leaking in the basement. I live in Springfield."),
    ("receptionist", "Sorry to hear that. A plumber will call you back soon. Goodbye."),
]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    name = f"receptionist_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    Database(url).migrate()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'receptionist.db'}"
    Database(url).migrate()
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request) -> str:
    return request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_database")


@pytest.fixture(scope="session")
def s3() -> Iterator[LocalS3]:
    with LocalS3() as server:
        yield server


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[LocalTwilioApi]:
    with LocalTwilioApi("AC" + secrets.token_hex(16), secrets.token_hex(16)) as api:
        yield api


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as server:
        yield server


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """One model per test session, as one per worker process in production."""
    settings = Settings(_env_file=None)
    return Transcriber(settings.whisper_model_path, settings.whisper_compute_type, settings.whisper_beam_size)


@pytest.fixture(scope="session")
def call_audio(tmp_path_factory) -> CallAudio:
    return synthesize_call(CALL_TURNS, tmp_path_factory.mktemp("audio") / "call.wav")


def _clean(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    db.dispose()


@pytest.fixture
def make_settings(s3, twilio_api, redis_conn, smtp):
    """Settings pointing at the real test services; keyword overrides per test."""
    bucket = f"calls-{uuid.uuid4().hex[:12]}"

    def build(database_url: str, **overrides) -> Settings:
        values = dict(
            _env_file=None,
            database_url=database_url,
            redis_url=REDIS_URL,
            s3_bucket=bucket,
            s3_endpoint_url=s3.endpoint_url,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            aws_region=s3.region,
            twilio_account_sid=twilio_api.account_sid,
            twilio_auth_token=twilio_api.auth_token,
            twilio_api_url=twilio_api.base_url,
            public_url="https://receptionist.example.com",
            smtp_url=smtp.url,
            admin_token="admin-" + secrets.token_hex(8),
            step_retry_window_s=20.0,
            session_secret="test-" + secrets.token_hex(16),
        )
        values.update(overrides)
        return Settings(**values)

    return build


@dataclass
class Service:
    """The app served by uvicorn on real services, plus handles tests need."""

    settings: Settings
    url: str
    http: httpx.Client
    player: CallPlayer
    app: object

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.admin_token}"}

    def create_account(self, **overrides) -> dict:
        body = {**ACCOUNT, **overrides}
        response = self.http.post("/api/accounts", json=body, headers=self.admin())
        assert response.status_code == 201, response.text
        return response.json()

    def call(self, call_sid: str) -> dict:
        response = self.http.get(f"/api/calls/{call_sid}", headers=self.admin())
        assert response.status_code == 200, response.text
        return response.json()

    def hear(self, call_sid: str, turns: list[tuple[str, str]]) -> None:
        """Store live turns on the call as the ConversationRelay session does while the caller talks."""
        from receptionist.core.models import Call

        with self.app.state.services.db.session() as session:
            call = session.scalar(select(Call).where(Call.call_sid == call_sid))
            call.conversation = [{"speaker": speaker, "text": text_, "at": call.started_at.isoformat()}
                                 for speaker, text_ in turns]

    def count(self, table: str) -> int:
        db = self.app.state.services.db
        with db.engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _serve(settings: Settings) -> Iterator[Service]:
    _clean(settings.database_url)
    app = create_app(settings)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30.0) as http:
        # Twilio signs over the public URL; the proxy in front of us forwards to the served port.
        player = CallPlayer(served.url, settings.twilio_account_sid, settings.twilio_auth_token,
                            public_url=settings.public_url, client=http)
        yield Service(settings, served.url, http, player, app)


@pytest.fixture
def service(make_settings, database_url) -> Iterator[Service]:
    """The app on PostgreSQL and again on SQLite."""
    yield from _serve(make_settings(database_url))


@pytest.fixture
def pg_service(make_settings, pg_database) -> Iterator[Service]:
    yield from _serve(make_settings(pg_database))


@pytest.fixture
def make_context(transcriber):
    contexts: list[PipelineContext] = []

    def build(settings: Settings) -> PipelineContext:
        ctx = build_pipeline_context(settings, transcriber=transcriber)
        contexts.append(ctx)
        return ctx

    yield build
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def privacy(make_settings, pg_database, make_context, twilio_api, redis_conn):
    """Accounts, calls and their stored objects made directly on the real services, with a worker
    context to run jobs (tests/privacy_support.py)."""
    from receptionist.core.queue import JobQueue
    from tests.privacy_support import PrivacyWorld

    settings = make_settings(pg_database)
    _clean(pg_database)
    ctx = make_context(settings)
    ctx.store.ensure_bucket()
    queue = JobQueue(redis_conn, settings.queue_name, settings.job_timeout_s)
    yield PrivacyWorld(settings, ctx.db, ctx.store, redis_conn, queue, ctx.twilio, twilio_api, ctx)


def free_tcp_port() -> int:
    return free_port()


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
