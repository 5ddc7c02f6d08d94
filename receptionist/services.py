"""What the web process builds once at start-up and its routes share."""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.db import Database
from receptionist.queue import JobQueue
from receptionist.settings import Settings
from receptionist.storage import ObjectStore
from receptionist.templates import Templates
from receptionist.twilio.signature import SignatureChecker


@dataclass
class AppServices:
    settings: Settings
    db: Database
    queue: JobQueue
    store: ObjectStore
    signatures: SignatureChecker
    templates: Templates

    @classmethod
    def build(cls, settings: Settings) -> AppServices:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            queue=JobQueue.from_url(settings.redis_url, settings.queue_name, settings.job_timeout_s),
            store=ObjectStore.from_settings(settings),
            signatures=SignatureChecker(settings.twilio_auth_token, settings.public_url),
            templates=Templates(),
        )

    def close(self) -> None:
        self.db.dispose()
        self.queue.redis.close()
