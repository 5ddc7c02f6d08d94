"""Retention per account: tiers only, every object re-tagged by a resumable job with progress,
expiry dates follow; training flags re-tag too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq.job import Job
from sqlalchemy import select

from receptionist.core.models import Account, Call
from receptionist.privacy import retag
from receptionist.privacy.retention import (
    ACCOUNT_GENERATION_KEY,
    RetentionTierError,
    apply_account_settings,
    apply_call_training,
)
from receptionist.settings import RETENTION_TIERS
from receptionist.storage.objects import ObjectTags, recording_key
from receptionist.web.errors import status_of
from tests.support.privacy import T0

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


def change_account(world, account_id, **values):
    with world.db.session() as session:
        return apply_account_settings(session, account_id, queue=world.queue, **values)


def test_retention_must_be_one_of_the_tiers(privacy):
    account_id = privacy.account()
    for bad in (0, 45, 91, 3650, -7, True):
        with pytest.raises(RetentionTierError) as caught:
            change_account(privacy, account_id, retention_days=bad)
        assert status_of(caught.value) == 422  # what the API answers for it
        assert all(str(tier) in caught.value.message for tier in RETENTION_TIERS)
    with privacy.db.session() as session:
        assert session.get(Account, account_id).retention_days == 90
    assert privacy.queue.queue.count == 0  # nothing to re-tag


def test_api_answers_422_listing_the_tiers(pg_service):
    account = pg_service.create_account()
    response = pg_service.http.patch(f"/api/accounts/{account['id']}", json={"retention_days": 45},
                                     headers=pg_service.admin())
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert all(str(tier) in message for tier in RETENTION_TIERS)


@PROPERTY
@given(
    accounts=st.lists(st.tuples(st.sampled_from(RETENTION_TIERS), st.booleans(),  # before: tier, opted out
                                st.lists(st.booleans(), max_size=3),  # calls: their own opt-out
                                st.one_of(st.none(), st.sampled_from(RETENTION_TIERS)),  # new tier
                                st.one_of(st.none(), st.booleans())),  # new account opt-out
                      min_size=1, max_size=3),
    step=st.integers(min_value=1, max_value=4),
)
def test_a_change_retags_every_object_of_the_account_and_no_other(privacy, accounts, step, monkeypatch):
    privacy.wipe()
    monkeypatch.setattr(retag, "STEP_VERSIONS", step)  # small steps: the pass spans many jobs
    made = []
    for tier, opted_out, call_flags, new_tier, new_opt_out in accounts:
        account_id = privacy.account(retention_days=tier, training_opt_out=opted_out)
        calls = [privacy.call(account_id, training_opt_out=flag, started_at=T0 - timedelta(days=i))
                 for i, flag in enumerate(call_flags)]
        made.append((account_id, calls, new_tier, new_opt_out))

    for account_id, _, new_tier, new_opt_out in made:
        change_account(privacy, account_id, retention_days=new_tier, training_opt_out=new_opt_out)
    privacy.run_jobs()

    for account_id, calls, _new_tier, _new_opt_out in made:
        with privacy.db.session() as session:
            account = session.get(Account, account_id)
            for sid in calls:
                call = session.scalar(select(Call).where(Call.call_sid == sid))
                assert call.retention_days == account.retention_days
                assert call.expires_at == call.started_at + timedelta(days=account.retention_days)
                wanted = ObjectTags(account_id, account.retention_days,
                                    call.training_opt_out or account.training_opt_out).as_dict()
                versions = privacy.call_versions(account_id, sid)
                assert len(versions) == 2
                assert all(privacy.tags_of(v) == wanted for v in versions), (sid, wanted)


def test_retag_pass_is_resumable_shows_progress_and_can_be_rerun(privacy, monkeypatch):
    privacy.versioned()
    account_id = privacy.account(retention_days=90)
    calls = [privacy.call(account_id) for _ in range(4)]
    # A second version of one recording: every version carries the tier, not just the current one.
    privacy.store.client.put_object(Bucket=privacy.store.bucket, Key=recording_key(account_id, calls[0], "wav"),
                                     Body=b"second version", ServerSideEncryption="AES256",
                                     Tagging="retention-days=90&training=allowed&account=" + account_id)
    total = 9
    change_account(privacy, account_id, retention_days=30)

    # The first step of the pass, then a crash half-way through the second one.
    first = retag.retag_account_step(privacy.db, privacy.store, privacy.redis, account_id, max_versions=3)
    assert (first.total, first.done, first.finished) == (total, 3, False)
    writes = []
    original = privacy.store.set_tags

    def crash_on_second_write(version, tags):
        writes.append(version.key)
        if len(writes) == 2:
            raise ConnectionError("worker lost its connection")
        return original(version, tags)

    monkeypatch.setattr(privacy.store, "set_tags", crash_on_second_write)
    with pytest.raises(ConnectionError):
        retag.retag_account_step(privacy.db, privacy.store, privacy.redis, account_id, max_versions=3)
    assert retag.retag_status(privacy.redis, account_id).done == 3  # the crashed step saved nothing

    # The worker picks the pass up where the last saved step ended (and shows its progress).
    writes.clear()
    monkeypatch.setattr(privacy.store, "set_tags", lambda v, t: (writes.append(v.key), original(v, t))[1])
    monkeypatch.setattr(retag, "STEP_VERSIONS", 3)
    privacy.run_jobs()
    status = retag.retag_status(privacy.redis, account_id)
    assert status.finished and status.done == total
    # The crashed step's one write landed but was not recorded; visited again, it needs no change.
    assert status.changed == total - 1
    assert len(writes) == total - 3  # nothing of the first step was visited again
    job_ids = privacy.queue.queue.finished_job_registry.get_job_ids()
    progress = [Job.fetch(i, connection=privacy.redis).meta["progress"] for i in job_ids]
    assert max(p["done"] for p in progress) == total and any(not p["finished"] for p in progress)
    for version in privacy.account_versions(account_id):
        assert privacy.tags_of(version)["retention-days"] == "30"

    # Running a whole pass again changes nothing.
    again = retag.run_account_retag(privacy.db, privacy.store, privacy.redis, account_id, max_versions=4)
    assert again.finished and again.done == total and again.changed == 0


def test_a_change_during_a_pass_restarts_it_with_the_new_values(privacy):
    account_id = privacy.account(retention_days=90)
    calls = [privacy.call(account_id) for _ in range(3)]
    change_account(privacy, account_id, retention_days=30)
    retag.retag_account_step(privacy.db, privacy.store, privacy.redis, account_id, max_versions=2)
    change_account(privacy, account_id, retention_days=365)  # objects already visited hold "30"
    privacy.run_jobs()
    assert int(privacy.redis.get(ACCOUNT_GENERATION_KEY.format(account_id))) == 2
    for sid in calls:
        assert all(privacy.tags_of(v)["retention-days"] == "365" for v in privacy.call_versions(account_id, sid))


def test_training_opt_out_of_account_and_of_one_call(privacy):
    account_id = privacy.account()
    one, other = privacy.call(account_id), privacy.call(account_id)

    with privacy.db.session() as session:
        assert apply_call_training(session, one, True, queue=privacy.queue) is True
    privacy.run_jobs()
    assert {privacy.tags_of(v)["training"] for v in privacy.call_versions(account_id, one)} == {"opted-out"}
    assert {privacy.tags_of(v)["training"] for v in privacy.call_versions(account_id, other)} == {"allowed"}

    change_account(privacy, account_id, training_opt_out=True)
    privacy.run_jobs()
    for sid in (one, other):
        assert {privacy.tags_of(v)["training"] for v in privacy.call_versions(account_id, sid)} == {"opted-out"}

    # Opting the account back in does not release the call that opted out on its own.
    change_account(privacy, account_id, training_opt_out=False)
    privacy.run_jobs()
    assert {privacy.tags_of(v)["training"] for v in privacy.call_versions(account_id, one)} == {"opted-out"}
    assert {privacy.tags_of(v)["training"] for v in privacy.call_versions(account_id, other)} == {"allowed"}
    assert privacy.tags_ok(one) and privacy.tags_ok(other)


def test_nothing_is_queued_until_the_change_commits(privacy):
    account_id = privacy.account()
    privacy.call(account_id)
    with pytest.raises(RuntimeError):
        with privacy.db.session() as session:
            apply_account_settings(session, account_id, queue=privacy.queue, retention_days=7)
            assert privacy.queue.queue.count == 0
            raise RuntimeError("the request failed after the change")
    assert privacy.queue.queue.count == 0
    with privacy.db.session() as session:
        assert session.get(Account, account_id).retention_days == 90


def test_patch_routes_retag_through_these_functions(pg_service, make_context):
    """The API's PATCH routes call the functions above: the objects follow an admin's change."""
    from tests.support.privacy import PrivacyWorld

    service = pg_service
    account = service.create_account()
    ctx = make_context(service.settings)
    svc = service.app.state.services
    world = PrivacyWorld(service.settings, ctx.db, ctx.store, svc.queue.redis, svc.queue, ctx.twilio, None, ctx)
    call = service.player.start("+15550142367", "+15550100200")
    key = recording_key(account["id"], call.call_sid, "wav")
    svc.store.put(key, b"RIFF....WAVE", "audio/wav", ObjectTags(account["id"], 90, False))

    response = service.http.patch(f"/api/accounts/{account['id']}", json={"retention_days": 730},
                                  headers=service.admin())
    assert response.status_code == 200, response.text
    response = service.http.patch(f"/api/calls/{call.call_sid}", json={"training_opt_out": True},
                                  headers=service.admin())
    assert response.status_code == 200, response.text
    world.run_jobs()
    assert svc.store.tags(key) == {"retention-days": "730", "training": "opted-out", "account": account["id"]}
    detail = service.call(call.call_sid)
    assert detail["retention_days"] == 730
