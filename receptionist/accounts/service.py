"""Accounts as the API and the CLI change them (one code path for both)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.accounts.schemas import AccountCreate
from receptionist.core import audit
from receptionist.core.errors import Conflict
from receptionist.core.models import Account, PhoneNumber, utcnow
from receptionist.notify import consent
from receptionist.privacy import retention

# Changing these re-tags stored objects; the privacy module owns that.
STORAGE_FIELDS = ("retention_days", "training_opt_out")


def _claim_numbers(db: Session, numbers: list[str], account_id: str | None) -> None:
    taken = db.scalars(select(PhoneNumber.number).where(PhoneNumber.number.in_(numbers),
                                                        PhoneNumber.account_id != (account_id or ""))).all()
    if taken:
        raise Conflict(f"phone number already routed to another account: {', '.join(sorted(taken))}")


def _record_alert_numbers(db: Session, account: Account, numbers: list[str]) -> None:
    for phone in numbers:
        consent.record_alert_opt_in(db, phone, via=f"added as alert number of account {account.id} ({account.name})")


def create_account(db: Session, body: AccountCreate, *, actor: str) -> Account:
    _claim_numbers(db, body.phone_numbers, None)
    values = body.model_dump(exclude={"phone_numbers"}, mode="json")
    account = Account(**values)
    account.numbers = [PhoneNumber(number=n) for n in dict.fromkeys(body.phone_numbers)]
    db.add(account)
    db.flush()
    _record_alert_numbers(db, account, account.alert_sms)
    audit.record(db, actor, "account.create", account_id=account.id)
    return account


def update_account(db: Session, account: Account, changes: dict, *, actor: str, queue=None) -> None:
    """Apply validated changes (an `AccountUpdate` dump with only the fields that were set)."""
    if account.status != "active" and set(changes) - {"status"}:
        raise Conflict("the account is closed")
    changes = dict(changes)
    fields = sorted(changes)  # what the audit log records: every field the request changed
    if "phone_numbers" in changes:
        numbers = list(dict.fromkeys(changes.pop("phone_numbers")))
        _claim_numbers(db, numbers, account.id)
        account.numbers = [n for n in account.numbers if n.number in numbers] + [
            PhoneNumber(number=n) for n in numbers if n not in account.phone_numbers]
    storage = {k: changes.pop(k) for k in STORAGE_FIELDS if k in changes}
    for field, value in changes.items():
        setattr(account, field, value)
    if "alert_sms" in changes:
        _record_alert_numbers(db, account, account.alert_sms)
    if storage:
        retention.apply_account_settings(db, account, queue=queue, **storage)
    db.flush()
    audit.record(db, actor, "account.update", account_id=account.id, fields=fields)


def close_account(db: Session, account: Account, *, actor: str) -> None:
    if account.status == "closed":
        return
    account.status, account.closed_at = "closed", utcnow()
    audit.record(db, actor, "account.close", account_id=account.id)
