"""Accounts as the API, the dashboard and the CLI change them (one code path for all three).

What no request may do, whoever asks: route a phone number the deployment does not own (checked
against the Twilio account when one is configured) or one another account holds; point the
transfer or alert numbers outside the outbound fence (`core.destinations`). Only an admin creates
accounts and changes `phone_numbers` or `retention_days`: a number decides whose calls these are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.accounts.auth import Principal, require_role
from receptionist.accounts.schemas import AccountCreate
from receptionist.core import audit
from receptionist.core.destinations import Destinations
from receptionist.core.errors import Conflict, Forbidden, Invalid, Unavailable
from receptionist.core.models import Account, PhoneNumber, utcnow
from receptionist.core.ports import LookupUnavailable, TelephonyApi
from receptionist.notify import consent
from receptionist.privacy import retention

# Changing these re-tags stored objects; the privacy module owns that.
STORAGE_FIELDS = ("retention_days", "training_opt_out")
ADMIN_FIELDS = ("phone_numbers", "retention_days")


@dataclass(frozen=True)
class AccountRules:
    """What this deployment lets an account hold: outbound numbers inside the fence, and phone
    numbers its Twilio account really owns (`telephony` None: no Twilio credentials, nothing to ask)."""

    destinations: Destinations = field(default_factory=Destinations)
    telephony: TelephonyApi | None = None


def _claim_numbers(db: Session, numbers: list[str], account_id: str | None, rules: AccountRules) -> None:
    taken = db.scalars(select(PhoneNumber.number).where(PhoneNumber.number.in_(numbers),
                                                        PhoneNumber.account_id != (account_id or ""))).all()
    if taken:  # only admins get here, and they see every account anyway
        raise Conflict(f"phone number already routed to another account: {', '.join(sorted(taken))}")
    if rules.telephony is None:
        return
    current = set(db.scalars(select(PhoneNumber.number).where(PhoneNumber.account_id == account_id))) \
        if account_id else set()
    for number in numbers:
        if number in current:
            continue  # already routed here; a number released at Twilio must still be removable
        try:
            owned = rules.telephony.owns_number(number)
        except LookupUnavailable as exc:
            raise Unavailable(f"could not check {number} with Twilio; nothing was changed ({exc})") from None
        if not owned:
            raise Invalid(f"phone_numbers: {number} is not one of this deployment's Twilio numbers "
                          "(buy or port it into the Twilio account first)")


def _check_destinations(values: dict, rules: AccountRules) -> None:
    if values.get("transfer_number"):
        rules.destinations.check(values["transfer_number"], "transfer_number")
    for number in values.get("alert_sms") or []:
        rules.destinations.check(number, "alert_sms")


def _record_alert_numbers(db: Session, account: Account, numbers: list[str]) -> None:
    for phone in numbers:
        consent.record_alert_opt_in(db, phone, via=f"added as alert number of account {account.id} ({account.name})")


def create_account(db: Session, body: AccountCreate, *, who: Principal, rules: AccountRules) -> Account:
    require_role(who, "admin")
    numbers = list(dict.fromkeys(body.phone_numbers))
    _check_destinations(body.model_dump(), rules)
    _claim_numbers(db, numbers, None, rules)
    values = body.model_dump(exclude={"phone_numbers"}, mode="json")
    account = Account(**values)
    account.numbers = [PhoneNumber(number=n) for n in numbers]
    db.add(account)
    db.flush()
    _record_alert_numbers(db, account, account.alert_sms)
    audit.record(db, who.actor, "account.create", account_id=account.id, phone_numbers=numbers)
    return account


def update_account(db: Session, account: Account, changes: dict, *, who: Principal, rules: AccountRules,
                   queue=None) -> None:
    """Apply validated changes (an `AccountUpdate` dump with only the fields that were set)."""
    refused = [name for name in ADMIN_FIELDS if name in changes]
    if refused and not who.is_admin:
        raise Forbidden(f"only an admin changes {' and '.join(refused)}")
    if account.status != "active" and set(changes) - {"status"}:
        raise Conflict("the account is closed")
    changes = dict(changes)
    fields = sorted(changes)  # what the audit log records: every field the request changed
    _check_destinations(changes, rules)
    detail = {}
    if "phone_numbers" in changes:
        numbers = list(dict.fromkeys(changes.pop("phone_numbers")))
        _claim_numbers(db, numbers, account.id, rules)
        detail = {"phone_numbers": {"from": account.phone_numbers, "to": numbers}}
        account.numbers = [n for n in account.numbers if n.number in numbers] + [
            PhoneNumber(number=n) for n in numbers if n not in account.phone_numbers]
    storage = {k: changes.pop(k) for k in STORAGE_FIELDS if k in changes}
    for name, value in changes.items():
        setattr(account, name, value)
    if "alert_sms" in changes:
        _record_alert_numbers(db, account, account.alert_sms)
    if storage:
        retention.apply_account_settings(db, account, queue=queue, **storage)
    db.flush()
    audit.record(db, who.actor, "account.update", account_id=account.id, fields=fields, **detail)


def close_account(db: Session, account: Account, *, who: Principal) -> None:
    """Close the account: its numbers stop answering and its users' tokens stop working at once."""
    require_role(who, "admin")
    if account.status == "closed":
        return
    account.status, account.closed_at = "closed", utcnow()
    audit.record(db, who.actor, "account.close", account_id=account.id)

