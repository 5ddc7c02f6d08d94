"""What the web process builds once at start-up and its routes share (built by `receptionist.wiring`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from receptionist.accounts.service import AccountRules
from receptionist.agent.llm import LlmClients
from receptionist.calls.conversations import ConversationStore
from receptionist.calls.directory import AccountDirectory
from receptionist.calls.records import CallStarts
from receptionist.calls.screening import CallScreen
from receptionist.core.db import Database
from receptionist.core.models import utcnow
from receptionist.core.ports import TelephonyApi
from receptionist.core.queue import JobQueue
from receptionist.core.templates import Templates
from receptionist.settings import Settings
from receptionist.storage.objects import ObjectStore


@dataclass
class AppServices:
    settings: Settings
    db: Database  # the Twilio edge's connections (webhooks, relay, call routing)
    queue: JobQueue
    store: ObjectStore
    twilio: TelephonyApi  # the one REST client of the process (erasure deletes Twilio's copy)
    templates: Templates
    directory: AccountDirectory
    call_starts: CallStarts
    screen: CallScreen  # the voice webhook's blocklist lookup and screening verdict
    conversations: ConversationStore
    llm: LlmClients  # the relay's model comes from here; unconfigured means the offline receptionist
    account_rules: AccountRules  # the outbound fence and the Twilio account's numbers, for account changes
    close: Callable[[], None]  # closes everything above that holds a connection (set by whoever built it)
    # The API's, the dashboard's, the exports' and the probes' own connections (receptionist.web.lanes):
    # however many of those wait, the Twilio edge's pool is untouched. Defaults to `db` (tests, one-pool apps).
    api_db: Database | None = None
    clock: Callable[[], datetime] = field(default=utcnow)  # aware "now"; tests move it outside business hours

    def __post_init__(self) -> None:
        if self.api_db is None:
            self.api_db = self.db
