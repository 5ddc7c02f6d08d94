"""An account's webhook endpoints: created with a secret shown once, changed, rotated, removed.

A URL is checked by the address guard when it is saved (and again at every send). Rotating the
secret keeps the previous one signing for `ROTATION_GRACE`, so receivers can switch without losing
a delivery. Turning an endpoint back on clears the failure that disabled it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.core.errors import Invalid, NotFound
from receptionist.core.models import WebhookDelivery, WebhookEndpoint, utcnow
from receptionist.webhooks import addresses, signing
from receptionist.webhooks.addresses import Resolver, system_resolver
from receptionist.webhooks.events import EVENTS

ROTATION_GRACE = timedelta(hours=24)
MAX_ENDPOINTS = 20


def checked_events(events: list[str]) -> list[str]:
    if not events:
        raise Invalid(f"events: choose at least one of {', '.join(EVENTS)}")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Invalid(f"events: unknown {', '.join(map(repr, unknown))} (the events are {', '.join(EVENTS)})")
    return list(dict.fromkeys(events))


def create(session: Session, account_id: str, url: str, events: list[str], *, allow_private: bool,
           resolve: Resolver = system_resolver) -> WebhookEndpoint:
    addresses.check(url, allow_private=allow_private, resolve=resolve)
    events = checked_events(events)
    count = len(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.account_id == account_id)).all())
    if count >= MAX_ENDPOINTS:
        raise Invalid(f"an account has at most {MAX_ENDPOINTS} webhook endpoints")
    endpoint = WebhookEndpoint(account_id=account_id, url=url, events=events, enabled=True,
                               secret=signing.new_secret(), created_at=utcnow())
    session.add(endpoint)
    session.flush()
    return endpoint


def list_for(session: Session, account_id: str) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.account_id == account_id)
                                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))


def get(session: Session, account_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.account_id != account_id:
        raise NotFound("no such webhook endpoint")
    return endpoint


def change(session: Session, endpoint: WebhookEndpoint, *, url: str | None = None, events: list[str] | None = None,
           enabled: bool | None = None, rotate_secret: bool = False, allow_private: bool,
           resolve: Resolver = system_resolver) -> str | None:
    """Apply the changes given; the new secret when rotated (shown once), else None."""
    if url is not None:
        addresses.check(url, allow_private=allow_private, resolve=resolve)
        endpoint.url = url
    if events is not None:
        endpoint.events = checked_events(events)
    if enabled is not None:
        if enabled and not endpoint.enabled:
            endpoint.failing_since = endpoint.disabled_reason = None
        endpoint.enabled = enabled
    if rotate_secret:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, utcnow() + ROTATION_GRACE
        endpoint.secret = signing.new_secret()
        return endpoint.secret
    return None


def deliveries(session: Session, endpoint: WebhookEndpoint, *, limit: int = 100) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))
