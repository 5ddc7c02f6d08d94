"""Webhook endpoints of an account and their delivery log (docs/webhooks.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.orm import Session

from receptionist.accounts import webhooks
from receptionist.accounts.access import load_account
from receptionist.accounts.auth import Principal
from receptionist.accounts.schemas import WebhookCreate, WebhookUpdate
from receptionist.api.deps import TokenFirst, principal
from receptionist.api.schemas import WebhookDeliveryOut, WebhookOut
from receptionist.core.models import WebhookDelivery, WebhookEndpoint
from receptionist.core.queue import QueueUnavailable
from receptionist.web.deps import services, session

MAX_ID = 2**31 - 1  # delivery ids are the database's 32-bit integers

router = APIRouter(prefix="/api", tags=["webhooks"], route_class=TokenFirst)


def webhook_out(endpoint: WebhookEndpoint, secret: str | None = None) -> WebhookOut:
    return WebhookOut(id=endpoint.id, url=endpoint.url, events=list(endpoint.events or []), enabled=endpoint.enabled,
                      disabled_reason=endpoint.disabled_reason, failing_since=endpoint.failing_since,
                      created_at=endpoint.created_at, secret=secret)


def delivery_out(row: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(id=row.id, webhook_id=row.event_id, event=row.event_type, call_sid=row.call_sid,
                              status=row.status, attempts=row.attempts, last_status_code=row.last_status_code,
                              last_error=row.last_error, next_attempt_at=row.next_attempt_at,
                              created_at=row.created_at, delivered_at=row.delivered_at, log=list(row.log or []))


@router.get("/accounts/{account_id}/webhooks", response_model=list[WebhookOut], response_model_exclude_none=True)
def list_webhooks(account_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    account = load_account(db, who, account_id)
    return [webhook_out(e) for e in webhooks.list_endpoints(db, who, account)]


@router.post("/accounts/{account_id}/webhooks", status_code=201, response_model=WebhookOut)
def add_webhook(account_id: str, body: WebhookCreate, db: Session = Depends(session),
                who: Principal = Depends(principal), svc=Depends(services)):
    """Add an endpoint; the answer carries its signing secret, shown this once."""
    account = load_account(db, who, account_id, write=True)
    endpoint = webhooks.add_endpoint(db, who, account, body.url, body.events,
                                     allow_private=svc.settings.webhook_allow_private)
    db.commit()
    return webhook_out(endpoint, endpoint.secret)


@router.get("/accounts/{account_id}/webhooks/{webhook_id}", response_model=WebhookOut,
            response_model_exclude_none=True)
def get_webhook(account_id: str, webhook_id: str, db: Session = Depends(session), who: Principal = Depends(principal)):
    account = load_account(db, who, account_id)
    return webhook_out(webhooks.get_endpoint(db, who, account, webhook_id))


@router.patch("/accounts/{account_id}/webhooks/{webhook_id}", response_model=WebhookOut,
              response_model_exclude_none=True)
def patch_webhook(account_id: str, webhook_id: str, body: WebhookUpdate, db: Session = Depends(session),
                  who: Principal = Depends(principal), svc=Depends(services)):
    """Change the URL, the events or `enabled`; `rotate_secret` answers the new secret once (the old
    one keeps signing for 24 h)."""
    account = load_account(db, who, account_id, write=True)
    endpoint, secret = webhooks.change_endpoint(db, who, account, webhook_id,
                                                allow_private=svc.settings.webhook_allow_private,
                                                url=body.url, events=body.events, enabled=body.enabled,
                                                rotate_secret=body.rotate_secret)
    db.commit()
    return webhook_out(endpoint, secret)


@router.delete("/accounts/{account_id}/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(account_id: str, webhook_id: str, db: Session = Depends(session),
                   who: Principal = Depends(principal)):
    account = load_account(db, who, account_id, write=True)
    webhooks.remove_endpoint(db, who, account, webhook_id)
    db.commit()
    return Response(status_code=204)


@router.get("/accounts/{account_id}/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDeliveryOut])
def list_deliveries(account_id: str, webhook_id: str, limit: int = Query(100, ge=1, le=500),
                    db: Session = Depends(session), who: Principal = Depends(principal)):
    """The delivery log, newest first: status, attempts, the last answer, the next try, every attempt."""
    account = load_account(db, who, account_id)
    return [delivery_out(row) for row in webhooks.delivery_log(db, who, account, webhook_id, limit=limit)]


@router.post("/webhook-deliveries/{delivery_id}/retry", status_code=202, response_model=WebhookDeliveryOut)
def retry_delivery(delivery_id: int = Path(ge=1, le=MAX_ID), db: Session = Depends(session), who: Principal = Depends(principal),
                   svc=Depends(services)):
    """Send a delivery again now (same webhook-id); 202: queued (the reconciler queues it if Redis is away)."""
    row = webhooks.send_again(db, who, delivery_id)
    db.commit()
    try:
        svc.queue.enqueue_webhook(row.id, row.attempts)
    except QueueUnavailable:
        pass
    return delivery_out(row)
