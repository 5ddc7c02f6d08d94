"""Dependencies every HTTP surface declares: the process's services and a database session."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from receptionist.web.services import AppServices


async def services(request: Request) -> AppServices:
    # async on purpose: FastAPI runs sync dependencies in the thread pool, a hop this lookup
    # does not need (it showed in the voice webhook's profile).
    return request.app.state.services


def session(svc: AppServices = Depends(services)) -> Iterator[Session]:
    """A session on the API's and dashboard's own connections (the Twilio edge uses `svc.db` directly)."""
    with svc.api_db.session() as s:
        yield s
