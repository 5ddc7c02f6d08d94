"""Dependencies routes declare: services, a database session, the caller's identity."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from receptionist.errors import ApiError
from receptionist.services import AppServices

bearer = HTTPBearer(auto_error=False)


async def services(request: Request) -> AppServices:
    # async on purpose: FastAPI runs sync dependencies in the thread pool, a hop this lookup
    # does not need (it showed in the voice webhook's profile).
    return request.app.state.services


def session(svc: AppServices = Depends(services)) -> Iterator[Session]:
    with svc.db.session() as s:
        yield s


async def require_admin(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer), svc: AppServices = Depends(services)
) -> str:
    """The deployment's admin token (`RECEPTIONIST_ADMIN_TOKEN`); per-user roles come with the accounts API."""
    expected = svc.settings.admin_token
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "missing bearer token")
    if not expected or not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(401, "unknown token")
    return "admin"
