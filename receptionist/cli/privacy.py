"""`receptionist infra apply`, `receptionist retention …`, `receptionist training export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

infra_app = typer.Typer(help="The bucket's encryption, access, policy and lifecycle rules.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention: the sweep and re-tagging of stored objects.", no_args_is_help=True)
training_app = typer.Typer(help="Training data.", no_args_is_help=True)

# Exit status of `infra apply` when the server refused (or we skipped) a setting: the bucket works,
# but it is not configured as promised, and a deploy script should notice.
INCOMPLETE = 3


def _settings():
    from receptionist.settings import Settings

    return Settings()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=False)


@infra_app.command("apply")
def infra_apply(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    versioning: bool = typer.Option(True, "--versioning/--no-versioning", help="Object versioning."),
    tls_only: bool | None = typer.Option(None, "--tls-only/--no-tls-only",
                                         help="Deny requests not made over TLS (default: unless the endpoint is http://)."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help=f"Exit 0 even when a setting was refused (else {INCOMPLETE})."),
):
    """Apply the bucket configuration of infra/bucket.yaml to RECEPTIONIST_S3_BUCKET through the S3 API."""
    from receptionist.storage.bucket import BucketConfig, apply_bucket
    from receptionist.storage.objects import make_s3_client

    settings = _settings()
    config = BucketConfig.for_endpoint(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_kms_key_id,
                                       versioning=versioning, tls_only=tls_only)
    report = apply_bucket(make_s3_client(settings), config, dry_run=dry_run)
    where = settings.s3_endpoint_url or "AWS"
    typer.echo(f"bucket {config.bucket} at {where}{' (dry run)' if dry_run else ''}:")
    for step in report.steps:
        typer.secho(f"  {step.line()}", fg=None if step.applied else "yellow")
    if report.not_applied:
        names = ", ".join(step.setting for step in report.not_applied)
        typer.secho(f"not applied: {names}", fg="yellow", err=True)
        if not allow_incomplete:
            raise typer.Exit(INCOMPLETE)
    elif not report.changed:
        typer.echo("nothing to change")


@retention_app.command("sweep")
def retention_sweep(dry_run: bool = typer.Option(False, "--dry-run", help="List what is due; delete nothing.")):
    """Delete what is past its retention now: expired calls, accounts closed 90 days ago, orphaned objects."""
    from redis import Redis

    from receptionist.core.db import Database
    from receptionist.core.models import utcnow
    from receptionist.core.queue import JobQueue
    from receptionist.storage.objects import ObjectStore
    from receptionist.privacy.sweeper import sweep

    settings = _settings()
    db = Database(settings.database_url, pool_size=2)
    db.migrate()
    twilio = _twilio(settings)
    queue = JobQueue(Redis.from_url(settings.redis_url), settings.queue_name, settings.job_timeout_s)
    try:
        report = sweep(db, ObjectStore.from_settings(settings), twilio, now=utcnow(), queue=queue, dry_run=dry_run)
    finally:
        if twilio is not None:
            twilio.close()
        db.dispose()
    typer.echo(report.describe())
    for label, items in (("expired calls", report.expired_calls), ("closed accounts", report.purged_accounts),
                         ("orphaned call folders", report.orphaned_calls)):
        for item in items:
            typer.echo(f"  {label}: {item}")
    if report.twilio_pending:
        typer.secho(f"Twilio's copy not deleted yet (retried by the worker): {', '.join(report.twilio_pending)}",
                    fg="yellow", err=True)


@retention_app.command("retag")
def retention_retag(account_id: str = typer.Argument(..., help="The account whose objects to re-tag.")):
    """Re-tag every object of an account from the database now (safe to repeat; resumes a pass)."""
    from redis import Redis

    from receptionist.core.db import Database
    from receptionist.privacy.retag import run_account_retag
    from receptionist.storage.objects import ObjectStore

    settings = _settings()
    db = Database(settings.database_url, pool_size=2)
    with _progress() as progress:
        task = progress.add_task(f"re-tagging account {account_id}", total=None)

        def show(step):
            progress.update(task, total=step.total, completed=min(step.done, step.total))

        result = run_account_retag(db, ObjectStore.from_settings(settings), Redis.from_url(settings.redis_url),
                                   account_id, on_progress=show)
    db.dispose()
    typer.echo(result.describe())


@retention_app.command("status")
def retention_status(account_id: str = typer.Argument(..., help="The account.")):
    """Where the account's re-tag pass is."""
    from redis import Redis

    from receptionist.privacy.retag import retag_status

    progress = retag_status(Redis.from_url(_settings().redis_url), account_id)
    typer.echo(json.dumps(progress.as_dict() if progress else None, indent=2))


@training_app.command("export")
def training_export(
    out: Path = typer.Option(..., "--out", help="Directory for training.jsonl and manifest.json."),
    account: str | None = typer.Option(None, "--account", help="Only this account's calls."),
):
    """Write redacted transcripts of the calls that may be used for training, and a manifest."""
    from receptionist.core.db import Database
    from receptionist.storage.objects import ObjectStore
    from receptionist.privacy.training import export_training_set

    settings = _settings()
    db = Database(settings.database_url, pool_size=2)
    with _progress() as progress:
        task = progress.add_task("exporting calls", total=None)
        export = export_training_set(db, ObjectStore.from_settings(settings), out, account_id=account,
                                     on_total=lambda n: progress.update(task, total=n),
                                     on_call=lambda: progress.advance(task))
    db.dispose()
    typer.echo(export.describe())


def _twilio(settings):
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        print("TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are not set: Twilio's copies of swept recordings "
              "are left for the worker to delete", file=sys.stderr)
        return None
    from receptionist.telephony.rest import TwilioRest

    return TwilioRest(settings.twilio_api_url, settings.twilio_account_sid, settings.twilio_auth_token,
                      min(settings.step_retry_window_s, 30.0))
