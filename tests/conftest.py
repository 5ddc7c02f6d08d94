"""Fixtures on real parts: PostgreSQL and SQLite, Redis, SeaweedFS S3, an aiosmtpd SMTP server,
espeak-ng speech, and a local stand-in of Twilio's REST API (the only remote API replaced).

Only fixtures live here; the constants and helpers they and the tests share are in tests/support/."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from redis import Redis

from receptionist.core.db import Database
from receptionist.core.queue import JobQueue
from receptionist.postcall.pipeline import PipelineContext
from receptionist.postcall.transcription import Transcriber
from receptionist.privacy.deployment import claim_deployment
from receptionist.settings import ENV_FILE_VARIABLE, Settings
from receptionist.wiring import build_pipeline_context
from sandbox import LocalS3, LocalTwilioApi, SmtpCapture
from sandbox.speech import CallAudio, synthesize_call
from tests.support.privacy import PrivacyWorld
from tests.support.service import Service, clean, serve
from tests.support.world import CALL_TURNS, PG_ADMIN_URL, REDIS_URL


@pytest.fixture(autouse=True)
def _no_env_file_between_tests() -> Iterator[None]:
    """`--env-file` hands its path on through the process environment (to the processes a command
    starts); a CLI test run in this process must not leave it for the next test."""
    os.environ.pop(ENV_FILE_VARIABLE, None)
    yield
    os.environ.pop(ENV_FILE_VARIABLE, None)


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


@pytest.fixture
def service(make_settings, database_url, twilio_api) -> Iterator[Service]:
    """The app on PostgreSQL and again on SQLite."""
    yield from serve(make_settings(database_url), twilio_api)


@pytest.fixture
def pg_service(make_settings, pg_database, twilio_api) -> Iterator[Service]:
    yield from serve(make_settings(pg_database), twilio_api)


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
    context to run jobs (tests/support/privacy.py)."""
    settings = make_settings(pg_database)
    clean(pg_database)
    ctx = make_context(settings)
    ctx.store.ensure_bucket()
    claim_deployment(ctx.db, ctx.store)  # as `serve` and `worker` do at start
    queue = JobQueue(redis_conn, settings.queue_name, settings.job_timeout_s)
    yield PrivacyWorld(settings, ctx.db, ctx.store, redis_conn, queue, ctx.twilio, twilio_api, ctx)
