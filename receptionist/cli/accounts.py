"""`receptionist accounts …`: the same code paths as the API, from a shell on the server."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from receptionist.accounts import service as accounts

from receptionist.accounts import auth
from receptionist.api.schemas import AccountCreate, AccountUpdate
from receptionist.core.db import Database
from receptionist.api.errors import ApiError
from receptionist.core.models import Account
from receptionist.settings import Settings

app = typer.Typer(help="Accounts and their users.", no_args_is_help=True)
ACTOR = "cli"


def _db() -> Database:
    db = Database(Settings().database_url, pool_size=2)
    db.migrate()
    return db


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
    db = _db()
    try:
        with db.session() as session:
            account = accounts.create_account(session, AccountCreate.model_validate(_body(json_text, json_file)),
                                              actor=ACTOR)
            typer.echo(account.id)
    except (ValidationError, ApiError) as exc:
        _fail(exc)


@app.command("list")
def list_accounts():
    """List accounts."""
    db = _db()
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
    db = _db()
    try:
        with db.session() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise ApiError(404, f"no account {account_id}")
            changes = AccountUpdate.model_validate(_body(json_text, json_file)).model_dump(exclude_unset=True, mode="json")
            accounts.update_account(session, account, changes, actor=ACTOR, queue=_queue())
            typer.echo(f"updated {account_id}: {', '.join(sorted(changes))}")
    except (ValidationError, ApiError) as exc:
        _fail(exc)


def _queue():
    from receptionist.core.queue import JobQueue

    settings = Settings()
    return JobQueue.from_url(settings.redis_url, settings.queue_name, settings.job_timeout_s)


@app.command("add-user")
def add_user(account_id: str, email: str, role: str = typer.Option("owner", help="owner or member")):
    """Add an owner or member to an account and print their token (shown once)."""
    db = _db()
    try:
        with db.session() as session:
            if session.get(Account, account_id) is None:
                raise ApiError(404, f"no account {account_id}")
            if role not in ("owner", "member"):
                raise ApiError(422, "role must be owner or member")
            _user, token = auth.create_user(session, email=email, role=role, account_id=account_id)
            typer.echo(token)
    except ApiError as exc:
        _fail(exc)


@app.command("create-admin")
def create_admin(email: str):
    """Create a deployment admin and print their token (shown once)."""
    db = _db()
    with db.session() as session:
        _user, token = auth.create_user(session, email=email, role="admin", account_id=None)
        typer.echo(token)
