"""What the web process builds once at start-up and its routes share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from openai import AsyncOpenAI

from receptionist.agent.llm import build_client
from receptionist.calls.records import CallStarts
from receptionist.calls.conversations import ConversationStore
from receptionist.core.db import Database
from receptionist.calls.directory import AccountDirectory
from receptionist.core.models import utcnow
from receptionist.core.queue import JobQueue
from receptionist.settings import Settings
from receptionist.storage.objects import ObjectStore
from receptionist.core.templates import Templates
from receptionist.telephony import twiml
from receptionist.telephony.signature import SignatureChecker


@dataclass
class AppServices:
    settings: Settings
    db: Database
    queue: JobQueue
    store: ObjectStore
    signatures: SignatureChecker
    templates: Templates
    directory: AccountDirectory
    call_starts: CallStarts
    conversations: ConversationStore
    llm: AsyncOpenAI | None  # the relay's LLM client; None when no LLM is configured (offline receptionist)
    clock: Callable[[], datetime] = field(default=utcnow)  # aware "now"; tests move it outside business hours

    @classmethod
    def build(cls, settings: Settings) -> AppServices:
        db = Database(settings.database_url, settings.db_pool_size)
        templates = Templates()
        return cls(
            settings=settings,
            db=db,
            queue=JobQueue.from_url(settings.redis_url, settings.queue_name, settings.job_timeout_s),
            store=ObjectStore.from_settings(settings),
            signatures=SignatureChecker(settings.twilio_auth_token, settings.public_url),
            templates=templates,
            directory=AccountDirectory(db, partial(twiml.answer_for_account, templates=templates, settings=settings)),
            call_starts=CallStarts(db.hot_engine),
            conversations=ConversationStore(db),
            llm=build_client(settings),
        )

    def close(self) -> None:
        self.db.dispose()
        self.queue.redis.close()
