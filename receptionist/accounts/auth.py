"""Who is asking, and what they may do.

Roles: an admin runs the whole deployment; an owner runs one account (edits it, adds its team);
a member reads its account. Bearer tokens are random and long, so a plain SHA-256 of the token is
what is stored and looked up: the token itself is shown once, when it is created.

Order of answers, so that nothing leaks: no or unknown token → 401; another account's resource →
404 (as if it did not exist); a known user without the role for this action → 403. A token whose
account is closed, or whose expiry has passed, is refused like an unknown one (401), in the API
and the dashboard alike (`refusal`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.core.errors import Forbidden, Invalid, NotFound, Unauthenticated
from receptionist.core.models import Account, User, utcnow

ROLES = ("admin", "owner", "member")
ACCOUNT_CLOSED, TOKEN_EXPIRED = "the account is closed", "the token has expired"
TOKEN_PREFIX = "rcp_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    actor: str  # for the audit log: "user:<id> <email>" or "admin-token"
    role: str
    account_id: str | None  # None for admins
    user_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ENV_ADMIN = Principal(actor="admin-token", role="admin", account_id=None)


def authenticate(session: Session, token: str | None, admin_token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("missing bearer token")
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return ENV_ADMIN
    row = session.execute(select(User, Account.status).outerjoin(Account, Account.id == User.account_id)
                          .where(User.token_hash == hash_token(token))).first()
    if row is None:
        raise Unauthenticated("unknown token")
    user, account_status = row
    reason = refusal(user, account_status)
    if reason:
        raise Unauthenticated(reason)
    return user_principal(user)


def refusal(user: User, account_status: str | None, now: datetime | None = None) -> str | None:
    """Why a known user may not act now (their account closed, their token expired), or None."""
    if user.account_id is not None and account_status != "active":
        return ACCOUNT_CLOSED
    if user.token_expires_at is not None and user.token_expires_at <= (now or utcnow()):
        return TOKEN_EXPIRED
    return None


def user_principal(user: User) -> Principal:
    """The principal a user acts as (the API's bearer token and the dashboard's session alike)."""
    return Principal(actor=f"user:{user.id} {user.email}", role=user.role, account_id=user.account_id,
                     user_id=user.id)


def can_see(principal: Principal, account_id: str) -> bool:
    return principal.is_admin or principal.account_id == account_id


def check_account(principal: Principal, account_id: str | None, *, write: bool = False, admin: bool = False,
                  what: str = "account") -> None:
    """404 unless the principal may see the account; then 403 unless it may do this to it."""
    if account_id is None or not can_see(principal, account_id):
        raise NotFound(f"no such {what}")
    if admin and not principal.is_admin:
        raise Forbidden("only an admin may do this")
    if write and principal.role == "member":
        raise Forbidden("members may read this account, not change it")


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")


def create_user(session: Session, *, email: str, role: str, account_id: str | None,
                expires_at: datetime | None = None) -> tuple[User, str]:
    """A user and its token (returned once, stored only as a hash)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    if (role == "admin") != (account_id is None):
        raise Invalid("admins belong to no account; owners and members to exactly one")
    check_expiry(expires_at)
    token = new_token()
    user = User(email=email, role=role, account_id=account_id, token_hash=hash_token(token),
                token_expires_at=expires_at)
    session.add(user)
    session.flush()
    return user, token


def check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise Invalid("expires_at must be a moment in the future, with its timezone (e.g. 2027-01-31T00:00:00Z)")


def issue_new_token(user: User, expires_at: datetime | None = None) -> str:
    """Replace the user's token (the old one stops working at once); returns the new one, shown once."""
    check_expiry(expires_at)
    token = new_token()
    user.token_hash, user.token_expires_at = hash_token(token), expires_at
    return token
