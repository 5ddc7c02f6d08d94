"""The retention sweep with a moved clock: exactly what is due is deleted (every version, Twilio's
copy, the rows), closed accounts after 90 days; unknown folders are only reported; the daily
schedule. (What keeps it from deleting wrongly: tests/privacy/test_sweep_safety.py.)"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq.registry import ScheduledJobRegistry
from typer.testing import CliRunner

from receptionist.cli import app as cli
from receptionist.core.models import Account, AuditEvent, Call, Recording
from receptionist.privacy import sweeper
from receptionist.settings import RETENTION_TIERS
from receptionist.storage.objects import ObjectTags, call_prefix, recording_key
from tests.support.privacy import T0

PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@PROPERTY
@given(
    calls=st.lists(st.tuples(st.sampled_from(RETENTION_TIERS[:5]), st.integers(min_value=0, max_value=400)),
                   min_size=1, max_size=6),  # (the account's tier, how many days before T0 the call started)
    moved=st.integers(min_value=0, max_value=200),  # days the clock moves past T0
)
def test_sweep_deletes_exactly_what_is_due(privacy, calls, moved):
    privacy.wipe()
    accounts = {tier: privacy.account(retention_days=tier) for tier in {tier for tier, _ in calls}}
    made = [(privacy.call(accounts[tier], started_at=T0 - timedelta(days=ago)), accounts[tier], tier, ago)
            for tier, ago in calls]
    now = T0 + timedelta(days=moved)

    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=now, queue=privacy.queue)

    due = {sid for sid, _, tier, ago in made if T0 - timedelta(days=ago) + timedelta(days=tier) <= now}
    assert set(report.expired_calls) == due
    for sid, account_id, _tier, _ago in made:
        recording_sid = "RE" + sid[2:]
        if sid in due:
            assert privacy.call_row(sid) is None
            assert privacy.call_versions(account_id, sid) == []
            assert privacy.tombstone(sid).reason == "retention"
            assert recording_sid in privacy.twilio_api.deleted_recordings
        else:
            assert privacy.call_row(sid) is not None
            assert len(privacy.call_versions(account_id, sid)) == 2
            assert privacy.tombstone(sid) is None
            assert recording_sid not in privacy.twilio_api.deleted_recordings
    assert privacy.count(Recording) == len(made) - len(due)


def test_sweep_deletes_every_version(privacy):
    privacy.versioned()
    account_id = privacy.account(retention_days=7)
    sid = privacy.call(account_id, started_at=T0)
    key = recording_key(account_id, sid, "wav")
    privacy.store.put(key, b"a second version", "audio/wav", ObjectTags(account_id, 7, False))
    privacy.store.client.delete_object(Bucket=privacy.store.bucket, Key=key)  # and a delete marker
    assert len(privacy.call_versions(account_id, sid)) == 4

    assert sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=T0 + timedelta(days=6)).expired_calls == []
    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=T0 + timedelta(days=7))
    assert report.expired_calls == [sid] and report.objects_deleted == 4
    assert privacy.call_versions(account_id, sid) == []


def test_a_shorter_tier_makes_old_calls_due_at_once(privacy):
    account_id = privacy.account(retention_days=365)
    old, recent = privacy.call(account_id, started_at=T0 - timedelta(days=40)), privacy.call(account_id)
    with privacy.db.session() as session:
        from receptionist.privacy.retention import apply_account_settings

        apply_account_settings(session, account_id, queue=privacy.queue, retention_days=30)
    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=T0)
    assert report.expired_calls == [old]
    assert privacy.call_row(recent) is not None


def test_a_closed_account_is_kept_90_days_then_purged(privacy):
    closed_at = T0
    account_id = privacy.account(retention_days=2555, status="closed", closed_at=closed_at)
    calls = [privacy.call(account_id, started_at=T0 - timedelta(days=10)) for _ in range(2)]
    other = privacy.account(retention_days=2555)
    kept = privacy.call(other, started_at=T0 - timedelta(days=10))

    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=closed_at + timedelta(days=89, hours=23))
    assert report.purged_accounts == []
    assert all(privacy.call_row(sid) is not None for sid in calls)

    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=closed_at + timedelta(days=90))
    assert report.purged_accounts == [account_id]
    assert privacy.account_versions(account_id) == []
    assert privacy.count(Call, Call.account_id == account_id) == 0
    assert privacy.count(Account, Account.id == account_id) == 0
    assert {privacy.tombstone(sid).reason for sid in calls} == {"account-closed"}
    assert privacy.count(AuditEvent, AuditEvent.action == "account.purge", AuditEvent.account_id == account_id) == 1
    assert privacy.call_row(kept) is not None and len(privacy.call_versions(other, kept)) == 2


def test_unknown_call_folders_are_reported_not_deleted(privacy):
    account_id = privacy.account()
    live = privacy.call(account_id)
    orphan = "CA" + os.urandom(16).hex()
    privacy.store.put(recording_key(account_id, orphan, "wav"), b"left behind", "audio/wav",
                      ObjectTags(account_id, 90, False))

    dry = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=T0, dry_run=True)
    assert dry.orphaned_calls == [call_prefix(account_id, orphan)]
    report = sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=T0)
    assert report.orphaned_calls == [call_prefix(account_id, orphan)] and report.objects_deleted == 0
    assert "1 call folder(s) unknown to this database reported, not deleted" in report.describe()
    assert len(privacy.versions(call_prefix(account_id, orphan))) == 1
    assert len(privacy.call_versions(account_id, live)) == 2


def test_daily_schedule(privacy):
    now = datetime(2026, 5, 4, 10, 30, tzinfo=timezone.utc)
    assert sweeper.next_slot(now) == ("2026-05-05", datetime(2026, 5, 5, 3, 0, tzinfo=timezone.utc))
    assert sweeper.next_slot(now.replace(hour=2))[1] == datetime(2026, 5, 4, 3, 0, tzinfo=timezone.utc)

    # A worker starting with no sweep done yet: tomorrow's is scheduled and one runs now.
    assert sweeper.ensure_daily_sweep(privacy.queue, now) == ["2026-05-05", "2026-05-04-catch-up"]
    assert sweeper.ensure_daily_sweep(privacy.queue, now) == []  # a second worker adds nothing
    scheduled = ScheduledJobRegistry(privacy.settings.queue_name, connection=privacy.redis)
    assert scheduled.get_job_ids() == ["retention-sweep-2026-05-05"]
    assert scheduled.get_scheduled_time("retention-sweep-2026-05-05") == datetime(2026, 5, 5, 3, 0,
                                                                                   tzinfo=timezone.utc)

    account_id = privacy.account(retention_days=7)
    due = privacy.call(account_id, started_at=datetime.now(timezone.utc) - timedelta(days=8))
    privacy.run_jobs()  # the catch-up sweep runs, records itself, and schedules its successor
    assert privacy.call_row(due) is None
    assert sweeper.last_sweep(privacy.redis) is not None
    tomorrow = sweeper.next_slot(datetime.now(timezone.utc))[0]
    assert f"retention-sweep-{tomorrow}" in scheduled.get_job_ids()


def test_cli_retention_sweep(privacy, monkeypatch):
    for name, value in privacy.settings.to_env().items():
        monkeypatch.setenv(name, value)
    account_id = privacy.account(retention_days=7)
    due = privacy.call(account_id, started_at=datetime.now(timezone.utc) - timedelta(days=8))
    kept = privacy.call(account_id, started_at=datetime.now(timezone.utc))

    result = CliRunner().invoke(cli, ["retention", "sweep", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 1 expired call(s)" in result.output and due in result.output
    assert privacy.call_row(due) is not None

    result = CliRunner().invoke(cli, ["retention", "sweep"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 expired call(s)" in result.output
    assert privacy.call_row(due) is None and privacy.call_row(kept) is not None
    assert ("RE" + due[2:]) in privacy.twilio_api.deleted_recordings


def test_sweep_needs_an_aware_clock(privacy):
    with pytest.raises(ValueError):
        sweeper.sweep(privacy.db, privacy.store, privacy.twilio, now=datetime(2026, 1, 1))
