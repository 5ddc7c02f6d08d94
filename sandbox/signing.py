"""Twilio's request signature as Twilio computes it, for the stand-ins that play Twilio.

Twilio signs every webhook (and the ConversationRelay websocket upgrade) with HMAC-SHA1 of the full
URL it requested followed by the POST parameters sorted by name, keyed with the account's auth token,
base64-encoded in `X-Twilio-Signature` (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
The `twilio` library's `RequestValidator.compute_signature` is that algorithm; the stand-ins use it
directly rather than the product's own checker, so a mistake in the product cannot hide itself.
"""

from __future__ import annotations

from twilio.request_validator import RequestValidator


class TwilioSigner:
    def __init__(self, auth_token: str, public_url: str):
        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")

    def url_for(self, path: str, query: str = "") -> str:
        return self.public_url + path + (f"?{query}" if query else "")

    def sign(self, path: str, params: dict[str, str], query: str = "") -> str:
        """What Twilio sends in X-Twilio-Signature for a request to `path` with these form parameters."""
        return self._validator.compute_signature(self.url_for(path, query), params)

    def sign_url(self, url: str, params: dict[str, str]) -> str:
        return self._validator.compute_signature(url, params)
