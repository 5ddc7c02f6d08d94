"""Which account answers a number, and the TwiML it answers with, cached for a few seconds.

The voice webhook runs while the caller's phone rings; looking the account up and rendering its
words on every call would cost more than everything else in that request. An account edit made
through this process shows at once (the directory is cleared); one made elsewhere within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from receptionist.calls.screening import DEFAULT_SPAM_SCREENING
from receptionist.core.db import Database
from receptionist.core.models import Account, PhoneNumber


@dataclass(frozen=True)
class RoutedAccount:
    id: str
    name: str
    retention_days: int
    training_opt_out: bool
    # The TwiML document this account answers a call with, given what belongs to that call alone
    # (rendered once per account; the telephony edge fills in the call's part).
    answer: Callable[[str], str]
    # What a caller screening refuses hears before the call ends (rendered once per account). The
    # blocklist itself is not cached here: calls.screening asks the database on every call.
    refusal: str
    spam_screening: str


class AccountDirectory:
    def __init__(self, db: Database, render_answer: Callable[[Account], Callable[[str], str]],
                 render_refusal: Callable[[Account], str], ttl_s: float = 5.0):
        self.db = db
        self.render_answer = render_answer
        self.render_refusal = render_refusal
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, RoutedAccount | None]] = {}
        self._lock = threading.Lock()

    def route(self, number: str) -> RoutedAccount | None:
        now = time.monotonic()
        entry = self._entries.get(number)
        if entry is not None and entry[0] > now:
            return entry[1]
        routed = self._load(number)
        with self._lock:
            self._entries[number] = (now + self.ttl_s, routed)
        return routed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _load(self, number: str) -> RoutedAccount | None:
        with self.db.session() as session:
            account = session.scalar(
                select(Account).join(PhoneNumber).where(PhoneNumber.number == number, Account.status == "active")
            )
            if account is None:
                return None
            return RoutedAccount(account.id, account.name, account.retention_days, account.training_opt_out,
                                 self.render_answer(account), self.render_refusal(account),
                                 account.spam_screening or DEFAULT_SPAM_SCREENING)
