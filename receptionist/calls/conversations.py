"""A call's live conversation in the database: read once when the relay connects, then written behind.

`ConversationStore` is the sync database side: one query at setup, batched UPDATEs after.
One relay session at a time owns a call's conversation (`claim`): every save is fenced by the
owner's session id, so a second socket for the call is refused, and a session that lost the call
to a reconnect can no longer write over what the new one stores.
`ConversationWriter` persists every live call of the process without ever holding up a
conversation: a change only marks its call dirty; one writer takes the latest state of every dirty
call and stores them in one batch, in a worker thread, while the calls carry on. Under load the
batches grow instead of the writes queueing; a call's saves never overtake each other (one writer);
closing a call waits until its last state is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import anyio
import anyio.to_thread
from sqlalchemy import JSON, bindparam, func, select, update
from sqlalchemy.exc import OperationalError

from receptionist.core.queue import JobQueue, QueueUnavailable
from receptionist.webhooks import events as webhook_events
from receptionist.calls.records import find_call
from receptionist.core.db import Database
from receptionist.core.models import Call

log = logging.getLogger(__name__)

Snapshot = Callable[[], dict]  # the call's state now: {conversation, lead?, handoff?, outcome?}
# A reconnect waits this long for the session it replaces to store its last words before taking over
# (that session's process may be gone; then its last unsaved moment is all that is lost).
TAKEOVER_WAIT_S = 3.0
POLL_S = 0.05


class Claim(Enum):
    OWNED = "owned"
    LIVE = "another relay session is live for this call"
    USED = "this relay URL was already used"
    SUPERSEDED = "a newer relay session has taken this call"


@dataclass(frozen=True)
class CallAccount:
    """What a call's next TwiML needs of its account (after the relay session)."""

    business_name: str
    business_number: str  # the number the caller dialled
    transfer_number: str | None
    voice: str | None
    business: dict


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
    # has nothing (COALESCE): the status callback's outcome, a lead the worker wrote. Only the session
    # that owns the call writes.
    SAVE = (
        update(Call)
        .where(Call.call_sid == bindparam("sid"), Call.relay_session == bindparam("session"))
        .values(
            conversation=bindparam("conversation", type_=JSON(none_as_null=True)),
            lead=func.coalesce(bindparam("lead", type_=JSON(none_as_null=True)), Call.lead),
            handoff=func.coalesce(bindparam("handoff", type_=JSON(none_as_null=True)), Call.handoff),
            outcome=func.coalesce(bindparam("new_outcome", type_=Call.outcome.type), Call.outcome),
        )
    )

    def __init__(self, db: Database, *, public_url: str = "", queue: JobQueue | None = None):
        self.db = db
        self.writer = ConversationWriter(self)
        # lead.captured: recorded (idempotently) the first time this process stores a call's lead,
        # and queued at once when there is a queue (else the workers' reconciler queues it).
        self.public_url, self.queue = public_url, queue
        self._announced: set[str] = set()

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

    def save(self, states: dict[tuple[str, str], dict]) -> None:
        """Store the state of several calls: one executemany on the autocommit engine (each row's
        UPDATE is atomic by itself; no BEGIN/COMMIT or pre-ping round trips)."""
        rows = [{"sid": sid, "session": session, "conversation": state.get("conversation"), "lead": state.get("lead"),
                 "handoff": state.get("handoff"), "new_outcome": state.get("outcome")}
                for (sid, session), state in states.items()]
        try:
            with self.db.hot_engine.connect() as connection:
                connection.execute(self.SAVE, rows)
        except OperationalError:  # a connection the server dropped: SQLAlchemy discarded it; once more
            with self.db.hot_engine.connect() as connection:
                connection.execute(self.SAVE, rows)
        captured = [sid for (sid, _session), state in states.items() if state.get("lead") and sid not in self._announced]
        if captured:
            self.announce_leads(captured)

    def announce_leads(self, call_sids: list[str]) -> None:
        """Record `lead.captured` for calls whose live conversation captured the caller's details."""
        recorded = []
        with self.db.session() as session:
            for call_sid in call_sids:
                call = find_call(session, call_sid)
                if call is not None:
                    recorded += webhook_events.lead_captured(session, call, self.public_url)
        if len(self._announced) > 10_000:
            self._announced.clear()
        self._announced.update(call_sids)
        if self.queue is not None:
            try:
                for delivery_id in recorded:
                    self.queue.enqueue_webhook(delivery_id, 0)
            except QueueUnavailable as exc:
                log.warning("lead.captured deliveries %s stay owed; the reconciler will queue them: %s", recorded, exc)

    def account_of(self, call_sid: str) -> CallAccount | None:
        """The account a call belongs to, as it is now (not as it was when the call started)."""
        with self.db.session() as session:
            call = find_call(session, call_sid)
            if call is None:
                return None
            account = call.account
            return CallAccount(account.name, call.to_number, account.transfer_number, account.voice,
                               dict(account.business or {}))

    # --- who owns the live conversation ------------------------------------------------------------
    def claim(self, call_sid: str, attempt: int, session_id: str, *, takeover_wait_s: float = TAKEOVER_WAIT_S) -> Claim:
        """Make `session_id` the call's one live relay session for relay attempt `attempt`.

        An attempt connects once. A higher attempt (the reconnect after a failed session) takes the
        call over from a lower one, after waiting up to `takeover_wait_s` for it to let go.
        """
        deadline = time.monotonic() + takeover_wait_s
        while True:
            free = self._take(call_sid, attempt, session_id, takeover=False)
            if free:
                return Claim.OWNED
            row = self._read(select(Call.relay_session, Call.relay_attempt).where(Call.call_sid == call_sid))
            if row is None:
                return Claim.SUPERSEDED
            holder, highest = row
            if highest > attempt:
                return Claim.SUPERSEDED
            if highest == attempt:
                return Claim.LIVE if holder is not None else Claim.USED
            if time.monotonic() >= deadline:
                return Claim.OWNED if self._take(call_sid, attempt, session_id, takeover=True) else Claim.SUPERSEDED
            time.sleep(POLL_S)

    def _take(self, call_sid: str, attempt: int, session_id: str, *, takeover: bool) -> bool:
        condition = [Call.call_sid == call_sid, Call.relay_attempt < attempt]
        if not takeover:
            condition.append(Call.relay_session.is_(None))
        return self._write(update(Call).where(*condition).values(relay_session=session_id, relay_attempt=attempt)) == 1

    def release(self, call_sid: str, session_id: str) -> bool:
        """The session is over (its last state stored); False when another session had taken the call."""
        return self._write(update(Call).where(Call.call_sid == call_sid, Call.relay_session == session_id)
                           .values(relay_session=None)) == 1

    def wait_until_released(self, call_sid: str, timeout_s: float) -> bool:
        """Wait until no relay session owns the call (its conversation is all stored); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            row = self._read(select(Call.relay_session).where(Call.call_sid == call_sid))
            if row is None or row[0] is None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


    def _write(self, statement) -> int:
        """One autocommit statement; its row count. A connection the server dropped is retried once."""
        for tries_left in (1, 0):
            try:
                with self.db.hot_engine.connect() as connection:
                    return connection.execute(statement).rowcount
            except OperationalError:
                if not tries_left:
                    raise
        raise AssertionError("unreachable")

    def _read(self, statement):
        for tries_left in (1, 0):
            try:
                with self.db.hot_engine.connect() as connection:
                    return connection.execute(statement).one_or_none()
            except OperationalError:
                if not tries_left:
                    raise
        raise AssertionError("unreachable")


def new_session_id() -> str:
    return uuid.uuid4().hex


class ConversationWriter:
    """The process's write-behind for live calls (see the module's docstring)."""

    def __init__(self, store: ConversationStore):
        self.store = store
        self.limiter = anyio.CapacityLimiter(1)  # its own thread: never queues behind (or starves) the routes'
        self._dirty: dict[tuple[str, str], Snapshot] = {}  # (call SID, relay session) → its state
        self._waiters: dict[tuple[str, str], list[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None

    def mark(self, key: tuple[str, str], snapshot: Snapshot) -> None:
        """The call changed: store its state soon. Never blocks, never raises."""
        self._dirty[key] = snapshot
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="conversation-writer")

    async def flush(self, key: tuple[str, str], snapshot: Snapshot, timeout: float = 10.0) -> bool:
        """Store the call's state now and wait until it is stored; False when that took too long."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        self.mark(key, snapshot)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
            return True
        except asyncio.TimeoutError:
            log.error("call %s: its live conversation could not be stored within %.0f s", key[0], timeout)
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
    """One relay session's handle on the writer (it writes only while it owns the call)."""

    def __init__(self, writer: ConversationWriter, call_sid: str, session_id: str, snapshot: Snapshot):
        self.writer = writer
        self.key = (call_sid, session_id)
        self.snapshot = snapshot

    def mark(self) -> None:
        self.writer.mark(self.key, self.snapshot)

    async def close(self, timeout: float = 10.0) -> bool:
        """Wait until everything the call produced is in the database."""
        return await self.writer.flush(self.key, self.snapshot, timeout)
