"""Email over SMTP, configured by one URL.

`smtp://host:port` plain, `smtp+starttls://host:port` upgrades with STARTTLS (RFC 3207) and refuses
to go on without it, `smtps://host:port` is TLS from the first byte (RFC 8314); `user:password@` in
the URL logs in (only after TLS when the scheme has it).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from receptionist.core.retry import PermanentError

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class RecipientRefused(PermanentError):
    pass


class Mailer:
    def __init__(self, url: str, timeout_s: float = 20.0, ca_file: str | None = None):
        parsed = urlparse(url)
        if parsed.scheme not in DEFAULT_PORTS:
            raise ValueError(f"RECEPTIONIST_SMTP_URL scheme must be one of {sorted(DEFAULT_PORTS)}, not {parsed.scheme!r}")
        self.scheme = parsed.scheme
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout_s = timeout_s
        self.ca_file = ca_file  # extra CA to trust (a private mail relay); the system's CAs otherwise

    def _open(self) -> smtplib.SMTP:
        # Certificates and host names are checked (create_default_context): a server that cannot
        # prove who it is gets no password and no mail.
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def check(self) -> str:
        """Connect, do the TLS the URL asks for and log in, sending nothing (`receptionist doctor`)."""
        with self._open() as smtp:
            smtp.noop()
        tls = {"smtps": "TLS", "smtp+starttls": "STARTTLS", "smtp": "no TLS"}[self.scheme]
        login = f"logged in as {self.username}" if self.username else "no login configured"
        return f"{self.host}:{self.port} ({tls}), {login}"

    def send(self, message: EmailMessage) -> None:
        with self._open() as smtp:
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                raise RecipientRefused(f"recipient refused: {exc.recipients}") from exc


def is_transient_smtp(exc: BaseException) -> bool:
    """Connection trouble and 4xx replies heal; 5xx replies (a bad address) and a certificate that does
    not verify do not."""
    if isinstance(exc, (PermanentError, ssl.SSLCertVerificationError)):
        return False  # a server that cannot prove who it is will not prove it on the next try
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))
