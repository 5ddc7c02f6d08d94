"""Dependencies of the API's routes: the caller's identity (services and sessions: receptionist.web.deps).

The bearer token is checked before the body is read: FastAPI reads and parses a route's body before
it solves the route's dependencies, so the API's routes are `TokenFirst` routes, which authenticate
the caller from the `Authorization` header first and leave the `Principal` for `principal` to hand out.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from receptionist.accounts.auth import Principal, authenticate, require_role
from receptionist.web.services import AppServices

bearer = HTTPBearer(auto_error=False)


def _authenticate(svc: AppServices, token: str | None) -> Principal:
    with svc.api_db.session() as db:
        return authenticate(db, token, svc.settings.admin_token)


class TokenFirst(APIRoute):
    """An API route whose caller is authenticated (401 on a missing or unknown token) before its body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            credentials = await bearer(request)
            request.state.principal = await run_in_threadpool(
                _authenticate, request.app.state.services, credentials.credentials if credentials else None)
            return await handler(request)

        return authenticated


async def principal(request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The caller of an API route: the deployment's admin token or a user's token, as `TokenFirst` found it.

    (`bearer` is declared for the OpenAPI page's security scheme; the header was read already.)"""
    return request.state.principal


def require_admin(who: Principal = Depends(principal)) -> Principal:
    require_role(who, "admin")
    return who
