"""Request bodies limited before they are read.

An ASGI middleware in front of every route: a declared `Content-Length` over the limit is refused
(413) before the app sees the request, and a body that streams without one (chunked) is counted as
it arrives by Starlette's `RequestBodyLimitMiddleware`, which stops the read at the limit (413, the
JSON error shape through `web.errors`). The Twilio webhooks get a small limit (Twilio posts short
forms) and accept only `application/x-www-form-urlencoded`, the one body Twilio sends (415
otherwise, before a byte is read); everything else (the API's JSON, the dashboard's forms) a larger
one. Nothing behind a refusal runs, so nothing is written.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from receptionist.web.errors import error_response

TWILIO_PREFIX = "/twilio/"
TWILIO_FORM = "application/x-www-form-urlencoded"


class BodyLimits:
    def __init__(self, app: ASGIApp, *, twilio_max: int, api_max: int):
        self.app = app
        self.limits = {True: twilio_max, False: api_max}
        self.counted = {True: RequestBodyLimitMiddleware(app, twilio_max),
                        False: RequestBodyLimitMiddleware(app, api_max)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        twilio = scope["path"].startswith(TWILIO_PREFIX)
        refusal = self._refusal(scope, Headers(scope=scope), twilio)
        if refusal is not None:
            status, message = refusal
            # The unread body stays unread: uvicorn closes the connection after this answer.
            return await error_response(status, message, headers={"Connection": "close"})(scope, receive, send)
        await self.counted[twilio](scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers, twilio: bool) -> tuple[int, str] | None:
        limit = self.limits[twilio]
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return 400, f"invalid Content-Length {declared[:40]!r}"
            if int(declared) > limit:
                return 413, f"request body of {int(declared)} bytes is over this endpoint's limit of {limit} bytes"
        if twilio and scope["method"] == "POST":
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != TWILIO_FORM:
                return 415, f"Twilio webhooks take {TWILIO_FORM} bodies only, not {media_type or 'no content type'!r}"
        return None
