"""Signing per the Standard Webhooks specification (https://www.standardwebhooks.com/).

A secret is `whsec_` followed by the base64 of random bytes; the key is those bytes. The signed
content is `<webhook-id>.<webhook-timestamp>.<body>`; `webhook-signature` holds `v1,<base64 of its
HMAC-SHA256>` for each secret that signs, separated by spaces (during a rotation, the new and the
previous one), so a receiver holding either verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from receptionist.core.errors import Invalid

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise Invalid("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except ValueError:
        raise Invalid("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 16:
        raise Invalid("a webhook secret holds at least 16 bytes")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(signing_secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (the timestamp is the attempt's, the id the event's)."""
    if not signing_secrets:
        raise Invalid("no secret to sign with")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in signing_secrets),
    }
