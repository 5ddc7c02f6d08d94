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

from receptionist.accounts import auth, team
from receptionist.accounts import service as accounts
from receptionist.accounts.auth import Principal
from receptionist.accounts.schemas import AccountCreate, AccountUpdate, UserCreate
from receptionist.core.errors import DomainError, NotFound
from receptionist.core.models import Account, utcnow
from receptionist.settings import Settings
from receptionist.wiring import Common, command_services

app = typer.Typer(help="Accounts and their users.", no_args_is_help=True)
# Whoever has a shell on the server is the deployment's operator: an admin, audited as "cli".
CLI = Principal(actor="cli", role="admin", account_id=None)
EXPIRES = typer.Option(None, "--expires-in-days", min=1, max=3650, help="The token stops working after this many days.")


def _expiry(days: int | None):
    return utcnow() + timedelta(days=days) if days else None


def _account(session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


@contextmanager
def _services() -> Iterator[Common]:
    with command_services(Settings()) as svc:
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


@app.command("list")
def list_accounts():
    """List accounts."""
    with _services() as svc:
        db = svc.db
        table = Table("id", "name", "numbers", "status", "retention", "training")
        with db.session() as session:
            for account in session.scalars(select(Account).order_by(Account.created_at)):
                table.add_row(account.id, account.name, " ".join(account.phone_numbers), account.status,
                              f"{account.retention_days} d", "opted out" if account.training_opt_out else "allowed")
        Console().print(table)


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
def list_users(account_id: str):
    """List an account's users (their tokens are never shown again: rotate one to get a new one)."""
    with _services() as svc:
        try:
            with svc.db.session() as session:
                table = Table("id", "email", "role", "created", "token expires")
                for user in team.list_users(session, CLI, _account(session, account_id)):
                    table.add_row(user.id, user.email, user.role, f"{user.created_at:%Y-%m-%d}",
                                  f"{user.token_expires_at:%Y-%m-%d %H:%M} UTC" if user.token_expires_at else "never")
            Console().print(table)
        except DomainError as exc:
            _fail(exc)


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


@app.command("create-admin")
def create_admin(email: str):
    """Create a deployment admin and print their token (shown once)."""
    with _services() as svc:
        db = svc.db
        with db.session() as session:
            _user, token = auth.create_user(session, email=email, role="admin", account_id=None)
            typer.echo(token)
