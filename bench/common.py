"""Embedded services for benchmarks (same parts as `receptionist demo`)."""

from __future__ import annotations

import os
import secrets
import statistics
from contextlib import ExitStack
from pathlib import Path

from receptionist.app import create_app
from receptionist.settings import Settings
from sandbox import LocalRedis, LocalS3, LocalTwilioApi, SmtpCapture
from sandbox.call_player import CallPlayer
from sandbox.ports import free_port
from sandbox.served_app import ServedApp

ACCOUNT = {
    "name": "Acme Plumbing",
    "phone_numbers": ["+15550100200"],
    "timezone": "America/Chicago",
    "business": {"services": ["water heater repair", "drain cleaning", "leak detection"],
                 "service_areas": ["Springfield", "Shelbyville"]},
    "alert_emails": ["owner@acme-plumbing.example"],
}


class Stack:
    """Redis, SeaweedFS, SMTP capture, Twilio stand-in and the served app, torn down on exit."""

    def __init__(self, workdir: Path, database_url: str | None = None):
        self.workdir = workdir
        self.database_url = database_url or f"sqlite:///{workdir / 'bench.db'}"
        self._stack = ExitStack()

    def __enter__(self) -> Stack:
        s = self._stack
        self.redis = s.enter_context(LocalRedis())
        self.s3 = s.enter_context(LocalS3(data_dir=self.workdir / "s3"))
        self.smtp = s.enter_context(SmtpCapture())
        self.twilio = s.enter_context(LocalTwilioApi("AC" + secrets.token_hex(16), secrets.token_hex(16)))
        port = free_port()
        self.settings = Settings(
            _env_file=None, database_url=self.database_url, redis_url=self.redis.url, s3_bucket="bench",
            s3_endpoint_url=self.s3.endpoint_url, aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key, aws_region=self.s3.region,
            twilio_account_sid=self.twilio.account_sid, twilio_auth_token=self.twilio.auth_token,
            twilio_api_url=self.twilio.base_url, public_url=f"http://127.0.0.1:{port}", allow_plain_http=True,
            smtp_url=self.smtp.url,
            admin_token=secrets.token_hex(16), session_secret=secrets.token_hex(32),
        )
        self.app = s.enter_context(ServedApp(create_app(self.settings), port=port))
        self.player = CallPlayer(self.app.url, self.twilio.account_sid, self.twilio.auth_token,
                                 public_url=self.settings.public_url, twilio=self.twilio)
        s.callback(self.player.close)
        for number in ACCOUNT["phone_numbers"]:  # the deployment's Twilio account owns what it routes
            self.twilio.add_incoming_number(number)
        response = self.player.http.post(f"{self.app.url}/api/accounts", json=ACCOUNT,
                                         headers={"Authorization": f"Bearer {self.settings.admin_token}"})
        response.raise_for_status()
        self.account = response.json()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


def service_env(*, database_url: str, redis_url: str, s3, account_sid: str, auth_token: str, public_url: str,
                admin_token: str, **extra: str) -> dict[str, str]:
    """The environment for `receptionist serve` in a benchmark: this one's variables, none inherited."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "OPENAI_"))}
    return inherited | {
        "RECEPTIONIST_DATABASE_URL": database_url, "RECEPTIONIST_REDIS_URL": redis_url,
        "RECEPTIONIST_S3_ENDPOINT_URL": s3.endpoint_url, "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key, "RECEPTIONIST_S3_BUCKET": "bench",
        "TWILIO_ACCOUNT_SID": account_sid, "TWILIO_AUTH_TOKEN": auth_token,
        "RECEPTIONIST_PUBLIC_URL": public_url, "RECEPTIONIST_ADMIN_TOKEN": admin_token,
        "RECEPTIONIST_SESSION_SECRET": secrets.token_hex(32),
    } | extra


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
