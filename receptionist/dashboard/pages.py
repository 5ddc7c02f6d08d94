"""Rendering dashboard pages: the Jinja2 templates (HTML-escaped), their filters, the headers every
page carries, and error pages in place of the API's JSON errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from receptionist.core import phone
from receptionist.core.errors import DomainError
from receptionist.dashboard.sessions import COOKIE_NAME
from receptionist.web.errors import ApiError, as_api_error

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
CSS_PATH = HERE / "static" / "dashboard.css"

SPEAKERS = {"caller": "Caller", "receptionist": "Receptionist", "staff": "Staff"}
OUTCOMES = {"answered": "answered", "message-taken": "message taken", "appointment": "appointment asked",
            "transferred": "put through", "missed": "missed", "failed": "failed", "blocked": "blocked",
            None: "in progress"}
URGENCY_WORDS = {"emergency": "Emergency", "high": "Urgent", "normal": "Normal", "low": "Low"}
MESSAGES = "dashboard_messages.txt"
ERROR_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Not valid"}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | None, timezone: str | None, with_year: bool = True) -> str:
    """'Tue 3 Mar 2026, 14:05 CST' in the account's timezone."""
    if value is None:
        return "—"
    local = value.astimezone(_zone(timezone))
    date = f"{local:%a} {local.day} {local:%b}" + (f" {local.year}" if with_year else "")
    return f"{date}, {local:%H:%M} {local:%Z}".strip()


def duration(seconds: int | float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def clock(seconds: float | None) -> str:
    """A position in the recording, m:ss."""
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def speaker(name: str | None) -> str:
    return SPEAKERS.get(name or "", (name or "unknown").capitalize())


def label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def outcome(value: str | None) -> str:
    """An outcome in words (`message-taken` → "message taken"); its badge class is `outcome-<value>`."""
    return OUTCOMES.get(value, (value or "").replace("-", " "))


def urgency(value: str | None) -> str:
    return URGENCY_WORDS.get(value or "", "")


def build_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(local_time=local_time, duration=duration, clock=clock, speaker=speaker, label=label,
                       outcome=outcome, urgency=urgency, phone=phone.shown, tel=phone.tel_uri)
    return env


ENVIRONMENT = build_environment()


def security_headers(media_origin: str | None) -> dict[str, str]:
    # No scripts at all; audio may come from the S3 endpoint the presigned redirect points at.
    media = "'self' https:" + (f" {media_origin}" if media_origin else "")
    return {
        "Cache-Control": "no-store",  # pages carry transcripts and leads
        "Content-Security-Policy": (f"default-src 'none'; style-src 'self'; img-src 'self'; media-src {media}; "
                                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


def media_origin(request: Request) -> str | None:
    endpoint = request.app.state.services.settings.s3_endpoint_url
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("viewer", None)
    context.setdefault("title", "")
    context.setdefault("account", None)
    html = ENVIRONMENT.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers=security_headers(media_origin(request)))


class SignInRequired(Exception):
    """No valid session: go to the sign-in page (and forget the cookie when it was a stale one)."""

    def __init__(self, next_path: str | None = None, forget: bool = False, notice: str | None = None):
        super().__init__("sign-in required")
        self.next_path = next_path
        self.forget = forget
        self.notice = notice


def sign_in_redirect(exc: SignInRequired) -> RedirectResponse:
    query = {k: v for k, v in (("next", exc.next_path), ("notice", exc.notice)) if v}
    response = RedirectResponse("/signin" + (f"?{urlencode(query)}" if query else ""), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if exc.forget:
        response.delete_cookie(COOKIE_NAME, path="/")
    return response


def message(request: Request, name: str, /, **values) -> str:
    """One of the dashboard's messages (prompts/dashboard_messages.txt)."""
    return request.app.state.services.templates.macros(MESSAGES)(name, **values)


def error_page(request: Request, status_code: int, text: str) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    if status_code == 404:
        # The same words whether the thing is missing or someone else's: existence must not leak.
        text = message(request, "not_found")
    return render(request, "error.html", status_code=status_code, viewer=viewer,
                  title=ERROR_TITLES.get(status_code, "Error"), status=status_code, message=text)


class PageRoute(APIRoute):
    """A route that answers with pages: a sign-in redirect or an HTML error page, never JSON."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return sign_in_redirect(exc)
            except (ApiError, DomainError) as exc:
                exc = as_api_error(exc)
                if exc.status == 401:
                    return sign_in_redirect(SignInRequired())
                return error_page(request, exc.status, exc.message)
            except RequestValidationError:
                return error_page(request, 404 if request.method == "GET" else 400, message(request, "bad_address"))

        return page_handler
