"""Robocall screening: what the voice webhook does with a caller the account blocked, or one whose
caller ID failed its STIR/SHAKEN check, and each account's blocklist.

Two things decide, in this order:

1. **The blocklist.** A number an owner put on the account's blocklist is refused whatever
   `spam_screening` says (even `off`: the list is the owner's explicit choice, the setting is about
   what the carriers tell us). The caller hears a short message and the call ends.
2. **The caller ID's attestation**, as the telephony edge read it from the voice webhook: `passed`,
   `failed` or None (not verified, or nothing sent: the check exists only for calls that carry a
   SHAKEN PASSporT, in the United States). Only `failed` counts against the caller (a forged or
   tampered caller ID), and only as the account's `spam_screening` says: `off` ignores it, `flag`
   (the default) answers the call as usual but flags it `suspected-spam` (no SMS alert, no
   text-back; the email carries the flag), `block` refuses it like a blocked number.

A refused call is recorded at once with the flag `blocked` and the outcome `blocked`: no recording,
no relay, no alert, no text-back. Nothing is cached: the voice webhook asks the database once per
call (one lookup on the blocklist's unique (account, number) index), so a number blocked a moment
ago is refused on its next call, whichever process added it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receptionist.core.models import BlockedNumber
from receptionist.core.phone import is_e164

SPAM_SCREENING = ("off", "flag", "block")
DEFAULT_SPAM_SCREENING = "flag"
FLAG_BLOCKED = "blocked"
FLAG_SUSPECTED_SPAM = "suspected-spam"
FLAGS = (FLAG_BLOCKED, FLAG_SUSPECTED_SPAM)
OUTCOME_BLOCKED = "blocked"  # the outcome of a refused call: never "missed", so never texted back

# The caller ID's attestation as the telephony edge reads it (`calls.events.CallStarted.attestation`).
ATTESTATION_PASSED = "passed"
ATTESTATION_FAILED = "failed"


@dataclass(frozen=True)
class Verdict:
    """What screening decided for one call."""

    flags: tuple[str, ...] = ()
    reason: str | None = None  # why, in a few words, for the log

    @property
    def blocked(self) -> bool:
        return FLAG_BLOCKED in self.flags

    @property
    def stored(self) -> str | None:
        """The flags as the call row keeps them (`Call.flags`)."""
        return " ".join(self.flags) or None


ANSWER = Verdict()


def decide(*, listed: bool, attestation: str | None, spam_screening: str) -> Verdict:
    """The verdict for a caller: on the blocklist or not, the caller ID's attestation, the account's setting."""
    if spam_screening not in SPAM_SCREENING:
        raise ValueError(f"spam_screening must be one of {', '.join(SPAM_SCREENING)}, not {spam_screening!r}")
    if listed:
        return Verdict((FLAG_BLOCKED,), "on the account's blocklist")
    if attestation == ATTESTATION_FAILED:
        if spam_screening == "block":
            return Verdict((FLAG_BLOCKED, FLAG_SUSPECTED_SPAM), "caller ID failed its STIR/SHAKEN check")
        if spam_screening == "flag":
            return Verdict((FLAG_SUSPECTED_SPAM,), "caller ID failed its STIR/SHAKEN check")
    return ANSWER


class CallScreen:
    """The voice webhook's screening: one indexed lookup on the driver connection, like
    `calls.records.CallStarts` (the caller's phone is ringing), never cached."""

    STATEMENT = text("SELECT 1 FROM blocked_numbers WHERE account_id = :account_id AND number = :number")

    def __init__(self, engine: Engine):
        self.engine = engine
        compiled = self.STATEMENT.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positiontup

    def is_listed(self, account_id: str, number: str) -> bool:
        params = {"account_id": account_id, "number": number}
        if self.positional:
            params = tuple(params[name] for name in self.positional)
        try:
            return self._execute(params)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            return self._execute(params, fresh=True)  # a connection the server dropped: once more

    def _execute(self, params, fresh: bool = False) -> bool:
        connection = self.engine.raw_connection()
        try:
            if fresh:
                connection.invalidate()
                connection = self.engine.raw_connection()
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, params)
                found = cursor.fetchone() is not None
            finally:
                cursor.close()
            connection.rollback()  # end the read's transaction before the connection goes back
            return found
        finally:
            connection.close()

    def screen(self, *, account_id: str, spam_screening: str, caller: str, attestation: str | None) -> Verdict:
        # A withheld or anonymous caller ID is no number anyone can list: no lookup for it.
        listed = is_e164(caller) and self.is_listed(account_id, caller)
        return decide(listed=listed, attestation=attestation, spam_screening=spam_screening)


# --- the blocklist as the API, the dashboard and the CLI change it (roles: accounts.blocklist) -------

def listed_numbers(session: Session, account_id: str) -> list[BlockedNumber]:
    return list(session.scalars(select(BlockedNumber).where(BlockedNumber.account_id == account_id)
                                .order_by(BlockedNumber.number)))


def find_listed(session: Session, account_id: str, number: str) -> BlockedNumber | None:
    return session.scalar(select(BlockedNumber).where(BlockedNumber.account_id == account_id,
                                                      BlockedNumber.number == number))


def add_number(session: Session, account_id: str, number: str, *, by: str | None) -> tuple[BlockedNumber, bool]:
    """Put an E.164 number on the account's blocklist; (row, added now). Adding it twice is a no-op."""
    if not is_e164(number):
        raise ValueError(f"{number!r} is not an E.164 number")
    existing = find_listed(session, account_id, number)
    if existing is not None:
        return existing, False
    row = BlockedNumber(account_id=account_id, number=number, created_by=by)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # added at the same moment by someone else
        return find_listed(session, account_id, number), False
    return row, True


def remove_number(session: Session, account_id: str, number: str) -> bool:
    """Take the number off the account's blocklist; False when it was not on it."""
    result = session.execute(delete(BlockedNumber).where(BlockedNumber.account_id == account_id,
                                                         BlockedNumber.number == number)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1

