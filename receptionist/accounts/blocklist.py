"""An account's blocklist as the API, the dashboard and the CLI change it: the callers whose calls
are refused at the voice webhook (`calls.screening`).

The same roles as every account edit: a member reads the list, an owner (or an admin) changes it,
and another account's list is "not found". A number is taken as people write it and stored as
E.164 (`core.phone.normalise`, in the country of the account's first number); one that is not a
phone number is refused with the reason. Each change is in the audit log, with the number masked
(the list itself holds it; the audit log outlives a caller's erasure).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from receptionist.accounts import auth
from receptionist.accounts.auth import Principal
from receptionist.calls import screening
from receptionist.core import audit, phone
from receptionist.core.errors import Conflict, Invalid, NotFound
from receptionist.core.models import Account, BlockedNumber


def normalised(account: Account, raw: str) -> str:
    """The number as E.164, read in the country of the account's first number (NANP by default)."""
    home = account.phone_numbers[0] if account.phone_numbers else "+1"
    number = phone.normalise(raw or "", "", phone.country_code_of(home))
    if number is None or not phone.is_e164(number):
        raise Invalid(f"number: {raw!r} is not a phone number (write it like +15551234567)")
    return number


def list_blocked(db: Session, who: Principal, account: Account) -> list[BlockedNumber]:
    auth.check_account(who, account.id)
    return screening.listed_numbers(db, account.id)


def block(db: Session, who: Principal, account: Account, raw: str, *, via: str = "api") -> tuple[BlockedNumber, bool]:
    """Block a caller; (row, added now). Their next call is refused, in every process at once."""
    auth.check_account(who, account.id, write=True)
    if account.status != "active":
        raise Conflict("the account is closed")
    number = normalised(account, raw)
    if number in account.phone_numbers:
        raise Invalid(f"number: {number} is one of this account's own numbers")
    row, added = screening.add_number(db, account.id, number, by=who.actor)
    if added:
        audit.record(db, who.actor, "blocklist.add", account_id=account.id, number=phone.masked(number), via=via)
    return row, added


def unblock(db: Session, who: Principal, account: Account, raw: str, *, via: str = "api") -> str:
    """Take a caller off the blocklist; NotFound when the number is not on it."""
    auth.check_account(who, account.id, write=True)
    number = normalised(account, raw)
    if not screening.remove_number(db, account.id, number):
        raise NotFound(f"{number} is not on this account's blocklist")
    audit.record(db, who.actor, "blocklist.remove", account_id=account.id, number=phone.masked(number), via=via)
    return number
