"""A call's live conversation in the database: read once when the relay connects, then written behind.

`ConversationStore` is the sync database side: one query at setup, batched UPDATEs after.
`ConversationWriter` persists every live call of the process without ever holding up a
conversation: a change only marks its call dirty; one writer takes the latest state of every dirty
call and stores them in one batch, in a worker thread, while the calls carry on. Under load the
batches grow instead of the writes queueing; a call's saves never overtake each other (one writer);
closing a call waits until its last state is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from sqlalchemy import JSON, bindparam, func, update
from sqlalchemy.exc import OperationalError

from receptionist.calls.records import find_call
from receptionist.core.db import Database
from receptionist.core.models import Call

log = logging.getLogger(__name__)

Snapshot = Callable[[], dict]  # the call's state now: {conversation, lead?, handoff?, outcome?}


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
    ended: bool  # the call's final status has arrived
    conversation: list | None
    lead: dict | None
    handoff: dict | None
    outcome: str | None


class ConversationStore:
    # The columns the conversation owns. Whatever the call already has is kept where the conversation
    # has nothing (COALESCE): the status callback's outcome, a lead the worker wrote.
    SAVE = (
        update(Call)
        .where(Call.call_sid == bindparam("sid"))
        .values(
            conversation=bindparam("conversation", type_=JSON(none_as_null=True)),
            lead=func.coalesce(bindparam("lead", type_=JSON(none_as_null=True)), Call.lead),
            handoff=func.coalesce(bindparam("handoff", type_=JSON(none_as_null=True)), Call.handoff),
            outcome=func.coalesce(bindparam("new_outcome", type_=Call.outcome.type), Call.outcome),
        )
    )

    def __init__(self, db: Database):
        self.db = db
        self.writer = ConversationWriter(self)

    def load(self, call_sid: str) -> LiveCall | None:
        with self.db.session() as session:
            call = find_call(session, call_sid)
            if call is None:
                return None
            account = call.account
            return LiveCall(
                call_sid=call.call_sid, account_id=account.id, account_active=account.status == "active",
                business_name=account.name, timezone=account.timezone or "UTC", business=dict(account.business or {}),
                greeting=account.greeting, transfer_number=account.transfer_number, from_number=call.from_number,
                to_number=call.to_number, ended=call.ended_at is not None, conversation=call.conversation,
                lead=call.lead, handoff=call.handoff, outcome=call.outcome,
            )

    def save(self, states: dict[str, dict]) -> None:
        """Store the state of several calls: one executemany on the autocommit engine (each row's
        UPDATE is atomic by itself; no BEGIN/COMMIT or pre-ping round trips)."""
        rows = [{"sid": sid, "conversation": state.get("conversation"), "lead": state.get("lead"),
                 "handoff": state.get("handoff"), "new_outcome": state.get("outcome")}
                for sid, state in states.items()]
        try:
            with self.db.hot_engine.connect() as connection:
                connection.execute(self.SAVE, rows)
        except OperationalError:  # a connection the server dropped: SQLAlchemy discarded it; once more
            with self.db.hot_engine.connect() as connection:
                connection.execute(self.SAVE, rows)

    def transfer_target(self, call_sid: str) -> tuple[str | None, str, str] | None:
        """(the account's transfer number, the number the caller dialled, the business name) for a call."""
        with self.db.session() as session:
            call = find_call(session, call_sid)
            if call is None:
                return None
            return call.account.transfer_number, call.to_number, call.account.name


class ConversationWriter:
    """The process's write-behind for live calls (see the module's docstring)."""

    def __init__(self, store: ConversationStore):
        self.store = store
        self.limiter = anyio.CapacityLimiter(1)  # its own thread: never queues behind (or starves) the routes'
        self._dirty: dict[str, Snapshot] = {}
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None

    def mark(self, call_sid: str, snapshot: Snapshot) -> None:
        """The call changed: store its state soon. Never blocks, never raises."""
        self._dirty[call_sid] = snapshot
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="conversation-writer")

    async def flush(self, call_sid: str, snapshot: Snapshot, timeout: float = 10.0) -> bool:
        """Store the call's state now and wait until it is stored; False when that took too long."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(call_sid, []).append(waiter)
        self.mark(call_sid, snapshot)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
            return True
        except asyncio.TimeoutError:
            log.error("call %s: its live conversation could not be stored within %.0f s", call_sid, timeout)
            return False

    async def _run(self) -> None:
        backoff = 0.25
        while self._dirty:
            batch, self._dirty = self._dirty, {}
            waiters = {sid: self._waiters.pop(sid) for sid in batch if sid in self._waiters}
            states = {sid: snapshot() for sid, snapshot in batch.items()}  # on the loop: consistent states
            try:
                await anyio.to_thread.run_sync(self.store.save, states, limiter=self.limiter)
            except Exception as exc:
                # Every save carries a call's whole state, so retrying loses nothing said meanwhile.
                log.warning("storing %d live conversations failed (%s); retrying", len(states), exc)
                for sid, snapshot in batch.items():
                    self._dirty.setdefault(sid, snapshot)
                for sid, pending in waiters.items():
                    self._waiters.setdefault(sid, []).extend(pending)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.25
            for pending in waiters.values():
                for waiter in pending:
                    if not waiter.done():
                        waiter.set_result(None)


class CallJournal:
    """One call's handle on the writer."""

    def __init__(self, writer: ConversationWriter, call_sid: str, snapshot: Snapshot):
        self.writer = writer
        self.call_sid = call_sid
        self.snapshot = snapshot

    def mark(self) -> None:
        self.writer.mark(self.call_sid, self.snapshot)

    async def close(self, timeout: float = 10.0) -> bool:
        """Wait until everything the call produced is in the database."""
        return await self.writer.flush(self.call_sid, self.snapshot, timeout)
