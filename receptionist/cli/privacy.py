"""`receptionist infra apply`, `receptionist retention …`, `receptionist training export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from receptionist.settings import LONGEST_RETENTION_DAYS

infra_app = typer.Typer(help="The bucket's encryption, access, policy and lifecycle rules.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention: the sweep and re-tagging of stored objects.", no_args_is_help=True)
training_app = typer.Typer(help="Training data.", no_args_is_help=True)

# Exit status of `infra apply` when the server refused (or we skipped) a setting: the bucket works,
# but it is not configured as promised, and a deploy script should notice.
INCOMPLETE = 3


def _settings():
    from receptionist.settings import Settings

    return Settings.load()


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
    from receptionist.storage.client import make_s3_client

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
    """Delete what the database says is past its time: expired calls, accounts closed 90 days ago, the
    leftovers of erased calls. Call folders the database does not know are reported, not deleted."""
    from receptionist.core.models import utcnow
    from receptionist.privacy.deployment import DeploymentMismatch
    from receptionist.privacy.sweeper import sweep
    from receptionist.wiring import command_services

    settings = _settings()
    with command_services(settings) as svc:
        svc.db.migrate()
        if svc.twilio is None:
            print("TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are not set: Twilio's copies of swept recordings "
                  "are left for the worker to delete", file=sys.stderr)
        try:
            report = sweep(svc.db, svc.store, svc.twilio, now=utcnow(), queue=svc.queue, dry_run=dry_run,
                           max_deletes=settings.sweep_max_deletes)
        except DeploymentMismatch as exc:
            _refuse(exc.message)
    typer.echo(report.describe())
    for label, items in (("expired calls", report.expired_calls), ("closed accounts", report.purged_accounts),
                         ("erased call folders", report.erased_leftovers),
                         ("left for the next run", report.deferred_calls + report.deferred_accounts),
                         ("unknown to the database, kept", report.orphaned_calls)):
        for item in items:
            typer.echo(f"  {label}: {item}")
    if report.twilio_pending:
        typer.secho(f"Twilio's copy not deleted yet (retried by the worker): {', '.join(report.twilio_pending)}",
                    fg="yellow", err=True)


@retention_app.command("purge-orphans")
def retention_purge_orphans(
    older_than_days: int = typer.Option(..., "--older-than-days", help=(
        f"Only folders whose every version is older than this; at least {LONGEST_RETENTION_DAYS} (the longest tier).")),
    yes: bool = typer.Option(False, "--yes", help="Delete them (without it: list what would be deleted)."),
):
    """Permanently delete call folders that the database does not know (no call, no tombstone) and that
    are older than the longest retention tier. Lists them unless confirmed with --yes."""
    from receptionist.core.errors import Invalid
    from receptionist.core.models import utcnow
    from receptionist.privacy.deployment import DeploymentMismatch
    from receptionist.privacy.sweeper import purge_orphans
    from receptionist.wiring import command_services

    settings = _settings()
    with command_services(settings) as svc:
        svc.db.migrate()
        try:
            result = purge_orphans(svc.db, svc.store, now=utcnow(), older_than_days=older_than_days, dry_run=not yes,
                                   max_deletes=settings.sweep_max_deletes)
        except (DeploymentMismatch, Invalid) as exc:
            _refuse(exc.message)
    for prefix in result.deleted:
        typer.echo(f"  {'deleted' if yes else 'would delete'}: {prefix}")
    typer.echo(result.describe())
    if not yes and result.deleted:
        typer.secho(f"nothing deleted: run again with --yes to delete these {len(result.deleted)} folder(s)",
                    fg="yellow", err=True)
        raise typer.Exit(1)


def _refuse(message: str):
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(2)


@retention_app.command("retag")
def retention_retag(account_id: str = typer.Argument(..., help="The account whose objects to re-tag.")):
    """Re-tag every object of an account from the database now (safe to repeat; resumes a pass)."""
    from receptionist.privacy.retag import run_account_retag
    from receptionist.wiring import command_services

    with command_services(_settings()) as svc, _progress() as progress:
        task = progress.add_task(f"re-tagging account {account_id}", total=None)

        def show(step):
            progress.update(task, total=step.total, completed=min(step.done, step.total))

        result = run_account_retag(svc.db, svc.store, svc.queue.redis, account_id, on_progress=show)
    typer.echo(result.describe())


@retention_app.command("status")
def retention_status(account_id: str = typer.Argument(..., help="The account.")):
    """Where the account's re-tag pass is."""
    from receptionist.privacy.retag import retag_status
    from receptionist.wiring import command_services

    with command_services(_settings()) as svc:
        progress = retag_status(svc.queue.redis, account_id)
    typer.echo(json.dumps(progress.as_dict() if progress else None, indent=2))


@training_app.command("export")
def training_export(
    out: Path = typer.Option(..., "--out", help="Directory for training.jsonl and manifest.json."),
    account: str | None = typer.Option(None, "--account", help="Only this account's calls."),
):
    """Write redacted transcripts of the calls that may be used for training, and a manifest."""
    from receptionist.privacy.training import export_training_set
    from receptionist.wiring import command_services

    with command_services(_settings()) as svc, _progress() as progress:
        task = progress.add_task("exporting calls", total=None)
        export = export_training_set(svc.db, svc.store, out, account_id=account,
                                     on_total=lambda n: progress.update(task, total=n),
                                     on_call=lambda: progress.advance(task))
    typer.echo(export.describe())
