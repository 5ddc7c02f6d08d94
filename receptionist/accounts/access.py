"""Loading an account or a call for someone, with the checks that decide whether they may see it.

The API and the dashboard both load through here, so another account's call is "not found" in
both, exactly like one that does not exist (`auth.check_account`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from receptionist.accounts import auth
from receptionist.accounts.auth import Principal
from receptionist.calls.records import find_call
from receptionist.core.models import Account, Call


def load_account(db: Session, who: Principal, account_id: str, **check) -> Account:
    account = db.get(Account, account_id) if auth.can_see(who, account_id) else None
    auth.check_account(who, account.id if account else None, **check)
    return account


def load_call(db: Session, who: Principal, call_sid: str, **check) -> Call:
    call = find_call(db, call_sid)
    auth.check_account(who, call.account_id if call else None, what="call", **check)
    return call
