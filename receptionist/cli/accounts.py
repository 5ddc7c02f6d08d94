"""`receptionist accounts …`: the same code paths as the API, from a shell on the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from receptionist.accounts import blocklist, team, webhooks
from receptionist.accounts import service as accounts
from receptionist.accounts.auth import Principal
from receptionist.accounts.schemas import (
    AccountCreate,
    AccountUpdate,
    AdminCreate,
    UserCreate,
)
from receptionist.core.errors import DomainError, NotFound
from receptionist.core.queue import QueueUnavailable
from receptionist.core.models import Account, utcnow
from receptionist.settings import Settings
from receptionist.wiring import Common, command_services

app = typer.Typer(help="Accounts and their users.", no_args_is_help=True)
# Whoever has a shell on the server is the deployment's operator: an admin, audited as "cli".
CLI = Principal(actor="cli", role="admin", account_id=None)
EXPIRES = typer.Option(None, "--expires-in-days", min=1, max=3650, help="The token stops working after this many days.")
NATURAL_WIDTH = 1000  # wide enough for any row: the table is as wide as its content, never cropped
AS_JSON = typer.Option(False, "--json", help="Print JSON (one object per row, full values) instead of a table.")


def _expiry(days: int | None):
    return utcnow() + timedelta(days=days) if days else None


def _account(session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


@contextmanager
def _services() -> Iterator[Common]:
    with command_services(Settings.load()) as svc:
        svc.db.migrate()
        yield svc


def _body(json_text: str | None, json_file: Path | None) -> dict:
    if json_file is not None:
        return json.loads(json_file.read_text())
    if json_text:
        return json.loads(json_text)
    raise typer.BadParameter("give the account as --json '{…}' or --file account.json")


def _fail(exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    else:
        message = getattr(exc, "message", str(exc))
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(1)


@app.command("create")
def create(json_text: str = typer.Option(None, "--json", help="The account, as the API takes it."),
           json_file: Path = typer.Option(None, "--file", help="A JSON file with the account.")):
    """Create an account (the fields of POST /api/accounts)."""
    with _services() as svc:
        db = svc.db
        try:
            with db.session() as session:
                account = accounts.create_account(session, AccountCreate.model_validate(_body(json_text, json_file)),
                                                  who=CLI, rules=svc.account_rules)
                typer.echo(account.id)
        except (ValidationError, DomainError) as exc:
            _fail(exc)


def _print(rows: list[dict], as_json: bool) -> None:
    """Rows as JSON, or as a table at its natural width: no value is cut to fit the terminal (the id
    is what the other commands take), a line longer than the terminal wraps there."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("(none)")
        return
    table = Table(*rows[0])
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    Console(width=NATURAL_WIDTH).print(table)


def _cell(value) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value))
    return "" if value is None else str(value)


@app.command("list")
def list_accounts(as_json: bool = AS_JSON):
    """List accounts, with their full ids (the ID the other commands take)."""
    with _services() as svc:
        with svc.db.session() as session:
            rows = [{"id": account.id, "name": account.name, "phone_numbers": list(account.phone_numbers),
                     "status": account.status, "retention_days": account.retention_days,
                     "training": "opted out" if account.training_opt_out else "allowed"}
                    for account in session.scalars(select(Account).order_by(Account.created_at))]
    _print(rows, as_json)


@app.command("update")
def update(account_id: str,
           json_text: str = typer.Option(None, "--json", help="Fields to change, as PATCH /api/accounts/{id}."),
           json_file: Path = typer.Option(None, "--file")):
    """Change an account (the fields of PATCH /api/accounts/{id}; the CLI acts as an admin)."""
    with _services() as svc:
        db = svc.db
        try:
            with db.session() as session:
                account = _account(session, account_id)
                changes = AccountUpdate.model_validate(_body(json_text, json_file)).model_dump(exclude_unset=True, mode="json")
                accounts.update_account(session, account, changes, who=CLI, rules=svc.account_rules, queue=svc.queue)
                typer.echo(f"updated {account_id}: {', '.join(sorted(changes))}")
        except (ValidationError, DomainError) as exc:
            _fail(exc)


@app.command("add-user")
def add_user(account_id: str, email: str, role: str = typer.Option("owner", help="owner or member"),
             expires_in_days: int = EXPIRES):
    """Add an owner or member to an account and print their token (shown once)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                body = UserCreate.model_validate({"email": email, "role": role, "expires_at": _expiry(expires_in_days)})
                _user, token = team.add_user(session, CLI, _account(session, account_id), email=body.email,
                                             role=body.role, expires_at=body.expires_at)
                typer.echo(token)
        except (ValidationError, DomainError) as exc:
            _fail(exc)


@app.command("users")
def list_users(account_id: str, as_json: bool = AS_JSON):
    """List an account's users, with full ids (their tokens are never shown again: rotate one to get a new one)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                rows = [{"id": user.id, "email": user.email, "role": user.role,
                         "created_at": user.created_at.isoformat(),
                         "token_expires_at": user.token_expires_at.isoformat() if user.token_expires_at else None}
                        for user in team.list_users(session, CLI, _account(session, account_id))]
        except DomainError as exc:
            _fail(exc)
    _print(rows, as_json)


@app.command("remove-user")
def remove_user(account_id: str, user_id: str):
    """Remove a user from an account: their token stops working at once."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                user = team.remove_user(session, CLI, _account(session, account_id), user_id)
                typer.echo(f"removed {user.email} ({user.role}) from {account_id}")
        except DomainError as exc:
            _fail(exc)


@app.command("rotate-token")
def rotate_token(account_id: str, user_id: str, expires_in_days: int = EXPIRES):
    """Give a user a new token and print it (shown once); the old one stops working at once."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                _user, token = team.rotate_token(session, CLI, _account(session, account_id), user_id,
                                                 expires_at=_expiry(expires_in_days))
                typer.echo(token)
        except DomainError as exc:
            _fail(exc)


@app.command("blocklist")
def list_blocklist(account_id: str, as_json: bool = AS_JSON):
    """List the callers an account refuses (its blocklist)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                rows = [{"number": row.number, "created_at": row.created_at.isoformat(), "created_by": row.created_by}
                        for row in blocklist.list_blocked(session, CLI, _account(session, account_id))]
        except DomainError as exc:
            _fail(exc)
    _print(rows, as_json)


@app.command("block")
def block(account_id: str, number: str):
    """Block a caller (E.164, or as written locally): their next call hears a short message and ends."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                row, added = blocklist.block(session, CLI, _account(session, account_id), number, via="cli")
                typer.echo(f"blocked {row.number}" if added else f"{row.number} was already blocked")
        except DomainError as exc:
            _fail(exc)


@app.command("unblock")
def unblock(account_id: str, number: str):
    """Take a caller off an account's blocklist."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                typer.echo(f"unblocked {blocklist.unblock(session, CLI, _account(session, account_id), number, via='cli')}")
        except DomainError as exc:
            _fail(exc)


@app.command("create-admin")
def create_admin(email: str):
    """Create a deployment admin and print their token (shown once)."""
    with _services() as svc:
        try:
            body = AdminCreate.model_validate({"email": email})
            with svc.db.session() as session:
                _user, token = team.add_admin(session, CLI, email=body.email)
                typer.echo(token)
        except (ValidationError, DomainError) as exc:
            _fail(exc)


# -- webhooks ---------------------------------------------------------------------------------------
webhooks_app = typer.Typer(help="An account's webhook endpoints and their delivery log (docs/webhooks.md).",
                           no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


def _endpoint_row(endpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "events": " ".join(endpoint.events or []),
            "enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason}


@webhooks_app.command("list")
def list_webhooks(account_id: str, as_json: bool = AS_JSON):
    """List an account's webhook endpoints (never their secrets)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                rows = [_endpoint_row(e) for e in webhooks.list_endpoints(session, CLI, _account(session, account_id))]
        except DomainError as exc:
            _fail(exc)
    _print(rows, as_json)


@webhooks_app.command("add")
def add_webhook(account_id: str, url: str,
                event: list[str] = typer.Option(..., "--event", help="An event to send (repeat): "
                                                "call.completed, call.missed, lead.captured, call.erased")):
    """Add an endpoint and print its id and signing secret (the secret is shown this once)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                endpoint = webhooks.add_endpoint(session, CLI, _account(session, account_id), url, event,
                                                 allow_private=svc.settings.webhook_allow_private, via="cli")
                typer.echo(f"{endpoint.id} {endpoint.secret}")
        except DomainError as exc:
            _fail(exc)


@webhooks_app.command("update")
def update_webhook(account_id: str, webhook_id: str,
                   url: str = typer.Option(None, "--url"),
                   event: list[str] = typer.Option(None, "--event", help="The events, replacing the present ones"),
                   enabled: bool = typer.Option(None, "--enable/--disable"),
                   rotate_secret: bool = typer.Option(False, "--rotate-secret",
                                                      help="Print a new secret; the old one signs for 24 h more")):
    """Change an endpoint's URL, events or whether it is on; rotate its secret."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                endpoint, secret = webhooks.change_endpoint(
                    session, CLI, _account(session, account_id), webhook_id, via="cli",
                    allow_private=svc.settings.webhook_allow_private, url=url, events=event or None,
                    enabled=enabled, rotate_secret=rotate_secret)
                typer.echo(secret if secret else f"updated {endpoint.id}")
        except DomainError as exc:
            _fail(exc)


@webhooks_app.command("remove")
def remove_webhook(account_id: str, webhook_id: str):
    """Remove an endpoint and its delivery log."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                webhooks.remove_endpoint(session, CLI, _account(session, account_id), webhook_id, via="cli")
                typer.echo(f"removed {webhook_id}")
        except DomainError as exc:
            _fail(exc)


@webhooks_app.command("deliveries")
def list_deliveries(account_id: str, webhook_id: str, as_json: bool = AS_JSON):
    """An endpoint's delivery log, newest first."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                rows = [{"id": d.id, "event": d.event_type, "call_sid": d.call_sid, "status": d.status,
                         "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
                         "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None}
                        for d in webhooks.delivery_log(session, CLI, _account(session, account_id), webhook_id)]
        except DomainError as exc:
            _fail(exc)
    _print(rows, as_json)


@webhooks_app.command("retry")
def retry_delivery(delivery_id: int):
    """Send a delivery again (the same webhook-id); the workers send it."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                row = webhooks.send_again(session, CLI, delivery_id, via="cli")
                attempts = row.attempts
        except DomainError as exc:
            _fail(exc)
        try:
            svc.queue.enqueue_webhook(delivery_id, attempts)
            typer.echo(f"queued delivery {delivery_id}")
        except QueueUnavailable:
            typer.echo(f"delivery {delivery_id} is due; the workers' reconciler will queue it (Redis is away)")
