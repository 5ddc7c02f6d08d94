"""An account's team: adding users, listing them, removing them and rotating their tokens.

The API, the dashboard and the CLI all go through here. The account's owners and the admins manage
its team; members do not see it. A user of another account is "not found", like one that does not
exist. Every change is in the audit log; a token is returned once and never stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receptionist.accounts import auth
from receptionist.accounts.auth import Principal
from receptionist.core import audit
from receptionist.core.errors import Conflict, NotFound
from receptionist.core.models import Account, User


def _manage(who: Principal, account: Account) -> None:
    auth.check_account(who, account.id, write=True)


def _user_of(db: Session, account: Account, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None or user.account_id != account.id:
        raise NotFound("no such user")
    return user


def add_user(db: Session, who: Principal, account: Account, *, email: str, role: str,
             expires_at: datetime | None = None) -> tuple[User, str]:
    _manage(who, account)
    if account.status != "active":
        raise Conflict("the account is closed")
    taken = db.scalar(select(User.role).where(User.account_id == account.id,
                                              func.lower(User.email) == email.lower()))
    if taken is not None:
        raise Conflict(f"{email} is already a user of this account ({taken}): rotate their token instead")
    user, token = auth.create_user(db, email=email, role=role, account_id=account.id, expires_at=expires_at)
    audit.record(db, who.actor, "user.create", account_id=account.id, user=user.id, email=user.email, role=user.role,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return user, token


def add_admin(db: Session, who: Principal, *, email: str) -> tuple[User, str]:
    """A deployment admin (made from the server's shell: `receptionist accounts create-admin`)."""
    auth.require_role(who, "admin")
    if db.scalar(select(User.id).where(User.account_id.is_(None), func.lower(User.email) == email.lower())):
        raise Conflict(f"{email} is already an admin: rotate their token instead")
    user, token = auth.create_user(db, email=email, role="admin", account_id=None)
    audit.record(db, who.actor, "user.create", user=user.id, email=user.email, role=user.role)
    return user, token


def list_users(db: Session, who: Principal, account: Account) -> list[User]:
    _manage(who, account)
    return list(db.scalars(select(User).where(User.account_id == account.id).order_by(User.created_at, User.id)))


def remove_user(db: Session, who: Principal, account: Account, user_id: str) -> User:
    """Remove a user; their token and dashboard sessions stop working at once."""
    _manage(who, account)
    user = _user_of(db, account, user_id)
    if user.role == "owner":
        owners = db.scalar(select(func.count()).select_from(User).where(User.account_id == account.id,
                                                                       User.role == "owner"))
        if owners <= 1:
            raise Conflict("this is the account's last owner: add another owner first, or rotate this token")
    db.delete(user)
    db.flush()
    audit.record(db, who.actor, "user.remove", account_id=account.id, user=user.id, email=user.email, role=user.role)
    return user


def rotate_token(db: Session, who: Principal, account: Account, user_id: str, *,
                 expires_at: datetime | None = None) -> tuple[User, str]:
    """A new token for the user; the old one, and every dashboard session signed in with it, end now."""
    _manage(who, account)
    if account.status != "active":
        raise Conflict("the account is closed")
    user = _user_of(db, account, user_id)
    token = auth.issue_new_token(user, expires_at)
    db.flush()
    audit.record(db, who.actor, "user.token-rotate", account_id=account.id, user=user.id, email=user.email,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return user, token
