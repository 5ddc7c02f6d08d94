"""Accounts: the businesses this deployment answers for."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.api.deps import require_admin, services, session
from receptionist.api.schemas import AccountCreate, AccountOut
from receptionist import consent
from receptionist.errors import ApiError
from receptionist.models import Account, PhoneNumber

router = APIRouter(prefix="/api/accounts", tags=["accounts"])


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id, name=account.name, phone_numbers=account.phone_numbers, timezone=account.timezone,
        business=account.business or {}, greeting=account.greeting, disclosure=account.disclosure,
        transfer_number=account.transfer_number, alert_sms=list(account.alert_sms or []),
        alert_emails=list(account.alert_emails or []), retention_days=account.retention_days,
        training_opt_out=account.training_opt_out, missed_call_text_back=account.missed_call_text_back,
        status=account.status, created_at=account.created_at,
    )


def create_account(db: Session, body: AccountCreate) -> Account:
    """Shared by the API and the CLI."""
    taken = db.scalars(select(PhoneNumber.number).where(PhoneNumber.number.in_(body.phone_numbers))).all()
    if taken:
        raise ApiError(409, f"phone number already routed to another account: {', '.join(sorted(taken))}")
    values = body.model_dump(exclude={"phone_numbers"}, mode="json")
    account = Account(**values)
    account.numbers = [PhoneNumber(number=n) for n in dict.fromkeys(body.phone_numbers)]
    db.add(account)
    db.flush()
    for phone in account.alert_sms:
        consent.record_alert_opt_in(db, phone, via=f"added as alert number of account {account.id} ({account.name})")
    return account


@router.post("", status_code=201, response_model=AccountOut)
def post_account(body: AccountCreate, db: Session = Depends(session), _role: str = Depends(require_admin),
                 svc=Depends(services)):
    account = account_out(create_account(db, body))
    db.commit()
    svc.directory.clear()  # a number may have been "unknown" a moment ago
    return account
