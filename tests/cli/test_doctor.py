"""`receptionist doctor` on the real services, the placeholders of `.env.example`, and the checks
`serve` and `worker` run before they start."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from receptionist.cli import app
from receptionist.settings import ENV_NAMES, Settings
from receptionist.storage.bucket import BucketConfig, apply_bucket
from receptionist.storage.client import make_s3_client
from sandbox import SmtpCapture
from tests.support.tls import make_tls_files

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
LOGIN = ("alerts@receptionist.test", "a long smtp password")
# Every setting of the product, so the environment of the test run cannot leak into a check.
ALL_VARIABLES = sorted(set(ENV_NAMES.values()) | {"AWS_DEFAULT_REGION", "RECEPTIONIST_ENV_FILE"})


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env of the checkout's


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("doctor-tls"))


@pytest.fixture
def mail(tls_files):
    with SmtpCapture(tls=tls_files.server_context(), tls_mode="starttls", login=LOGIN) as server:
        yield server


@pytest.fixture
def ready(make_settings, pg_database, mail, tls_files, clean_env):
    """Settings an operator got right, on the real services (the bucket not made yet)."""
    return make_settings(pg_database, public_url="https://receptionist.test", smtp_url=mail.url,
                         smtp_ca_bundle=str(tls_files.ca), alert_from_email="alerts@receptionist.test",
                         admin_token=secrets.token_hex(32), session_secret=secrets.token_hex(32))


def run(*args: str, settings: Settings | None = None, env: dict[str, str] | None = None):
    environment = {**(settings.to_env() if settings else {}), **(env or {})}
    return CliRunner().invoke(app, list(args), env=environment)


def lines(output: str, status: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(status)]


def test_doctor_checks_every_system_and_says_what_to_do(ready):
    first = run("doctor", settings=ready)
    assert first.exit_code == 1, first.output
    (missing,) = lines(first.output, "FAIL")
    assert f"bucket {ready.s3_bucket} at {ready.s3_endpoint_url} does not exist" in missing
    assert "receptionist infra apply" in missing

    client = make_s3_client(ready)
    apply_bucket(client, BucketConfig.for_endpoint(ready.s3_bucket, ready.s3_endpoint_url, tls_only=False))
    second = run("doctor", settings=ready)
    assert second.exit_code == 0, second.output
    assert not lines(second.output, "FAIL") and second.output.strip().endswith("everything checked is ready")
    for check in ("database", "Redis", "S3 bucket", "bucket default encryption", "bucket lifecycle rules", "SMTP",
                  "Twilio API", "public URL", "RECEPTIONIST_ADMIN_TOKEN"):
        assert re.search(rf"^(ok|warn)\s+{re.escape(check)}: ", second.output, re.M), (check, second.output)
    assert f"logged in as {LOGIN[0]}" in second.output
    assert ready.twilio_auth_token not in second.output and ready.admin_token not in second.output
    assert LOGIN[1] not in second.output and ready.aws_secret_access_key not in second.output

    # Someone changes the lifecycle rules by hand: doctor notices and says how to put them back.
    client.delete_bucket_lifecycle(Bucket=ready.s3_bucket)
    third = run("doctor", settings=ready)
    assert third.exit_code == 1
    (lifecycle,) = lines(third.output, "FAIL")
    assert lifecycle.startswith("FAIL  bucket lifecycle rules: not as promised") and "infra apply" in lifecycle


def test_an_unmigrated_database_is_named_with_the_command_that_migrates_it(make_settings, ready, tmp_path):
    fresh = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", **{k: getattr(ready, k) for k in (
        "public_url", "smtp_url", "smtp_ca_bundle", "admin_token", "session_secret")})
    Path(tmp_path / "empty.db").touch()
    result = run("doctor", settings=fresh)
    (database,) = [line for line in lines(result.output, "FAIL") if "database" in line]
    assert "schema at nothing" in database and "receptionist db upgrade" in database


def test_wrong_credentials_each_get_a_line_naming_what_refused_them(ready, twilio_api):
    wrong = ready.model_copy(update={"aws_secret_access_key": "not-the-secret", "twilio_auth_token": "0" * 32,
                                     "smtp_url": ready.smtp_url.replace("password", "passw0rd")})
    result = run("doctor", settings=wrong)
    assert result.exit_code == 1
    failed = {line.split(":")[0].split(None, 1)[1]: line for line in lines(result.output, "FAIL")}
    assert set(failed) == {"S3 bucket", "SMTP", "Twilio API"}, result.output
    s3 = failed["S3 bucket"]
    assert f"bucket {ready.s3_bucket} at {ready.s3_endpoint_url} answered 403" in s3 and "AWS_SECRET_ACCESS_KEY" in s3
    assert f"refused the credentials of {ready.twilio_account_sid} (HTTP 401, code 20003)" in failed["Twilio API"]
    assert "SMTPAuthenticationError" in failed["SMTP"] and "passw0rd" not in result.output
    assert "Traceback" not in result.output
    assert "Traceback" in run("doctor", "--debug", settings=wrong).output  # --debug shows the cause


def test_every_placeholder_of_env_example_fails_doctor(clean_env):
    """Each value `.env.example` ships uncommented is one the operator must replace: doctor names every one."""
    assigned = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                    if line and not line.startswith("#"))
    assert len(assigned) >= 10
    result = run("doctor", "--env-file", str(ENV_EXAMPLE))
    assert result.exit_code == 1
    failing = "\n".join(lines(result.output, "FAIL"))
    for name in assigned:
        assert re.search(rf"\b{name}\b", failing), f"doctor accepts the placeholder {name}={assigned[name]}"
    # Nothing of a placeholder was asked over the network (no DNS look-up of example.com, no login).
    for system in ("database", "S3 bucket", "SMTP", "Twilio API"):
        assert re.search(rf"^skip\s+{system}: not asked", result.output, re.M), system


def test_env_example_is_systemd_and_docker_compatible():
    """systemd's EnvironmentFile= and docker's --env-file keep everything after "=", "#" included: so
    no inline comments, no quotes, no spaces; comments only on lines of their own. Every name is a setting."""
    known = set(ENV_NAMES.values()) | {"AWS_DEFAULT_REGION"}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        if not line or (line.startswith("#") and "=" not in line.split()[0]):
            continue
        assignment = line.removeprefix("#")
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s\"'#]*", assignment), f".env.example:{number}: {line!r}"
        assert assignment.split("=")[0] in known, f".env.example:{number}: unknown setting {line!r}"


def test_serve_refuses_a_placeholder_configuration_with_one_line_per_problem(clean_env):
    result = run("serve", "--port", "1", "--env-file", str(ENV_EXAMPLE))
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    message = str(result.exception)
    assert message.startswith("receptionist serve will not start:")
    for name in ("TWILIO_ACCOUNT_SID", "RECEPTIONIST_ADMIN_TOKEN", "RECEPTIONIST_S3_BUCKET", "RECEPTIONIST_DATABASE_URL"):
        assert name in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize("role", ["serve", "worker"])
def test_serve_and_worker_refuse_an_unreachable_database_in_one_line(ready, role):
    unreachable = ready.model_copy(update={"database_url": "postgresql://receptionist@127.0.0.1:1/receptionist"})
    result = run(role, "--port", "1", settings=unreachable) if role == "serve" else run(role, settings=unreachable)
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    (problem,) = [line for line in str(result.exception).splitlines() if line.startswith("FAIL")]
    assert problem.startswith("FAIL  database: cannot use postgresql://receptionist@127.0.0.1:1/receptionist")
    assert "Traceback" not in result.output
    debug = run(role, "--debug", *(["--port", "1"] if role == "serve" else []), settings=unreachable)
    assert debug.exit_code == 1 and "Traceback" in debug.output and "OperationalError" in debug.output


def test_the_worker_refuses_twilio_credentials_twilio_refuses(ready):
    result = run("worker", "--burst", settings=ready.model_copy(update={"twilio_auth_token": "0" * 32}))
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert "FAIL  Twilio API:" in str(result.exception) and "HTTP 401" in str(result.exception)


def test_a_twilio_account_sid_that_is_not_one_is_refused_for_the_real_twilio():
    from receptionist.cli.doctor import CONFIGURATION, run_checks

    settings = Settings(_env_file=None, twilio_account_sid="my-account", twilio_auth_token="x" * 32,
                        public_url="https://receptionist.test")
    (finding,) = [f for f in run_checks(settings, CONFIGURATION) if f.check == "Twilio settings"]
    assert finding.failed and finding.fatal and "is not an Account SID" in finding.detail


@pytest.mark.parametrize("url, message", [
    ("receptionist.example.com", "must be the https:// address Twilio calls"),
    ("https:///receptionist", "absolute https:// address with a host name"),
])
def test_a_public_url_without_scheme_or_host_is_refused_in_one_line(clean_env, url, message):
    result = run("doctor", env={"RECEPTIONIST_PUBLIC_URL": url})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert message in str(result.exception) and "Traceback" not in result.output


def test_postgres_scheme_is_read_as_postgresql():
    settings = Settings(_env_file=None, database_url="postgres://receptionist:pw@db.internal:5432/receptionist")
    assert settings.database_url == "postgresql://receptionist:pw@db.internal:5432/receptionist"


def _commands(group, path=()):
    import typer.main

    command = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, sub in command.commands.items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def test_every_command_takes_env_file_and_says_its_default():
    commands = dict(_commands(app))
    assert {("serve",), ("worker",), ("doctor",), ("demo",), ("db", "upgrade"), ("accounts", "list"),
            ("infra", "apply"), ("retention", "sweep"), ("training", "export")} <= set(commands)
    for path, command in commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"--env-file", "--debug"} <= options, path
        help_text = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output
        assert "--env-file" in help_text and "./.env" in help_text, path


def test_env_file_is_read_from_where_it_is_wherever_the_command_runs(clean_env, tmp_path, monkeypatch):
    """The README's mistake, undone: `db upgrade` run from another directory used ./receptionist.db there."""
    from tests.support.world import ACCOUNT

    home, elsewhere = tmp_path / "srv", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    database = home / "receptionist.db"
    (home / ".env").write_text(f"RECEPTIONIST_DATABASE_URL=sqlite:///{database}\n")
    monkeypatch.chdir(elsewhere)
    upgraded = run("db", "upgrade", "--env-file", str(home / ".env"))
    assert upgraded.exit_code == 0 and str(database) in upgraded.output, upgraded.output
    import json

    created = run("accounts", "create", "--env-file", str(home / ".env"), "--json", json.dumps(ACCOUNT))
    assert created.exit_code == 0, created.output
    listed = run("accounts", "list", "--json", "--env-file", str(home / ".env"))
    assert [row["id"] for row in json.loads(listed.output)] == [created.output.strip()]
    assert not (elsewhere / "receptionist.db").exists()
    # Without it (a new process: --env-file is handed on to child processes through the environment),
    # doctor says which file it read (none here) and that the database file is not there.
    monkeypatch.delenv("RECEPTIONIST_ENV_FILE")
    plain = run("doctor")
    assert f"{elsewhere / '.env'} does not exist" in plain.output
    assert f"the file {elsewhere / 'receptionist.db'}, which does not exist" in plain.output
    assert not (elsewhere / "receptionist.db").exists()
    missing = run("accounts", "list", "--env-file", str(elsewhere / "nope.env"))
    assert missing.exit_code == 1 and "no such file" in str(missing.exception)


def test_an_example_address_is_a_doctor_failure_and_a_start_up_warning(ready):
    """`change-me` and `AC...` refuse the start; an example.com address is refused by doctor and only
    warned about at start (the service runs; Twilio just cannot reach it)."""
    from receptionist.cli.doctor import check_before_start

    example = ready.model_copy(update={"public_url": "https://receptionist.example.com"})
    warnings: list[str] = []
    check_before_start("serve", example, debug=False, warn=warnings.append)
    assert any("RECEPTIONIST_PUBLIC_URL is still the example value" in w for w in warnings), warnings
    assert run("doctor", settings=example).exit_code == 1
    with pytest.raises(SystemExit, match="TWILIO_AUTH_TOKEN is still the example value"):
        check_before_start("serve", example.model_copy(update={"twilio_auth_token": "change-me"}), debug=False,
                           warn=warnings.append)
