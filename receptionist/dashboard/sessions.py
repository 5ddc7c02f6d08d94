"""The dashboard's signed session cookie and its CSRF tokens.

The cookie never carries a bearer token. It carries who signed in (a user id, or "admin-token"),
a fingerprint that ties the session to that user's current token (HMAC of the stored token hash,
or of the admin token), when it was issued, a random nonce, and for admins the account they are
looking at; all of it signed with a key derived from `RECEPTIONIST_SESSION_SECRET`. Rotating a
user's token or deleting the user therefore ends their sessions, and the server checks both on
every request.

CSRF tokens are bound to the session: an HMAC of its nonce. A visitor gets an anonymous session
(nonce only) on the sign-in page, so the sign-in form is protected too, and signing in issues a
new nonce (no session fixation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace

COOKIE_NAME = "receptionist_session"
MAX_AGE_S = 12 * 3600  # a session lasts a working day; then the token is asked for again
ADMIN_TOKEN_SUBJECT = "admin-token"


def derive_key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"receptionist dashboard session v1", hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionData:
    nonce: str
    issued_at: int
    subject: str | None = None  # "user:<id>" or "admin-token"; None before signing in
    fingerprint: str | None = None
    account_id: str | None = None  # the account an admin picked

    @property
    def signed_in(self) -> bool:
        return self.subject is not None

    @property
    def user_id(self) -> str | None:
        return self.subject.removeprefix("user:") if self.subject and self.subject.startswith("user:") else None


class SessionCodec:
    def __init__(self, key: bytes, max_age_s: int = MAX_AGE_S):
        self._sign_key = hmac.new(key, b"sign", hashlib.sha256).digest()
        self._csrf_key = hmac.new(key, b"csrf", hashlib.sha256).digest()
        self._fingerprint_key = hmac.new(key, b"fingerprint", hashlib.sha256).digest()
        self.max_age_s = max_age_s

    def anonymous(self) -> SessionData:
        return SessionData(nonce=secrets.token_urlsafe(16), issued_at=int(time.time()))

    def signed_in(self, subject: str, secret_material: str, account_id: str | None = None) -> SessionData:
        return replace(self.anonymous(), subject=subject, fingerprint=self.fingerprint(subject, secret_material),
                       account_id=account_id)

    def fingerprint(self, subject: str, secret_material: str) -> str:
        message = f"{subject}\n{secret_material}".encode()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()[:32]

    def matches(self, data: SessionData, secret_material: str) -> bool:
        return data.subject is not None and data.fingerprint is not None and hmac.compare_digest(
            data.fingerprint.encode(), self.fingerprint(data.subject, secret_material).encode())

    def dumps(self, data: SessionData) -> str:
        body = {"n": data.nonce, "t": data.issued_at, "s": data.subject, "f": data.fingerprint, "a": data.account_id}
        payload = _b64encode(json.dumps({k: v for k, v in body.items() if v is not None},
                                        separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def loads(self, value: str | None, now: float | None = None) -> SessionData | None:
        """The session in a cookie, or None when it is missing, forged, malformed or too old."""
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            body = json.loads(_b64decode(payload))
            data = SessionData(nonce=str(body["n"]), issued_at=int(body["t"]), subject=body.get("s"),
                               fingerprint=body.get("f"), account_id=body.get("a"))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        age = (time.time() if now is None else now) - data.issued_at
        if age < -60 or age > self.max_age_s:  # a minute of clock skew between processes
            return None
        return data

    def csrf_token(self, data: SessionData) -> str:
        return _b64encode(hmac.new(self._csrf_key, data.nonce.encode(), hashlib.sha256).digest())

    def check_csrf(self, data: SessionData | None, token: str | None) -> bool:
        return bool(data and token) and hmac.compare_digest(token.encode(), self.csrf_token(data).encode())

    def _sign(self, payload: str) -> str:
        return _b64encode(hmac.new(self._sign_key, payload.encode(), hashlib.sha256).digest())
