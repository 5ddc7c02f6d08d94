"""The sweep deletes only what the database positively says, on PostgreSQL and SQLite against real
SeaweedFS: an empty or foreign database is refused (sweep, erasure, serve, worker), a database
restored from an older backup only reports what it does not know, one run's deletions are capped,
and unknown folders go only through `purge-orphans`, confirmed and past the longest tier."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import delete, select
from typer.testing import CliRunner

from receptionist.cli import app as cli
from receptionist.core.errors import Invalid
from receptionist.core.models import AuditEvent, Call, Deployment, Recording, new_id
from receptionist.core.queue import JobQueue
from receptionist.privacy import sweeper
from receptionist.privacy.deployment import DeploymentMismatch, claim_deployment, require_deployment
from receptionist.privacy.erasure import erase_call
from receptionist.settings import LONGEST_RETENTION_DAYS, Settings
from receptionist.storage.objects import ACCOUNTS_PREFIX, DEPLOYMENT_MARKER_KEY, call_prefix
from tests.support.privacy import CALLER, T0, PrivacyWorld
from tests.support.service import clean


@pytest.fixture
def world(make_settings, database_url, make_context, twilio_api, redis_conn):
    """The privacy world on PostgreSQL and again on SQLite, claimed as `serve`/`worker` claim it."""
    settings = make_settings(database_url)
    clean(database_url)
    ctx = make_context(settings)
    ctx.store.ensure_bucket()
    claim_deployment(ctx.db, ctx.store)
    queue = JobQueue(redis_conn, settings.queue_name, settings.job_timeout_s)
    return PrivacyWorld(settings, ctx.db, ctx.store, redis_conn, queue, ctx.twilio, twilio_api, ctx)


def bucket_versions(world: PrivacyWorld) -> int:
    return len(world.store.all_versions(ACCOUNTS_PREFIX))


def full_bucket(world: PrivacyWorld, calls: int = 5, *, days_ago: int = 400) -> list[str]:
    """Calls of a 90-day account, all long past their time: 2 objects each."""
    account_id = world.account(retention_days=90)
    return [world.call(account_id, started_at=T0 - timedelta(days=days_ago)) for _ in range(calls)]


def set_deployment_id(world: PrivacyWorld, deployment_id: str) -> None:
    with world.db.session() as session:
        session.scalar(select(Deployment)).deployment_id = deployment_id


def use_env(monkeypatch, settings: Settings, **overrides) -> None:
    for name, value in {**settings.to_env(), **overrides}.items():
        monkeypatch.setenv(name, value)


def test_an_empty_database_against_a_full_bucket_deletes_nothing(world):
    sids = full_bucket(world)
    assert bucket_versions(world) == 10
    clean(world.settings.database_url, forget_deployment=True)  # what a process without its environment finds

    for attempt in (lambda: sweeper.sweep(world.db, world.store, world.twilio, now=T0),
                    lambda: sweeper.sweep(world.db, world.store, world.twilio, now=T0, dry_run=True),
                    lambda: erase_call(world.db, world.store, world.twilio, sids[0], actor="test"),
                    lambda: claim_deployment(world.db, world.store)):  # and it does not adopt the bucket
        with pytest.raises(DeploymentMismatch, match="has no deployment id"):
            attempt()
    assert bucket_versions(world) == 10
    assert world.store.head(DEPLOYMENT_MARKER_KEY) is not None
    assert world.count(Deployment) == 0


def test_the_cli_sweep_on_the_default_database_refuses_in_one_line(world, monkeypatch, tmp_path):
    """The issue's reproduction: `receptionist retention sweep` started without its database
    setting creates an empty ./receptionist.db; it must not empty the bucket."""
    full_bucket(world)
    use_env(monkeypatch, world.settings)
    monkeypatch.delenv("RECEPTIONIST_DATABASE_URL")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["retention", "sweep"])
    assert result.exit_code == 2, result.output
    assert (tmp_path / "receptionist.db").exists()  # the empty default database was made ...
    lines = [line for line in result.output.splitlines() if line.startswith("refusing")]
    assert len(lines) == 1 and world.settings.s3_bucket in lines[0]
    assert bucket_versions(world) == 10  # ... and nothing was deleted


def test_a_foreign_deployments_database_is_refused_everywhere(world, monkeypatch, caplog):
    sids = full_bucket(world)
    set_deployment_id(world, new_id())  # staging's database against production's bucket

    with pytest.raises(DeploymentMismatch, match="belongs to deployment"):
        sweeper.sweep(world.db, world.store, world.twilio, now=T0)
    with pytest.raises(DeploymentMismatch):
        erase_call(world.db, world.store, world.twilio, sids[0], actor="test")
    with pytest.raises(DeploymentMismatch):
        sweeper.purge_orphans(world.db, world.store, now=T0, older_than_days=LONGEST_RETENTION_DAYS)
    with caplog.at_level(logging.ERROR):  # the scheduled sweep: an error logged, nothing deleted, not counted
        assert sweeper.run_scheduled_sweep(world.db, world.store, world.twilio, world.queue, now=T0) is None
    assert "retention sweep refused" in caplog.text
    assert sweeper.last_sweep(world.redis) is None

    use_env(monkeypatch, world.settings)
    result = CliRunner().invoke(cli, ["retention", "sweep", "--dry-run"])
    assert result.exit_code == 2 and "belongs to deployment" in result.output
    assert bucket_versions(world) == 10
    assert all(world.call_row(sid) is not None for sid in sids)


def test_worker_and_serve_refuse_to_start_against_a_foreign_database(world, monkeypatch, caplog):
    from workers.worker import serve_worker

    set_deployment_id(world, new_id())
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exited:
        serve_worker(world.settings)  # not --burst: it would queue the catch-up sweep
    assert exited.value.code == 2
    assert "worker not started" in caplog.text and "belongs to deployment" in caplog.text
    scheduled = ScheduledJobRegistry(world.settings.queue_name, connection=world.redis)
    assert scheduled.get_job_ids() == [] and world.queue.queue.count == 0

    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(args))
    use_env(monkeypatch, world.settings)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and "belongs to deployment" in result.output and served == []

    from fastapi.testclient import TestClient

    from receptionist.app import create_app

    with pytest.raises(DeploymentMismatch), TestClient(create_app(world.settings)):
        pass


def test_first_start_writes_both_and_an_interrupted_one_finishes(make_settings, database_url, make_context):
    settings = make_settings(database_url)
    clean(database_url, forget_deployment=True)
    ctx = make_context(settings)
    ctx.store.ensure_bucket()
    with pytest.raises(DeploymentMismatch, match="not yet one deployment"):
        require_deployment(ctx.db, ctx.store)

    first = claim_deployment(ctx.db, ctx.store)
    assert first.created and first.marker_written
    again = claim_deployment(ctx.db, ctx.store)
    assert (again.deployment_id, again.created, again.marker_written) == (first.deployment_id, False, False)
    assert require_deployment(ctx.db, ctx.store) == first.deployment_id
    head = ctx.store.head(DEPLOYMENT_MARKER_KEY)
    assert head["ServerSideEncryption"] == "AES256"  # encrypted like every object, outside accounts/
    assert not DEPLOYMENT_MARKER_KEY.startswith(ACCOUNTS_PREFIX)
    assert ctx.store.read_deployment_marker().deployment_id == first.deployment_id

    # A first start that died after the row and before the marker: the next start writes the marker.
    ctx.store.client.delete_object(Bucket=ctx.store.bucket, Key=DEPLOYMENT_MARKER_KEY)
    with ctx.db.session() as session:
        session.scalar(select(Deployment)).marker_written_at = None
    finished = claim_deployment(ctx.db, ctx.store)
    assert finished.marker_written and finished.deployment_id == first.deployment_id

    # A marker deleted from a bucket that holds calls is not rewritten by a database that had marked it.
    ctx.store.put_json(f"{call_prefix('acct', 'CA1')}transcript.json", {}, _tags())
    ctx.store.client.delete_object(Bucket=ctx.store.bucket, Key=DEPLOYMENT_MARKER_KEY)
    with pytest.raises(DeploymentMismatch, match="no deployment marker"):
        claim_deployment(ctx.db, ctx.store)


def test_a_bucket_of_calls_without_a_marker_is_adopted_only_by_a_database_that_has_calls(
        make_settings, database_url, make_context, twilio_api):
    settings = make_settings(database_url)
    clean(database_url, forget_deployment=True)
    ctx = make_context(settings)
    ctx.store.ensure_bucket()
    world = PrivacyWorld(settings, ctx.db, ctx.store, None, None, ctx.twilio, twilio_api, ctx)
    sid = world.call(world.account())  # a deployment from before deployment ids: data on both sides
    with ctx.db.session() as session:
        rows = session.scalars(select(Call)).all()
        assert len(rows) == 1

    clean(database_url, forget_deployment=True)  # an empty database against that bucket: refused, and the bucket stays unmarked
    with pytest.raises(DeploymentMismatch, match="knows no account or call"):
        claim_deployment(ctx.db, ctx.store)
    assert ctx.store.read_deployment_marker() is None and world.count(Deployment) == 0

    account_id = world.account()
    world.call(account_id)
    claim = claim_deployment(ctx.db, ctx.store)  # a database with its calls adopts it (the upgrade)
    assert claim.created and ctx.store.read_deployment_marker().deployment_id == claim.deployment_id
    report = sweeper.sweep(ctx.db, ctx.store, ctx.twilio, now=T0)
    assert report.orphaned_calls == [call_prefix(rows[0].account_id, sid)] and report.objects_deleted == 0


def test_a_database_restored_from_an_older_backup_only_reports_what_it_does_not_know(world, monkeypatch):
    account_id = world.account(retention_days=90)
    known = world.call(account_id, started_at=T0 - timedelta(days=100))  # in the backup, and expired
    kept = world.call(account_id, started_at=T0 - timedelta(days=1))
    later = [world.call(account_id, started_at=T0 - timedelta(days=ago)) for ago in (200, 2)]
    with world.db.session() as session:  # the restored database never heard of the later calls
        ids = session.scalars(select(Call.id).where(Call.call_sid.in_(later))).all()
        session.execute(delete(Recording).where(Recording.call_id.in_(ids)))
        session.execute(delete(Call).where(Call.id.in_(ids)))

    report = sweeper.sweep(world.db, world.store, world.twilio, now=T0)
    assert report.expired_calls == [known] and report.objects_deleted == 2
    assert sorted(report.orphaned_calls) == sorted(call_prefix(account_id, sid) for sid in later)
    assert all(len(world.call_versions(account_id, sid)) == 2 for sid in [kept, *later])

    # purge-orphans: refused below the longest tier, lists without --yes, deletes only old folders
    use_env(monkeypatch, world.settings)
    result = CliRunner().invoke(cli, ["retention", "purge-orphans", "--older-than-days", "365", "--yes"])
    assert result.exit_code == 2 and f"at least {LONGEST_RETENTION_DAYS}" in result.output
    with pytest.raises(Invalid, match="at least"):
        sweeper.purge_orphans(world.db, world.store, now=T0, older_than_days=LONGEST_RETENTION_DAYS - 1)
    result = CliRunner().invoke(cli, ["retention", "purge-orphans", "--older-than-days", str(LONGEST_RETENTION_DAYS)])
    assert result.exit_code == 0 and "would delete 0" in result.output  # written today: younger than 2555 days

    later_now = datetime.now(timezone.utc) + timedelta(days=LONGEST_RETENTION_DAYS + 1)
    dry = sweeper.purge_orphans(world.db, world.store, now=later_now, older_than_days=LONGEST_RETENTION_DAYS,
                                dry_run=True)
    assert sorted(dry.deleted) == sorted(call_prefix(account_id, sid) for sid in later)
    assert all(len(world.call_versions(account_id, sid)) == 2 for sid in later)
    done = sweeper.purge_orphans(world.db, world.store, now=later_now, older_than_days=LONGEST_RETENTION_DAYS,
                                 max_deletes=1)
    assert len(done.deleted) == 1 and len(done.deferred) == 1 and done.objects_deleted == 2
    assert world.count(AuditEvent, AuditEvent.action == "storage.orphan-purge") == 1
    assert len(world.call_versions(account_id, kept)) == 2  # a known call is never an orphan


def test_purge_orphans_without_yes_deletes_nothing_and_says_so(world, monkeypatch):
    account_id = world.account()
    orphan = world.call(account_id)
    with world.db.session() as session:
        session.execute(delete(Recording))
        session.execute(delete(Call))
    old = datetime.now(timezone.utc) - timedelta(days=LONGEST_RETENTION_DAYS + 1)
    monkeypatch.setattr(sweeper, "call_folders", _aged(sweeper.call_folders, old))
    use_env(monkeypatch, world.settings)

    result = CliRunner().invoke(cli, ["retention", "purge-orphans", "--older-than-days", str(LONGEST_RETENTION_DAYS)])
    assert result.exit_code == 1, result.output
    assert "would delete: " + call_prefix(account_id, orphan) in result.output and "--yes" in result.output
    assert len(world.call_versions(account_id, orphan)) == 2

    result = CliRunner().invoke(cli, ["retention", "purge-orphans", "--older-than-days", str(LONGEST_RETENTION_DAYS),
                                      "--yes"])
    assert result.exit_code == 0, result.output
    assert "deleted: " + call_prefix(account_id, orphan) in result.output
    assert world.call_versions(account_id, orphan) == []


def test_one_run_deletes_at_most_the_cap_and_reports_the_rest(world, monkeypatch):
    sids = full_bucket(world, calls=5)
    closed = world.account(retention_days=2555, status="closed", closed_at=T0 - timedelta(days=100))
    closed_calls = [world.call(closed, started_at=T0 - timedelta(days=10)) for _ in range(2)]

    report = sweeper.sweep(world.db, world.store, world.twilio, now=T0, max_deletes=3)
    assert report.expired_calls == sids[:3] and report.deferred_calls == sids[3:]
    assert report.deferred_accounts == [closed] and report.purged_accounts == []
    assert "the cap of 3 call(s) per run was reached: 2 call(s) and 1 closed account(s)" in report.describe()
    assert [world.call_row(sid) is None for sid in sids] == [True, True, True, False, False]

    report = sweeper.sweep(world.db, world.store, world.twilio, now=T0, max_deletes=3)
    assert report.expired_calls == sids[3:] and report.deferred_accounts == [closed]
    assert sum(world.call_row(sid) is None for sid in closed_calls) == 1  # the account's first call

    report = sweeper.sweep(world.db, world.store, world.twilio, now=T0, max_deletes=3)
    assert report.purged_accounts == [closed] and not report.deferred_calls and not report.deferred_accounts
    assert bucket_versions(world) == 0

    # The CLI and the worker take the cap from RECEPTIONIST_SWEEP_MAX_DELETES.
    more = full_bucket(world, calls=3)
    use_env(monkeypatch, world.settings, RECEPTIONIST_SWEEP_MAX_DELETES="2")
    result = CliRunner().invoke(cli, ["retention", "sweep"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 expired call(s)" in result.output and f"left for the next run: {more[2]}" in result.output
    with pytest.raises(ValueError):
        Settings(_env_file=None, sweep_max_deletes=0)


def test_leftovers_of_an_erased_call_are_deleted_because_its_tombstone_says_so(world):
    account_id = world.account()
    sid = world.call(account_id)
    stray = world.call(account_id)
    copies = {v.key: world.store.get(v.key) for v in world.call_versions(account_id, sid)}
    erase_call(world.db, world.store, world.twilio, sid, actor="test")
    for key, body in copies.items():  # an erasure interrupted half-way, or a job that stored late
        world.store.put(key, body, "application/octet-stream", _tags(account_id))
    with world.db.session() as session:  # a call whose rows went without a tombstone: unknown, kept
        session.execute(delete(Recording).where(Recording.call_id == session.scalar(
            select(Call.id).where(Call.call_sid == stray))))
        session.execute(delete(Call).where(Call.call_sid == stray))

    report = sweeper.sweep(world.db, world.store, world.twilio, now=T0)
    assert report.erased_leftovers == [call_prefix(account_id, sid)] and report.objects_deleted == 2
    assert world.call_versions(account_id, sid) == []
    assert report.orphaned_calls == [call_prefix(account_id, stray)]


def _tags(account_id: str = "acct"):
    from receptionist.storage.objects import ObjectTags

    return ObjectTags(account_id, 90, False)


def _aged(call_folders, when: datetime):
    """call_folders as if every folder had been written at `when` (S3 sets LastModified itself)."""
    def aged(db, store):
        folders = call_folders(db, store)
        folders.unknown = {prefix: when for prefix in folders.unknown}
        return folders

    return aged



def test_an_erasure_through_the_api_against_a_foreign_bucket_answers_503_and_erases_nothing(
        service, make_context, twilio_api):
    ctx = make_context(service.settings)
    svc = service.app.state.services
    world = PrivacyWorld(service.settings, ctx.db, ctx.store, svc.queue.redis, svc.queue, ctx.twilio, twilio_api, ctx)
    account_id = world.account()
    sid = world.call(account_id)
    set_deployment_id(world, new_id())

    response = service.http.delete(f"/api/calls/{sid}", headers=service.admin())
    assert response.status_code == 503, response.text
    assert "belongs to deployment" in response.json()["error"]["message"]
    response = service.http.delete(f"/api/accounts/{account_id}/callers/{CALLER}", headers=service.admin())
    assert response.status_code == 503, response.text
    assert world.call_row(sid) is not None and world.tombstone(sid) is None
    assert len(world.call_versions(account_id, sid)) == 2
