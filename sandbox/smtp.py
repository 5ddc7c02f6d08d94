"""An SMTP server that keeps every message it receives, for asserting on sent email."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import quote

from sandbox.ports import LOOPBACK, free_port
from sandbox.server import LocalServer


@dataclass(frozen=True)
class CapturedEmail:
    """One delivered message: the SMTP envelope plus the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """The text/plain body (or the first text part), decoded."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


class _Inbox:
    """aiosmtpd handler; runs on the controller's event-loop thread, read from test threads."""

    def __init__(self) -> None:
        self._messages: list[CapturedEmail] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        captured = CapturedEmail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=parsed,  # type: ignore[arg-type]  # policy.default yields EmailMessage
            raw=raw,
        )
        with self._changed:
            self._messages.append(captured)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[CapturedEmail]:
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float) -> list[CapturedEmail]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout=timeout):
                raise TimeoutError(
                    f"expected {count} email(s) within {timeout:.1f}s, got {len(self._messages)}"
                )
            return list(self._messages)


class _Logins:
    """aiosmtpd authenticator accepting one user name and password (AUTH PLAIN/LOGIN)."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.username, self.password)
        return AuthResult(success=ok, handled=False)


class SmtpCapture(LocalServer):
    """aiosmtpd on 127.0.0.1 collecting messages; stop/start keeps the port and the inbox.

    By default plain SMTP without AUTH or TLS, which is what a local relay offers. With `tls` (a server
    SSLContext) it is a mail provider's submission port: `tls_mode="starttls"` (RFC 3207: STARTTLS
    required before MAIL, port 587 style) or `"implicit"` (RFC 8314: TLS from the first byte, port 465
    style); with `login` it requires AUTH, only over TLS.
    """

    def __init__(self, port: int | None = None, *, tls: ssl.SSLContext | None = None, tls_mode: str = "starttls",
                 login: tuple[str, str] | None = None) -> None:
        if tls_mode not in ("starttls", "implicit"):
            raise ValueError("tls_mode is starttls or implicit")
        # Chosen once so a restarted server comes back where clients expect it.
        self._port = port or free_port()
        self._inbox = _Inbox()
        self._controller: Any = None
        self._tls = tls
        self._tls_mode = tls_mode
        self._login = login

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        """The product's RECEPTIONIST_SMTP_URL for this server (with the login when it requires one)."""
        scheme = "smtp" if self._tls is None else {"starttls": "smtp+starttls", "implicit": "smtps"}[self._tls_mode]
        user = f"{quote(self._login[0], safe='')}:{quote(self._login[1], safe='')}@" if self._login else ""
        return f"{scheme}://{user}{LOOPBACK}:{self._port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[CapturedEmail]:
        return self._inbox.snapshot()

    def env(self) -> dict[str, str]:
        return {"RECEPTIONIST_SMTP_URL": self.url}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedEmail]:
        """Block until at least `count` messages arrived; returns all of them."""
        return self._inbox.wait_for(count, timeout)

    def clear(self) -> None:
        self._inbox.clear()

    def start(self, ready_timeout: float = 5.0) -> None:
        if self._controller is not None:
            raise RuntimeError("SmtpCapture is already started")
        from aiosmtpd.controller import Controller

        options: dict[str, Any] = {}
        if self._tls is not None and self._tls_mode == "implicit":
            options["ssl_context"] = self._tls
        elif self._tls is not None:
            options.update(tls_context=self._tls, require_starttls=True)
        if self._login is not None:
            # Implicit TLS is TLS from the first byte, which aiosmtpd does not count as "TLS" for AUTH.
            options.update(authenticator=_Logins(*self._login), auth_required=True,
                           auth_require_tls=self._tls_mode == "starttls")
        controller = Controller(
            self._inbox,
            hostname=LOOPBACK,
            port=self._port,
            ready_timeout=ready_timeout,
            server_hostname="smtp-capture.local",
            **options,
        )
        # asyncio sets SO_REUSEADDR, so the port is reusable at once after stop().
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (connections are refused until start()); captured mail is kept."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
