"""`receptionist doctor`, and the checks `serve` and `worker` run before they start.

A check reads the settings (and, for an outside system, asks it one question) and answers one
`Finding` per thing it looked at: what it found and, when that is wrong, what to do about it. The
configuration checks come first and never touch the network; a system whose settings are still
placeholders is skipped rather than asked (no DNS look-ups of example.com). `doctor` runs every
check and exits 1 on any failure; `serve` and `worker` run the checks listed for them in
`START_CHECKS` and refuse to start on a fatal failure, with one line per problem and no traceback
(`--debug` shows it). Another start-up check is one more `Check` in that list.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import typer

from receptionist.core.errors import DomainError, NotFound, Unauthenticated
from receptionist.settings import ENV_NAMES, Settings, env_file

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"

# What `.env.example` ships instead of a value the operator must choose: a value containing one of
# these marks, or an address under a domain reserved for examples (RFC 2606).
PLACEHOLDER_MARKS = ("change-me", "...")
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example")
# Twilio's Account SID: "AC" and 32 hexadecimal digits (https://www.twilio.com/docs/glossary/what-is-a-sid).
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
TWILIO_API = "https://api.twilio.com"
MIN_SECRET_LENGTH = 32
MAKE_SECRET = "make one with `openssl rand -hex 32`"
A_SECRET = "a random secret; " + MAKE_SECRET
# Settings whose values are never printed, not even as a placeholder.
SECRETS = frozenset({"aws_secret_access_key", "twilio_auth_token", "admin_token", "session_secret", "metrics_token",
                     "openai_api_key"})
WHAT_TO_SET = {
    "database_url": "the PostgreSQL URL of the service's database, e.g. postgresql://receptionist:PASSWORD@127.0.0.1/receptionist",
    "s3_bucket": "the name of the bucket call audio and transcripts go to",
    "aws_access_key_id": "the access key of an IAM user (or the S3 server's key) that may use the bucket",
    "aws_secret_access_key": "that access key's secret",
    "twilio_account_sid": "the Account SID from the Twilio console (AC followed by 32 hex digits)",
    "twilio_auth_token": "the Auth Token from the Twilio console",
    "public_url": "the https:// address Twilio calls, the one your proxy serves",
    "smtp_url": "your mail server, e.g. smtp+starttls://USER:PASSWORD@smtp.yourprovider.net:587",
    "alert_from_email": "the address owner alerts are sent from",
    "admin_token": A_SECRET,
    "session_secret": A_SECRET,
    "metrics_token": A_SECRET,
}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # OK, WARN, FAIL or SKIP
    detail: str
    fix: str = ""
    fatal: bool = False  # `serve` and `worker` refuse to start on it
    variables: tuple[str, ...] = ()  # the settings it is about, by their environment names
    error: BaseException | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check}: {self.detail}"
        return f"{text} -> {self.fix}" if self.fix and self.status != OK else text


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Settings, set[str]], Iterable[Finding]]  # (settings, placeholder variables) -> findings
    uses: tuple[str, ...] = ()  # settings whose placeholder makes the check a skip


def _finding(check: str, status: str, detail: str, fix: str = "", *, fatal: bool = False,
             names: Iterable[str] = (), error: BaseException | None = None) -> Finding:
    return Finding(check, status, detail, fix, fatal, tuple(ENV_NAMES[name] for name in names), error)


# -- the configuration: no network ------------------------------------------------------------


def is_placeholder(value: str) -> bool:
    if any(mark in value for mark in PLACEHOLDER_MARKS):
        return True
    host = urlsplit(value).hostname if "://" in value else value.rpartition("@")[2] if "@" in value else None
    host = (host or "").lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in EXAMPLE_DOMAINS)


def placeholders(settings: Settings) -> list[str]:
    """The settings still holding a placeholder from `.env.example`."""
    return [name for name in ENV_NAMES
            if isinstance(value := getattr(settings, name), str) and value and is_placeholder(value)]


def check_placeholders(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    found = placeholders(settings)
    for name in found:
        value = "" if name in SECRETS else f" ({_safe_url(getattr(settings, name))})"
        # `change-me` and `AC...` can never work (and a published secret is no secret): serve and
        # worker refuse them. An address under example.com is refused by doctor, and only warned
        # about at start: the service itself runs (as behind a test's or a local proxy's address).
        fatal = any(mark in getattr(settings, name) for mark in PLACEHOLDER_MARKS)
        yield _finding("placeholder", FAIL, f"{ENV_NAMES[name]} is still the example value{value}",
                       f"set it to {WHAT_TO_SET.get(name, 'your own value')}", fatal=fatal, names=[name])
    if not found:
        yield _finding("placeholder", OK, "no setting holds an example value")


def check_public_url(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    url = settings.public_url
    if is_placeholder(url):
        return  # said by the placeholder check
    if not url:
        yield _finding("public URL", FAIL, "RECEPTIONIST_PUBLIC_URL is not set", WHAT_TO_SET["public_url"],
                       fatal=True, names=["public_url"])
    elif not url.startswith("https://"):  # allowed by the settings only with RECEPTIONIST_ALLOW_PLAIN_HTTP
        yield _finding("public URL", FAIL, f"{url} is plain HTTP: Twilio's ConversationRelay only connects to wss://",
                       "use the https:// address of your proxy (RECEPTIONIST_ALLOW_PLAIN_HTTP is for a local demo)",
                       names=["public_url", "allow_plain_http"])
    else:
        yield _finding("public URL", OK, f"{url} (webhook signatures are checked against it; relay {settings.relay_url})")


def check_twilio_settings(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not sid or not token:
        missing = [name for name in ("twilio_account_sid", "twilio_auth_token") if not getattr(settings, name)]
        yield _finding("Twilio settings", FAIL, f"{' and '.join(ENV_NAMES[n] for n in missing)} not set: every "
                       "webhook is refused (403) and no recording can be downloaded",
                       "copy the Account SID and Auth Token from the Twilio console", names=missing)
    elif settings.twilio_api_url == TWILIO_API and not ACCOUNT_SID.match(sid) and not is_placeholder(sid):
        yield _finding("Twilio settings", FAIL, f"TWILIO_ACCOUNT_SID {sid!r} is not an Account SID",
                       WHAT_TO_SET["twilio_account_sid"], fatal=True, names=["twilio_account_sid"])
    elif not is_placeholder(sid):
        yield _finding("Twilio settings", OK, f"account {sid} at {settings.twilio_api_url}")


def _secret(settings: Settings, name: str, purpose: str, unset: str) -> Iterable[Finding]:
    value = getattr(settings, name) or ""
    label = ENV_NAMES[name]
    if not value:
        yield _finding(label, FAIL, f"not set: {unset}", MAKE_SECRET, names=[name])
    elif is_placeholder(value):
        return  # said once, by the placeholder check (fatal)
    elif len(value) < MIN_SECRET_LENGTH:
        yield _finding(label, FAIL, f"only {len(value)} characters: a guessable {purpose}",
                       f"use at least {MIN_SECRET_LENGTH}; {MAKE_SECRET}", names=[name])
    else:
        yield _finding(label, OK, f"set ({len(value)} characters)")


def check_secrets(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    yield from _secret(settings, "admin_token", "admin password",
                       "there is no admin token for /api (admins can still be made with "
                       "`receptionist accounts create-admin`)")
    yield from _secret(settings, "session_secret", "key to every dashboard session",
                       "dashboard sessions end at every restart and do not work across `serve --workers N`")
    if settings.metrics_token:
        yield from _secret(settings, "metrics_token", "scrape token", "")


# -- the outside systems ------------------------------------------------------------------------


def _skipped(check: str, names: Iterable[str]) -> Finding:
    return _finding(check, SKIP, f"not asked: fix {', '.join(ENV_NAMES[n] for n in names)} first")


def check_database(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    from receptionist.wiring import build_database

    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        # Asking would create an empty database here: the mistake of a command run in another directory.
        yield _finding("database", FAIL, f"{settings.database_url} means the file {missing}, which does not exist",
                       "run from the directory of your .env, pass --env-file, or set an absolute path; "
                       "`receptionist db upgrade` creates it", names=["database_url"])
        return
    db = None
    try:
        db = build_database(settings, pool_size=1)
        where = db.engine.url.render_as_string(hide_password=True)
        current, head = db.schema_revisions()
    except Exception as exc:
        yield _finding("database", FAIL, f"cannot use {_safe_url(settings.database_url)}: {_first_line(exc)}",
                       "check RECEPTIONIST_DATABASE_URL: the server, the user (role), its password and the database "
                       "must exist", fatal=True, names=["database_url"], error=exc)
        return
    finally:
        if db is not None:
            db.dispose()
    if current == head:
        yield _finding("database", OK, f"{where}: reachable, schema at {head} (the newest)")
    else:
        yield _finding("database", FAIL, f"{where}: reachable, schema at {current or 'nothing'}, newest is {head}",
                       "run `receptionist db upgrade` (serve and worker also migrate when they start)",
                       names=["database_url"])


def check_redis(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    from receptionist.wiring import build_queue

    where = _safe_url(settings.redis_url)
    try:
        queue = build_queue(settings)
        try:
            queue.ping()
        finally:
            queue.redis.close()
    except Exception as exc:
        yield _finding("Redis", FAIL, f"cannot reach {where}: {_first_line(exc)}",
                       "start Redis or fix RECEPTIONIST_REDIS_URL", fatal=True, names=["redis_url"], error=exc)
        return
    yield _finding("Redis", OK, f"{where}: answers")


def check_bucket(settings: Settings, _skip: set[str], *, created_at_start: bool = False) -> Iterable[Finding]:
    from receptionist.wiring import build_store

    try:
        store = build_store(settings)
        store.probe()
    except NotFound as exc:
        if created_at_start:
            yield _finding("S3 bucket", OK, f"{exc.message}: it is created with default encryption at start")
        else:
            yield _finding("S3 bucket", FAIL, exc.message,
                           "run `receptionist infra apply` to create and configure it (or fix RECEPTIONIST_S3_BUCKET)",
                           names=["s3_bucket"])
        return
    except DomainError as exc:
        fix = ("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that their user may use the bucket"
               if isinstance(exc, Unauthenticated) or "credentials" in exc.message
               else "check RECEPTIONIST_S3_ENDPOINT_URL, AWS_REGION and that the server is up")
        yield _finding("S3 bucket", FAIL, exc.message, fix, fatal=True,
                       names=["s3_bucket", "s3_endpoint_url", "aws_access_key_id"], error=exc)
        return
    except Exception as exc:
        yield _finding("S3 bucket", FAIL, f"cannot use bucket {settings.s3_bucket}: {_first_line(exc)}",
                       "check the RECEPTIONIST_S3_* settings", fatal=True, names=["s3_bucket"], error=exc)
        return
    yield _finding("S3 bucket", OK, f"{store.where}: reachable with these credentials")
    yield from _bucket_configuration(settings, store)


def _bucket_configuration(settings: Settings, store) -> Iterable[Finding]:
    from receptionist.storage.bucket import BucketConfig, apply_bucket

    config = BucketConfig.for_endpoint(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_kms_key_id)
    try:
        report = apply_bucket(store.client, config, dry_run=True)
    except Exception as exc:
        yield _finding("bucket configuration", FAIL, f"could not read it: {_first_line(exc)}",
                       "give the credentials s3:GetBucket* permissions, or check it by hand", error=exc)
        return
    for step in report.steps[1:]:
        label = f"bucket {step.setting}"
        if step.status == "unchanged":
            yield _finding(label, OK, step.detail)
        elif step.status == "would change":
            yield _finding(label, FAIL, f"not as promised: {step.detail}", "run `receptionist infra apply`")
        elif step.status == "refused":
            yield _finding(label, WARN, step.detail)
        else:
            yield _finding(label, WARN, step.detail)


def check_smtp(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    from receptionist.wiring import build_mailer

    where = _safe_url(settings.smtp_url)
    try:
        said = build_mailer(settings).check()
    except Exception as exc:
        yield _finding("SMTP", FAIL, f"{where}: {_first_line(exc)}",
                       "check RECEPTIONIST_SMTP_URL (host, port, scheme, user and password); owner emails cannot be sent",
                       names=["smtp_url"], error=exc)
        return
    yield _finding("SMTP", OK, said)


def check_twilio(settings: Settings, _skip: set[str]) -> Iterable[Finding]:
    from receptionist.wiring import build_twilio

    twilio = build_twilio(settings, retry_window_s=0)
    if twilio is None:
        yield _finding("Twilio API", SKIP, "no credentials to try (see Twilio settings)")
        return
    try:
        said = twilio.check_credentials()
    except Unauthenticated as exc:
        yield _finding("Twilio API", FAIL, exc.message, WHAT_TO_SET["twilio_account_sid"] + " and its Auth Token",
                       fatal=True, names=["twilio_account_sid", "twilio_auth_token"], error=exc)
        return
    except DomainError as exc:
        yield _finding("Twilio API", FAIL, exc.message, "check RECEPTIONIST_TWILIO_API_URL and the network",
                       names=["twilio_api_url"], error=exc)
        return
    finally:
        twilio.close()
    yield _finding("Twilio API", OK, said)


def _missing_sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).resolve()
    return None if path.exists() else path


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


CONFIGURATION = [
    Check("placeholder", check_placeholders),
    Check("public URL", check_public_url),
    Check("Twilio settings", check_twilio_settings),
    Check("secrets", check_secrets),
]
SYSTEMS = [
    Check("database", check_database, uses=("database_url",)),
    Check("Redis", check_redis, uses=("redis_url",)),
    Check("S3 bucket", check_bucket, uses=("s3_bucket", "s3_endpoint_url", "aws_access_key_id",
                                           "aws_secret_access_key")),
    Check("SMTP", check_smtp, uses=("smtp_url",)),
    Check("Twilio API", check_twilio, uses=("twilio_account_sid", "twilio_auth_token", "twilio_api_url")),
]
ALL_CHECKS = CONFIGURATION + SYSTEMS


def _serve_bucket(settings: Settings, skip: set[str]) -> Iterable[Finding]:
    # `serve` creates a missing bucket at start, and the bucket's full configuration is `doctor`'s.
    return (f for f in check_bucket(settings, skip, created_at_start=True) if not f.check.startswith("bucket "))


# What each process checks before it starts; a fatal failure refuses the start. Another start-up
# check is one more entry in these lists.
SERVE_BUCKET = Check("S3 bucket", _serve_bucket, uses=SYSTEMS[2].uses)
START_CHECKS: dict[str, list[Check]] = {
    "serve": [*CONFIGURATION, SYSTEMS[0], SYSTEMS[1], SERVE_BUCKET],
    "worker": [CONFIGURATION[0], CONFIGURATION[1], CONFIGURATION[2], SYSTEMS[0], SYSTEMS[1], SERVE_BUCKET,
               SYSTEMS[3], SYSTEMS[4]],
}


def run_checks(settings: Settings, checks: list[Check]) -> list[Finding]:
    skip = set(placeholders(settings))
    findings: list[Finding] = []
    for check in checks:
        blocked = [name for name in check.uses if name in skip]
        if blocked:
            findings.append(_skipped(check.name, blocked))
            continue
        findings.extend(check.run(settings, skip))
    return findings


def load_settings() -> Settings:
    return Settings.load()


def describe_env_file() -> str:
    path = Path(env_file())
    return f"settings: the environment, then {path.resolve()}" if path.exists() else \
        f"settings: the environment only ({path.resolve()} does not exist; --env-file PATH reads another file)"


def doctor(debug: bool) -> int:
    typer.echo(describe_env_file())
    findings = run_checks(load_settings(), ALL_CHECKS)
    for finding in findings:
        typer.secho(finding.line(), fg={FAIL: "red", WARN: "yellow", SKIP: "yellow"}.get(finding.status), err=False)
        if debug and finding.error is not None:
            traceback.print_exception(finding.error)
    failed = [f for f in findings if f.failed]
    typer.echo(f"{len(failed)} problem(s) found" if failed else "everything checked is ready")
    return 1 if failed else 0


def check_before_start(role: str, settings: Settings, *, debug: bool, warn: Callable[[str], None]) -> None:
    """Refuse to start `role` (serve, worker) on a fatal finding: one line each, then exit 1."""
    findings = run_checks(settings, START_CHECKS[role])
    fatal = [f for f in findings if f.failed and f.fatal]
    for finding in findings:
        if finding.failed and not finding.fatal:
            warn(finding.line())
    if fatal:
        for finding in fatal:
            if debug and finding.error is not None:
                traceback.print_exception(finding.error)
        lines = "\n".join(f.line() for f in fatal)
        raise SystemExit(f"receptionist {role} will not start:\n{lines}\n(`receptionist doctor` checks everything)")
