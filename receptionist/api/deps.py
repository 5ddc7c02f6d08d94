"""Dependencies routes declare: services, a database session, the caller's identity."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from receptionist.accounts.auth import Principal, authenticate, require_role
from receptionist.services import AppServices

bearer = HTTPBearer(auto_error=False)


async def services(request: Request) -> AppServices:
    # async on purpose: FastAPI runs sync dependencies in the thread pool, a hop this lookup
    # does not need (it showed in the voice webhook's profile).
    return request.app.state.services


def session(svc: AppServices = Depends(services)) -> Iterator[Session]:
    with svc.db.session() as s:
        yield s


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
