"""The per-call token in a call's ConversationRelay URL: which call, which attempt, valid until when.

Twilio signs the websocket upgrade over the URL the TwiML gave it, query string included, so a
token in that URL binds the signature to one call: a captured upgrade cannot open a relay for any
other call, and the token stops working when it expires. The token is an HMAC (SHA-256) with a key
derived from the Twilio auth token, the one secret this service and Twilio already share; nothing
is stored.

    CA0123….1.1767225600.Rk9v…   call SID . attempt . expiry (unix seconds) . signature
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

# Twilio connects right after the disclosure; the token only has to outlive that (a long
# disclosure, a slow network), not the call.
TOKEN_TTL_S = 600
_KEY_LABEL = b"receptionist relay token v1"


class InvalidRelayToken(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelayPass:
    call_sid: str
    attempt: int  # 1 for the answer's relay, 2 for the reconnect after a failed session


class RelayTokens:
    def __init__(self, auth_token: str, ttl_s: int = TOKEN_TTL_S, clock: Callable[[], float] = time.time):
        self._key = hmac.new(auth_token.encode(), _KEY_LABEL, hashlib.sha256).digest() if auth_token else None
        self.ttl_s = ttl_s
        self.clock = clock

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, call_sid: str, attempt: int) -> str:
        if self._key is None:
            raise RuntimeError("TWILIO_AUTH_TOKEN is not set")
        body = f"{call_sid}.{attempt}.{int(self.clock()) + self.ttl_s}"
        return f"{body}.{self._mac(body)}"

    def read(self, token: str | None) -> RelayPass:
        """The call and attempt a token was issued for; raises InvalidRelayToken otherwise."""
        if self._key is None:
            raise InvalidRelayToken("no auth token configured")
        parts = (token or "").split(".")
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            raise InvalidRelayToken("no valid relay token in the URL")
        call_sid, attempt, expires, mac = parts
        if not hmac.compare_digest(mac, self._mac(f"{call_sid}.{attempt}.{expires}")):
            raise InvalidRelayToken("the relay token is forged")
        if int(expires) < self.clock():
            raise InvalidRelayToken("the relay token has expired")
        return RelayPass(call_sid, int(attempt))
