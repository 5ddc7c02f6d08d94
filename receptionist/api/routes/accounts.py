"""Accounts: the businesses this deployment answers for, and their teams."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receptionist.accounts import blocklist, team
from receptionist.accounts import service as accounts
from receptionist.accounts.access import load_account
from receptionist.accounts.auth import Principal
from receptionist.accounts.schemas import (
    AccountCreate,
    AccountUpdate,
    BlockedNumberCreate,
    Phone,
    TokenRotate,
    UserCreate,
)
from receptionist.api.deps import TokenFirst, principal
from receptionist.api.routes.calls import call_list_item
from receptionist.api.schemas import AccountOut, BlockedNumberOut, CallPage, UserInfo, UserOut
from receptionist.core.models import Account, Call, User
from receptionist.web.deps import services, session
from receptionist.web.errors import ApiError

router = APIRouter(prefix="/api/accounts", tags=["accounts"], route_class=TokenFirst)


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id, name=account.name, phone_numbers=account.phone_numbers, timezone=account.timezone,
        business=account.business or {}, greeting=account.greeting, disclosure=account.disclosure,
        transfer_number=account.transfer_number, alert_sms=list(account.alert_sms or []),
        alert_emails=list(account.alert_emails or []), retention_days=account.retention_days,
        training_opt_out=account.training_opt_out, missed_call_text_back=account.missed_call_text_back,
        spam_screening=account.spam_screening, voice=account.voice, status=account.status, created_at=account.created_at,
    )


def user_info(user: User) -> UserInfo:
    return UserInfo(id=user.id, email=user.email, role=user.role, created_at=user.created_at,
                    expires_at=user.token_expires_at)


@router.post("", status_code=201, response_model=AccountOut)
def post_account(body: AccountCreate, db: Session = Depends(session), who: Principal = Depends(principal),
                 svc=Depends(services)):
    account = accounts.create_account(db, body, who=who, rules=svc.account_rules)
    db.commit()
    svc.directory.clear()  # a number may have been "unknown" a moment ago
    return account_out(account)


@router.get("/{account_id}", response_model=AccountOut)
def get_account(account_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    return account_out(load_account(db, who, account_id))


@router.patch("/{account_id}", response_model=AccountOut)
def patch_account(account_id: str, body: AccountUpdate, db: Session = Depends(session),
                  who: Principal = Depends(principal), svc=Depends(services)):
    account = load_account(db, who, account_id, write=True)
    changes = body.model_dump(exclude_unset=True, mode="json")
    accounts.update_account(db, account, changes, who=who, rules=svc.account_rules, queue=svc.queue)
    db.commit()
    svc.directory.clear()
    return account_out(account)


@router.delete("/{account_id}", response_model=AccountOut)
def close_account(account_id: str, db: Session = Depends(session), who: Principal = Depends(principal),
                  svc=Depends(services)):
    """Close the account: its numbers stop answering, its users' tokens stop working; its data is kept
    90 days, then purged."""
    account = load_account(db, who, account_id, admin=True)
    accounts.close_account(db, account, who=who)
    db.commit()
    svc.directory.clear()
    return account_out(account)


@router.post("/{account_id}/users", status_code=201, response_model=UserOut)
def add_user(account_id: str, body: UserCreate, db: Session = Depends(session), who: Principal = Depends(principal)):
    """Add an owner or member; the answer carries their token, shown this once."""
    account = load_account(db, who, account_id, write=True)
    user, token = team.add_user(db, who, account, email=body.email, role=body.role, expires_at=body.expires_at)
    db.commit()
    return UserOut(id=user.id, email=user.email, role=user.role, token=token)


@router.get("/{account_id}/users", response_model=list[UserInfo])
def list_users(account_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    """The account's team (owners and admins): who can sign in, with which role, until when."""
    account = load_account(db, who, account_id, write=True)
    return [user_info(user) for user in team.list_users(db, who, account)]


@router.delete("/{account_id}/users/{user_id}", response_model=UserInfo)
def remove_user(account_id: str, user_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    """Remove a user: their token and their dashboard sessions stop working at once."""
    account = load_account(db, who, account_id, write=True)
    user = team.remove_user(db, who, account, user_id)
    db.commit()
    return user_info(user)


@router.post("/{account_id}/users/{user_id}/token", response_model=UserOut)
def rotate_token(account_id: str, user_id: str, body: TokenRotate | None = None, db: Session = Depends(session),
                 who: Principal = Depends(principal)):
    """A new token for the user, shown this once; the old token stops working at once."""
    account = load_account(db, who, account_id, write=True)
    user, token = team.rotate_token(db, who, account, user_id, expires_at=body.expires_at if body else None)
    db.commit()
    return UserOut(id=user.id, email=user.email, role=user.role, token=token)


def blocked_out(row) -> BlockedNumberOut:
    return BlockedNumberOut(number=row.number, created_at=row.created_at, created_by=row.created_by)


@router.get("/{account_id}/blocklist", response_model=list[BlockedNumberOut])
def list_blocklist(account_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    """The callers this account refuses: they hear a short message and the call ends."""
    account = load_account(db, who, account_id)
    return [blocked_out(row) for row in blocklist.list_blocked(db, who, account)]


@router.post("/{account_id}/blocklist", response_model=BlockedNumberOut,
             responses={200: {"description": "already on the blocklist"}, 201: {"description": "blocked"}})
def add_to_blocklist(account_id: str, body: BlockedNumberCreate, response: Response, db: Session = Depends(session),
                     who: Principal = Depends(principal)):
    """Block a caller (E.164, or as written locally): their next call is refused, whichever process takes it.
    201 when added, 200 when the number was on the list already."""
    account = load_account(db, who, account_id, write=True)
    row, added = blocklist.block(db, who, account, body.number)
    db.commit()
    response.status_code = 201 if added else 200
    return blocked_out(row)


@router.delete("/{account_id}/blocklist/{e164}", status_code=204, response_class=Response)
def remove_from_blocklist(account_id: str, e164: str, db: Session = Depends(session),
                          who: Principal = Depends(principal)):
    """Take a caller off the blocklist (404 when the number is not on it)."""
    account = load_account(db, who, account_id, write=True)
    blocklist.unblock(db, who, account, e164)
    db.commit()
    return Response(status_code=204)


@router.get("/{account_id}/calls", response_model=CallPage)
def list_calls(
    account_id: str,
    since: datetime | None = Query(None, description="calls started at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="calls started before (ISO 8601)"),
    caller: Phone | None = Query(None, description="the caller's number, E.164"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    db: Session = Depends(session),
    who: Principal = Depends(principal),
):
    account = load_account(db, who, account_id)
    where = [Call.account_id == account.id]
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ApiError(422, "since and until need a timezone (e.g. 2026-01-31T09:00:00Z)")
    if since is not None:
        where.append(Call.started_at >= since)
    if until is not None:
        where.append(Call.started_at < until)
    if caller is not None:
        where.append(Call.from_number == caller)
    total = db.scalar(select(func.count()).select_from(Call).where(*where))
    rows = db.scalars(select(Call).where(*where).order_by(Call.started_at.desc(), Call.id.desc())
                      .limit(limit).offset(offset)).all()
    return CallPage(items=[call_list_item(c) for c in rows], total=total, limit=limit, offset=offset,
                    next_offset=offset + limit if offset + limit < total else None)
