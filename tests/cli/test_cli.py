"""`receptionist accounts …` runs the same code paths as the API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from receptionist.accounts import auth
from receptionist.cli import app
from receptionist.core.db import Database
from receptionist.core.models import Account, AuditEvent
from tests.support.world import ACCOUNT


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("RECEPTIONIST_DATABASE_URL", url)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output.strip()

    run.runner, run.db = runner, Database(url)
    return run


def test_create_list_update_and_add_users(cli):
    account_id = cli("accounts", "create", "--json", json.dumps(ACCOUNT))
    assert "Acme Plumbing" in cli("accounts", "list")
    assert "name" in cli("accounts", "update", account_id, "--json", '{"name": "Acme Plumbing & Heating"}')
    owner_token = cli("accounts", "add-user", account_id, "owner@example.com", "--role", "owner")
    admin_token = cli("accounts", "create-admin", "ops@example.com")
    with cli.db.session() as session:
        assert session.get(Account, account_id).name == "Acme Plumbing & Heating"
        owner = auth.authenticate(session, owner_token, admin_token=None)
        admin = auth.authenticate(session, admin_token, admin_token=None)
        assert (owner.role, owner.account_id) == ("owner", account_id)
        assert (admin.role, admin.account_id) == ("admin", None)
        assert {e.action for e in session.query(AuditEvent)} >= {"account.create", "account.update"}


def test_invalid_input_is_a_clear_error(cli):
    result = cli.runner.invoke(app, ["accounts", "create", "--json", json.dumps({**ACCOUNT, "retention_days": 45})])
    assert result.exit_code == 1
    assert "retention_days" in result.output and "7, 30, 60, 90" in result.output
    result = cli.runner.invoke(app, ["accounts", "add-user", "nope", "a@example.com"])
    assert result.exit_code == 1 and "no account nope" in result.output


def test_team_commands_list_rotate_and_remove(cli):
    account_id = cli("accounts", "create", "--json", json.dumps(ACCOUNT))
    old = cli("accounts", "add-user", account_id, "owner@example.com", "--role", "owner", "--expires-in-days", "30")
    cli("accounts", "add-user", account_id, "member@example.com", "--role", "member")
    listed = cli.runner.invoke(app, ["accounts", "users", account_id], env={"COLUMNS": "200"}).output
    assert "owner@example.com" in listed and "member@example.com" in listed and old not in listed
    with cli.db.session() as session:
        from receptionist.core.models import User

        users = {u.email: u.id for u in session.query(User)}
        assert auth.authenticate(session, old, None).role == "owner"
    new = cli("accounts", "rotate-token", account_id, users["owner@example.com"])
    with cli.db.session() as session:
        assert auth.authenticate(session, new, None).role == "owner"
        with pytest.raises(Exception):
            auth.authenticate(session, old, None)
    assert "removed member@example.com" in cli("accounts", "remove-user", account_id, users["member@example.com"])
    refused = cli.runner.invoke(app, ["accounts", "remove-user", account_id, users["owner@example.com"]])
    assert refused.exit_code == 1 and "last owner" in refused.output


def test_blocklist_commands_block_list_and_unblock(cli):
    account_id = cli("accounts", "create", "--json", json.dumps(ACCOUNT))
    assert cli("accounts", "blocklist", account_id) == "(none)"
    assert cli("accounts", "block", account_id, "(312) 555-0177") == "blocked +13125550177"  # read as E.164
    assert cli("accounts", "block", account_id, "+13125550177") == "+13125550177 was already blocked"
    [row] = json.loads(cli("accounts", "blocklist", account_id, "--json"))
    assert row["number"] == "+13125550177" and row["created_by"] == "cli"
    refused = cli.runner.invoke(app, ["accounts", "block", account_id, "call me maybe"])
    assert refused.exit_code == 1 and "is not a phone number" in refused.output
    assert cli("accounts", "unblock", account_id, "+13125550177") == "unblocked +13125550177"
    gone = cli.runner.invoke(app, ["accounts", "unblock", account_id, "+13125550177"])
    assert gone.exit_code == 1 and "not on this account's blocklist" in gone.output
    with cli.db.session() as session:
        actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
        assert actions.count("blocklist.add") == 1 and actions.count("blocklist.remove") == 1
@pytest.mark.parametrize("public_url, message", [
    ("http://receptionist.example.com", "must be the https:// address Twilio calls"),
    (None, "missing configuration: set RECEPTIONIST_PUBLIC_URL"),
])
def test_serve_refuses_a_public_url_twilio_cannot_use(cli, monkeypatch, public_url, message):
    """ConversationRelay connects only to wss:// URLs, so a plain-HTTP public URL cannot work."""
    monkeypatch.delenv("RECEPTIONIST_PUBLIC_URL", raising=False)
    monkeypatch.delenv("RECEPTIONIST_ALLOW_PLAIN_HTTP", raising=False)
    if public_url:
        monkeypatch.setenv("RECEPTIONIST_PUBLIC_URL", public_url)
    result = cli.runner.invoke(app, ["serve", "--port", "1"])
    # A clean exit with the reason (SystemExit), before uvicorn starts: no server, no traceback.
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert message in str(result.exception)


def test_plain_http_is_only_for_an_explicit_local_demo():
    from pydantic import ValidationError

    from receptionist.settings import Settings

    with pytest.raises(ValidationError, match="wss://"):
        Settings(_env_file=None, public_url="http://127.0.0.1:8000")
    allowed = Settings(_env_file=None, public_url="http://127.0.0.1:8000", allow_plain_http=True)
    assert allowed.relay_url == "wss://127.0.0.1:8000/twilio/relay"  # what Twilio would be given, behind TLS
    assert Settings(_env_file=None, public_url="https://r.example.com/").relay_url == "wss://r.example.com/twilio/relay"


def test_cli_and_api_refuse_the_same_users_the_same_way(pg_service, monkeypatch):
    """A bad email or a second user with the same email: 422/409 from the API, the same message and exit 1 from the CLI."""
    monkeypatch.setenv("RECEPTIONIST_DATABASE_URL", pg_service.settings.database_url)
    account_id = pg_service.create_account()["id"]
    users = f"/api/accounts/{account_id}/users"
    assert pg_service.http.post(users, headers=pg_service.admin(),
                                json={"email": "owner@acme.example", "role": "owner"}).status_code == 201
    runner = CliRunner()

    def both(email: str, status: int) -> tuple[str, str]:
        api = pg_service.http.post(users, headers=pg_service.admin(), json={"email": email, "role": "member"})
        cli = runner.invoke(app, ["accounts", "add-user", account_id, email, "--role", "member"])
        assert api.status_code == status, api.text
        assert cli.exit_code == 1 and len(cli.output.strip().splitlines()) == 1, cli.output
        return api.json()["error"]["message"], cli.output.strip().removeprefix("error: ")

    api_message, cli_message = both("not an email", 422)
    assert "email" in api_message and "not a valid email" in cli_message
    api_message, cli_message = both("Owner@Acme.example", 409)
    assert api_message == cli_message == "Owner@acme.example is already a user of this account (owner): rotate their token instead"
    with pg_service.app.state.services.db.session() as session:
        from receptionist.core.models import User

        assert [u.email for u in session.query(User).filter_by(account_id=account_id)] == ["owner@acme.example"]


def test_create_admin_validates_like_the_api_and_refuses_a_second_one(cli):
    assert cli("accounts", "create-admin", "ops@example.com")
    for email, message in (("not an email", "not a valid email"), ("OPS@example.com", "already an admin")):
        result = cli.runner.invoke(app, ["accounts", "create-admin", email])
        assert result.exit_code == 1 and message in result.output, result.output


def test_accounts_list_prints_full_ids_at_80_columns_and_as_json(cli):
    first = cli("accounts", "create", "--json", json.dumps(ACCOUNT))
    second = cli("accounts", "create", "--json", json.dumps({**ACCOUNT, "name": "Rivertown Roofing and Gutter Repair",
                                                               "phone_numbers": ["+15550100299"]}))
    table = cli.runner.invoke(app, ["accounts", "list"], env={"COLUMNS": "80"}).output
    assert first in table and second in table and "Rivertown Roofing and Gutter Repair" in table
    listed = json.loads(cli("accounts", "list", "--json"))
    assert [(row["id"], row["name"]) for row in listed] == [(first, ACCOUNT["name"]),
                                                             (second, "Rivertown Roofing and Gutter Repair")]
    assert listed[1]["phone_numbers"] == ["+15550100299"] and listed[0]["retention_days"] == 90
    owner = cli("accounts", "add-user", first, "owner@example.com")
    assert owner
    users = json.loads(cli("accounts", "users", first, "--json"))
    assert [(u["email"], u["role"], len(u["id"])) for u in users] == [("owner@example.com", "owner", len(users[0]["id"]))]
    assert users[0]["id"] in cli.runner.invoke(app, ["accounts", "users", first], env={"COLUMNS": "60"}).output


def test_webhook_commands_add_list_update_log_and_remove(cli, monkeypatch):
    from receptionist.core.models import Call, WebhookDelivery
    from receptionist.webhooks import events

    monkeypatch.setenv("RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE", "false")
    account_id = cli("accounts", "create", "--json", json.dumps(ACCOUNT))
    refused = cli.runner.invoke(app, ["accounts", "webhooks", "add", account_id, "https://127.0.0.1/x",
                                      "--event", "call.completed"])
    assert refused.exit_code == 1 and "loopback" in refused.output
    webhook_id, secret = cli("accounts", "webhooks", "add", account_id, "https://93.184.215.14/hook",
                             "--event", "call.completed", "--event", "call.missed").split()
    assert secret.startswith("whsec_")
    [row] = json.loads(cli("accounts", "webhooks", "list", account_id, "--json"))
    assert row["id"] == webhook_id and row["events"] == "call.completed call.missed" and secret not in json.dumps(row)
    rotated = cli("accounts", "webhooks", "update", account_id, webhook_id, "--rotate-secret")
    assert rotated.startswith("whsec_") and rotated != secret
    assert cli("accounts", "webhooks", "update", account_id, webhook_id, "--disable") == f"updated {webhook_id}"
    assert json.loads(cli("accounts", "webhooks", "list", account_id, "--json"))[0]["enabled"] is False
    cli("accounts", "webhooks", "update", account_id, webhook_id, "--enable")
    with cli.db.session() as session:
        call = Call(call_sid="CA" + "1" * 32, account_id=account_id, from_number="+15550142367",
                    to_number="+15550100200", outcome="missed")
        session.add(call)
        session.flush()
        [delivery_id] = events.call_ended(session, call, "")
        session.get(WebhookDelivery, delivery_id).status = "failed"
    [logged] = json.loads(cli("accounts", "webhooks", "deliveries", account_id, webhook_id, "--json"))
    assert (logged["id"], logged["event"], logged["status"]) == (delivery_id, "call.missed", "failed")
    retried = cli.runner.invoke(app, ["accounts", "webhooks", "retry", str(delivery_id)],
                                env={"RECEPTIONIST_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert retried.exit_code == 0 and "reconciler will queue it" in retried.output
    with cli.db.session() as session:
        assert session.get(WebhookDelivery, delivery_id).status == "pending"
    assert cli("accounts", "webhooks", "remove", account_id, webhook_id) == f"removed {webhook_id}"
    assert cli("accounts", "webhooks", "list", account_id) == "(none)"
