"""Webhook signatures: every Twilio request is checked against the public URL it was sent to.

The URL is `RECEPTIONIST_PUBLIC_URL` + path (+ query), not the URL this process sees, so validation
works behind a TLS-terminating proxy.
"""

from __future__ import annotations

from twilio.request_validator import RequestValidator


class SignatureChecker:
    def __init__(self, auth_token: str, public_url: str):
        self._validator = RequestValidator(auth_token) if auth_token else None
        self.public_url = public_url.rstrip("/")

    def url_for(self, path: str, query: str = "") -> str:
        return self.public_url + path + (f"?{query}" if query else "")

    def is_valid(self, path: str, query: str, params: dict[str, str], signature: str | None) -> bool:
        if self._validator is None or not signature:
            return False  # with no auth token configured, nothing can be trusted
        return self._validator.validate(self.url_for(path, query), params, signature)

    def is_valid_url(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        """Check a signature over a full URL (the relay's `wss://` URL, which is not under public_url's scheme)."""
        if self._validator is None or not signature:
            return False
        return self._validator.validate(url, params, signature)

    def sign_url(self, url: str, params: dict[str, str]) -> str:
        if self._validator is None:
            raise RuntimeError("TWILIO_AUTH_TOKEN is not set")
        return self._validator.compute_signature(url, params)

    def sign(self, path: str, params: dict[str, str], query: str = "") -> str:
        """What Twilio would send in X-Twilio-Signature (used by the demo and tests)."""
        if self._validator is None:
            raise RuntimeError("TWILIO_AUTH_TOKEN is not set")
        return self._validator.compute_signature(self.url_for(path, query), params)
