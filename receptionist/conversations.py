"""A call's live conversation in the database: read once when the relay connects, then written behind.

`ConversationStore` is the sync database side (one query at setup, one UPDATE per save).
`CallJournal` persists one call's record as it changes without ever holding up the conversation:
a change marks the record dirty and a single writer per call saves the latest state in a worker
thread, so changes made while a save is running are coalesced into the next one and saves of one
call never overtake each other. Closing the journal waits for the last save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import select, update

from receptionist.db import Database
from receptionist.models import Call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveCall:
    """What the relay needs to know about a call when it connects."""

    call_sid: str
    account_id: str
    account_active: bool
    business_name: str
    timezone: str
    business: dict
    greeting: str | None
    transfer_number: str | None
    from_number: str
    to_number: str
    twilio_status: str
    conversation: list | None
    lead: dict | None
    handoff: dict | None
    outcome: str | None


class ConversationStore:
    def __init__(self, db: Database, write_threads: int = 4):
        self.db = db
        # Saves get their own few threads, so a burst of them never queues the webhooks' threads.
        self.limiter = anyio.CapacityLimiter(write_threads)

    def load(self, call_sid: str) -> LiveCall | None:
        with self.db.session() as session:
            call = session.scalar(select(Call).where(Call.call_sid == call_sid))
            if call is None:
                return None
            account = call.account
            return LiveCall(
                call_sid=call.call_sid, account_id=account.id, account_active=account.status == "active",
                business_name=account.name, timezone=account.timezone or "UTC", business=dict(account.business or {}),
                greeting=account.greeting, transfer_number=account.transfer_number, from_number=call.from_number,
                to_number=call.to_number, twilio_status=call.twilio_status, conversation=call.conversation,
                lead=call.lead, handoff=call.handoff, outcome=call.outcome,
            )

    def save(self, call_sid: str, values: dict) -> None:
        """One UPDATE of the columns the conversation owns (conversation, lead, handoff, outcome)."""
        with self.db.engine.begin() as connection:
            connection.execute(update(Call).where(Call.call_sid == call_sid).values(**values))

    def transfer_target(self, call_sid: str) -> tuple[str | None, str, str] | None:
        """(the account's transfer number, the number the caller dialled, the business name) for a call."""
        with self.db.session() as session:
            call = session.scalar(select(Call).where(Call.call_sid == call_sid))
            if call is None:
                return None
            return call.account.transfer_number, call.to_number, call.account.name


class CallJournal:
    def __init__(self, store: ConversationStore, call_sid: str, snapshot: Callable[[], dict]):
        self.store = store
        self.call_sid = call_sid
        self.snapshot = snapshot
        self._dirty = False
        self._writer: asyncio.Task | None = None

    def mark(self) -> None:
        """Something changed: save it soon (never blocks, never raises)."""
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name=f"journal-{self.call_sid}")

    async def _write(self) -> None:
        backoff = 0.25
        while self._dirty:
            self._dirty = False
            values = self.snapshot()  # taken on the event loop: a consistent state
            try:
                await anyio.to_thread.run_sync(self.store.save, self.call_sid, values, limiter=self.store.limiter)
            except Exception as exc:
                # Every save carries the whole state, so the retry loses nothing said meanwhile.
                log.warning("call %s: saving the live conversation failed (%s); retrying", self.call_sid, exc)
                self._dirty = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def close(self, timeout: float = 10.0) -> None:
        """Wait for the last save (the conversation is complete in the database afterwards)."""
        if self._dirty and (self._writer is None or self._writer.done()):
            self.mark()
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout)
            except asyncio.TimeoutError:
                self._writer.cancel()
                log.error("call %s: the live conversation could not be saved in %.0f s", self.call_sid, timeout)
