"""Sending one delivery: claimed, signed, sent, and its answer recorded; retried or given up.

A worker claims a due delivery (status `sending` until its lease lapses, the attempt counted
before anything is sent), checks the endpoint's address again and connects to the address it
checked, signs the stored payload with the endpoint's secrets (the event's `webhook-id` on every
attempt) and records what came back, fenced by the attempt it claimed:

- 2xx: delivered. The endpoint is healthy again.
- no answer (timeout, connection or TLS error), 408, 429 or 5xx: retried with exponential backoff
  and jitter (`RetryPolicy`), never sooner than a `Retry-After` asks, for `window_s` (a day) from
  when the delivery began to be retried; then given up with the last reason.
- any other answer (4xx, or a redirect, which is not followed): given up at once with the reason.

An endpoint whose attempts have failed for `window_s` without a success is disabled (its waiting
deliveries given up) and the caller of `send` is told, to email the owner. Nothing about an erased
call is sent but `call.erased`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select, update

from receptionist.core.db import Database
from receptionist.core.errors import Invalid
from receptionist.core.models import Tombstone, WebhookDelivery, WebhookEndpoint, utcnow
from receptionist.webhooks import signing
from receptionist.webhooks.addresses import AddressRefused, Resolver, Unresolvable, check, system_resolver
from receptionist.webhooks.events import CALL_ERASED
from receptionist.webhooks.transport import Response, WebhookTransport

RETRIED_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 30.0
    max_delay_s: float = 4 * 3600.0
    window_s: float = 86400.0

    def delay_s(self, attempts: int, rng: random.Random) -> float:
        """After the `attempts`-th failure: doubling from `first_delay_s`, capped, with equal jitter."""
        ceiling = min(self.first_delay_s * 2 ** max(0, attempts - 1), self.max_delay_s)
        return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Sent:
    status: str  # delivered | retrying | failed | dropped | skipped
    attempts: int = 0
    next_attempt_at: datetime | None = None
    disabled_endpoint: str | None = None  # the endpoint disabled by this attempt's failure


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header's wait in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


class WebhookSender:
    def __init__(self, db: Database, transport: WebhookTransport, *, allow_private: bool,
                 policy: RetryPolicy = RetryPolicy(), timeout_s: float = 10.0,
                 resolve: Resolver = system_resolver, rng: random.Random | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.db, self.transport, self.allow_private, self.policy = db, transport, allow_private, policy
        self.lease = timedelta(seconds=3 * timeout_s + 30)
        self.resolve, self.rng, self.clock = resolve, rng or random.Random(), clock

    def send(self, delivery_id: int) -> Sent:
        claimed = self._claim(delivery_id)
        if isinstance(claimed, Sent):
            return claimed
        attempt, url, message_id, body, secrets = claimed
        now = self.clock()
        try:
            target = check(url, allow_private=self.allow_private, resolve=self.resolve)
        except Unresolvable as exc:
            return self._record(delivery_id, attempt, Response(None, str(exc), None, 0, True), now)
        except AddressRefused as exc:
            return self._record(delivery_id, attempt, Response(None, f"refused: {exc}", None, 0, False), now)
        # The signature's timestamp is the wall clock's (receivers check it against theirs); `clock`
        # schedules the retries.
        headers = signing.headers(secrets, message_id, int(time.time()), body)
        for address in target.addresses:  # each one checked; the next only when this one did not connect
            response = self.transport.post(target, address, headers, body)
            if not (response.error or "").startswith("connection"):
                break
        return self._record(delivery_id, attempt, response, self.clock())

    def _claim(self, delivery_id: int):
        now = self.clock()
        with self.db.session() as session:
            row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return Sent("skipped")
            due = row.status == "pending" and (row.next_attempt_at is None or row.next_attempt_at <= now)
            lapsed = row.status == "sending" and (row.lease_until is None or row.lease_until <= now)
            if not (due or lapsed):
                return Sent("skipped", row.attempts, row.next_attempt_at)
            if row.event_type != CALL_ERASED and (
                    row.payload is None or session.scalar(select(Tombstone.id).where(Tombstone.call_sid == row.call_sid))):
                row.status, row.payload, row.last_error, row.next_attempt_at = "dropped", None, "the call was erased", None
                return Sent("dropped", row.attempts)
            endpoint = session.get(WebhookEndpoint, row.endpoint_id)
            if not endpoint.enabled:
                row.status, row.next_attempt_at = "failed", None
                row.last_error = "the endpoint is disabled" + (f": {endpoint.disabled_reason}"
                                                               if endpoint.disabled_reason else "")
                return Sent("failed", row.attempts)
            row.status, row.attempts, row.lease_until = "sending", row.attempts + 1, now + self.lease
            body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
            return row.attempts, endpoint.url, row.event_id, body, signing_secrets(endpoint, now)

    def _record(self, delivery_id: int, attempt: int, response: Response, now: datetime) -> Sent:
        code = response.status_code
        delivered = code is not None and 200 <= code < 300
        retried = response.transient or (code in RETRIED_STATUSES)
        if delivered:
            error = None
        elif code is None:
            error = response.error
        elif 300 <= code < 400:
            error = f"HTTP {code}: a redirect (not followed)"
        else:
            error = f"HTTP {code}"
        with self.db.session() as session:
            row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                               WebhookDelivery.attempts == attempt,
                                                               WebhookDelivery.status == "sending")
                                 .with_for_update())
            if row is None:  # erased, or taken over after our lease lapsed: theirs to record
                return Sent("skipped", attempt)
            endpoint = session.get(WebhookEndpoint, row.endpoint_id, with_for_update=True)
            row.log = [*(row.log or []), {"attempt": attempt, "at": now.isoformat(), "status_code": code,
                                          "error": error, "duration_ms": response.duration_ms}]
            row.last_status_code, row.last_error, row.lease_until = code, error, None
            if delivered:
                row.status, row.delivered_at, row.next_attempt_at = "delivered", now, None
                endpoint.failing_since = None
                return Sent("delivered", attempt)
            disabled = self._note_failure(session, endpoint, row, now)
            if disabled is None and retried:
                wait = self.policy.delay_s(attempt, self.rng)
                asked = retry_after_s(response.retry_after, now)
                if asked is not None:
                    wait = max(wait, min(asked, self.policy.max_delay_s))
                # The last attempt is at the window's end, so a receiver down all day is tried a day
                # after it first failed (and its endpoint, failing since, is then disabled).
                deadline = row.retrying_since + timedelta(seconds=self.policy.window_s)
                next_at = min(now + timedelta(seconds=wait), deadline)
                if now < deadline:
                    row.status, row.next_attempt_at = "pending", next_at
                    return Sent("retrying", attempt, next_at)
                row.last_error = f"gave up after {attempt} attempts over {self.policy.window_s / 3600:g} h: {error}"
            elif disabled is not None:
                row.last_error = f"{error}; the endpoint was disabled: {endpoint.disabled_reason}"
            row.status, row.next_attempt_at = "failed", None
            return Sent("failed", attempt, None, disabled)

    def _note_failure(self, session, endpoint: WebhookEndpoint, row: WebhookDelivery, now: datetime) -> str | None:
        """Count the failure against the endpoint; disable it once it has failed for the window. Returns its id then.
        An endpoint is failing since the delivery that first failed was due (and nothing succeeded since)."""
        if endpoint.failing_since is None:
            endpoint.failing_since = min(now, row.retrying_since)
            return None
        if now - endpoint.failing_since < timedelta(seconds=self.policy.window_s) or not endpoint.enabled:
            return None
        endpoint.enabled = False
        endpoint.disabled_reason = (f"every delivery failed for {self.policy.window_s / 3600:g} h "
                                    f"(since {endpoint.failing_since.isoformat()})")
        session.execute(update(WebhookDelivery)
                        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
                        .values(status="failed", next_attempt_at=None,
                                last_error=f"the endpoint was disabled: {endpoint.disabled_reason}"))
        return endpoint.id


def resend(session, delivery_id: int) -> WebhookDelivery:
    """"Send again": a delivered or given-up delivery is due now, with the same `webhook-id`, retried
    for a day from now. One of an erased call (dropped) cannot be sent again."""
    row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
    if row.status == "dropped":
        raise Invalid("this delivery was dropped when its call was erased: there is nothing to send")
    if row.status in ("delivered", "failed"):
        now = utcnow()
        row.status, row.next_attempt_at, row.retrying_since, row.delivered_at = "pending", now, now, None
    return row
