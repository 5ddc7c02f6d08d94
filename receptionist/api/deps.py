"""Dependencies of the API's routes: the caller's identity (services and sessions: receptionist.web.deps)."""

from __future__ import annotations

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from receptionist.accounts.auth import Principal, authenticate, require_role
from receptionist.web.deps import services, session
from receptionist.web.services import AppServices

bearer = HTTPBearer(auto_error=False)


def principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: AppServices = Depends(services),
    db: Session = Depends(session),
) -> Principal:
    """The caller of an API route: the deployment's admin token or a user's token (401 otherwise)."""
    return authenticate(db, credentials.credentials if credentials else None, svc.settings.admin_token)


def require_admin(who: Principal = Depends(principal)) -> Principal:
    require_role(who, "admin")
    return who
