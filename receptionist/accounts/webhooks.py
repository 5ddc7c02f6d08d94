"""An account's webhook endpoints and their delivery log as the API (and later the CLI and the
dashboard) change them: the same roles as every account edit (a member reads, an owner or an admin
changes; another account's endpoint or delivery is "not found"). Each change is audited, never with
the secret."""

from __future__ import annotations

from sqlalchemy.orm import Session

from receptionist.accounts import auth
from receptionist.accounts.auth import Principal
from receptionist.core import audit
from receptionist.core.errors import Conflict, NotFound
from receptionist.core.models import Account, WebhookDelivery, WebhookEndpoint
from receptionist.webhooks import endpoints
from receptionist.webhooks.addresses import Resolver, system_resolver
from receptionist.webhooks.delivery import resend


def list_endpoints(db: Session, who: Principal, account: Account) -> list[WebhookEndpoint]:
    auth.check_account(who, account.id)
    return endpoints.list_for(db, account.id)


def get_endpoint(db: Session, who: Principal, account: Account, endpoint_id: str, *, write: bool = False
                 ) -> WebhookEndpoint:
    auth.check_account(who, account.id, write=write)
    return endpoints.get(db, account.id, endpoint_id)


def add_endpoint(db: Session, who: Principal, account: Account, url: str, events: list[str], *, allow_private: bool,
                 resolve: Resolver = system_resolver, via: str = "api") -> WebhookEndpoint:
    auth.check_account(who, account.id, write=True)
    if account.status != "active":
        raise Conflict("the account is closed")
    endpoint = endpoints.create(db, account.id, url, events, allow_private=allow_private, resolve=resolve)
    audit.record(db, who.actor, "webhook.add", account_id=account.id, endpoint=endpoint.id, url=url,
                 events=endpoint.events, via=via)
    return endpoint


def change_endpoint(db: Session, who: Principal, account: Account, endpoint_id: str, *, allow_private: bool,
                    resolve: Resolver = system_resolver, via: str = "api", **changes) -> tuple[WebhookEndpoint, str | None]:
    endpoint = get_endpoint(db, who, account, endpoint_id, write=True)
    secret = endpoints.change(db, endpoint, allow_private=allow_private, resolve=resolve, **changes)
    audit.record(db, who.actor, "webhook.change", account_id=account.id, endpoint=endpoint.id, via=via,
                 changed=sorted(k for k, v in changes.items() if v is not None and v is not False))
    return endpoint, secret


def remove_endpoint(db: Session, who: Principal, account: Account, endpoint_id: str, *, via: str = "api") -> None:
    endpoint = get_endpoint(db, who, account, endpoint_id, write=True)
    audit.record(db, who.actor, "webhook.remove", account_id=account.id, endpoint=endpoint.id, url=endpoint.url,
                 via=via)
    db.delete(endpoint)  # its deliveries go with it (ON DELETE CASCADE)
    db.flush()


def delivery_log(db: Session, who: Principal, account: Account, endpoint_id: str, *, limit: int = 100
                 ) -> list[WebhookDelivery]:
    return endpoints.deliveries(db, get_endpoint(db, who, account, endpoint_id), limit=limit)


def send_again(db: Session, who: Principal, delivery_id: int, *, via: str = "api") -> WebhookDelivery:
    """Queue a delivery again (the same webhook-id). Another account's delivery is "not found"."""
    row = db.get(WebhookDelivery, delivery_id)
    if row is None or not auth.can_see(who, row.account_id):
        raise NotFound("no such webhook delivery")
    auth.check_account(who, row.account_id, write=True, what="webhook delivery")
    endpoint = db.get(WebhookEndpoint, row.endpoint_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled: turn it on before sending again")
    row = resend(db, delivery_id)
    audit.record(db, who.actor, "webhook.resend", account_id=row.account_id, endpoint=row.endpoint_id,
                 delivery=row.id, via=via)
    return row
