"""Webhooks through the real pipeline: a call played in, processed by a real RQ worker, its
`call.completed` delivered to a real HTTPS receiver; `lead.captured` from the live conversation;
Redis emptied with deliveries owed, and the reconciler queueing them again; `call.erased` after an
erasure through the API, and nothing else about the erased call."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from receptionist.calls.conversations import ConversationStore
from receptionist.core.models import Call, WebhookDelivery
from receptionist.core.queue import webhook_job_id
from receptionist.postcall.reconcile import reconcile
from receptionist.webhooks import endpoints, events
from tests.support.calls import play_call, run_burst
from tests.support.service import serve
from tests.support.tls import make_tls_files
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture
def receiver(tls):
    with WebhookReceiver(tls) as server:
        yield server


@pytest.fixture
def hooked(make_settings, pg_database, twilio_api, tls):
    settings = make_settings(pg_database, webhook_allow_private=True, webhook_ca_bundle=str(tls.ca),
                             webhook_timeout_s=2.0)
    yield from serve(settings, twilio_api)


def endpoint_for(service, account_id, receiver, path="/crm", wanted=events.EVENTS):
    with service.app.state.services.db.session() as session:
        endpoint = endpoints.create(session, account_id, receiver.url(path), list(wanted), allow_private=True)
        receiver.secrets[path] = endpoint.secret
        return endpoint.id


def deliveries(db, call_sid):
    with db.session() as session:
        return [(d.event_type, d.status, d.attempts) for d in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.call_sid == call_sid).order_by(WebhookDelivery.id))]


def test_a_processed_call_is_delivered_once_and_an_erased_one_only_as_erased(hooked, make_context, twilio_api,
                                                                            call_audio, receiver, smtp):
    account = hooked.create_account()
    endpoint_for(hooked, account["id"], receiver)
    ctx = make_context(hooked.settings)
    call = play_call(hooked, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)  # the recording's job records call.completed and queues it; the same burst sends it
    assert deliveries(ctx.db, call.call_sid) == [("call.completed", "delivered", 1)]
    [got] = receiver.received
    assert got.verified and got.event["type"] == "call.completed"
    data = got.event["data"]
    assert data["call_sid"] == call.call_sid and data["outcome"] == "answered" and data["summary"]
    assert data["dashboard_url"] == f"{hooked.settings.public_url}/calls/{call.call_sid}"
    assert "s3" not in got.body.decode().lower() and "X-Amz" not in got.body.decode()
    run_burst(ctx)
    assert len(receiver.accepted()) == 1

    response = hooked.http.delete(f"/api/calls/{call.call_sid}", headers=hooked.admin())
    assert response.status_code in (200, 202, 204), response.text
    assert [d[0] for d in deliveries(ctx.db, call.call_sid)] == ["call.completed", "call.erased"]
    assert reconcile(ctx.db, ctx.queue).webhooks_queued == 1
    run_burst(ctx)
    assert [r.event["type"] for r in receiver.received] == ["call.completed", "call.erased"]
    assert len(set(receiver.accepted())) == 2 and all(r.verified for r in receiver.received)
    with ctx.db.session() as session:  # nothing of the erased call is kept in the outbox
        payloads = session.scalars(select(WebhookDelivery.payload).where(WebhookDelivery.call_sid == call.call_sid)).all()
    assert payloads.count(None) == 1 and "+1" not in str(payloads)


def test_a_lead_captured_live_is_sent_before_the_recording_is_processed(hooked, make_context, receiver):
    account = hooked.create_account()
    endpoint_for(hooked, account["id"], receiver, wanted=["lead.captured"])
    svc = hooked.app.state.services
    ctx = make_context(hooked.settings)
    call = hooked.player.start("+15550142367", account["phone_numbers"][0])
    store = ConversationStore(svc.db, public_url=hooked.settings.public_url, queue=svc.queue)
    assert store.claim(call.call_sid, 1, "session-1").value
    lead = {"name": "Priya", "callback_number": "+15550142367", "reason": "water heater leaking"}
    store.save({(call.call_sid, "session-1"): {"conversation": [{"speaker": "caller", "text": "hi"}]}})
    assert deliveries(svc.db, call.call_sid) == []  # no lead yet: no event
    store.save({(call.call_sid, "session-1"): {"conversation": [], "lead": lead}})
    store.save({(call.call_sid, "session-1"): {"conversation": [], "lead": lead}})
    assert ConversationStore(svc.db).announce_leads([call.call_sid]) is None  # another process: still one row
    assert deliveries(svc.db, call.call_sid) == [("lead.captured", "pending", 0)]
    run_burst(ctx)
    [got] = receiver.received
    assert got.verified and got.event["type"] == "lead.captured" and got.event["data"]["lead"] == lead
    with svc.db.session() as session:
        assert session.scalar(select(Call.transcript).where(Call.call_sid == call.call_sid)) is None


def test_deliveries_owed_when_redis_lost_its_jobs_are_queued_again_once(hooked, make_context, receiver):
    account = hooked.create_account()
    endpoint_for(hooked, account["id"], receiver, "/a")
    endpoint_for(hooked, account["id"], receiver, "/b")
    ctx = make_context(hooked.settings)
    call = hooked.player.start("+15550142367", account["phone_numbers"][0])
    with ctx.db.session() as session:
        row = session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        row.outcome, row.summary = "answered", "Asked about prices."
        ids = events.call_ended(session, row, hooked.settings.public_url)
    for delivery_id in ids:
        assert ctx.queue.enqueue_webhook(delivery_id, 0)
    ctx.queue.redis.flushdb()  # a Redis restarted without persistence: the jobs are gone
    first = reconcile(ctx.db, ctx.queue)
    assert (first.webhooks_owed, first.webhooks_queued) == (2, 2)
    assert reconcile(ctx.db, ctx.queue).webhooks_queued == 0  # queued already: not twice
    assert ctx.queue.queue.fetch_job(webhook_job_id(ids[0], 0)) is not None
    run_burst(ctx)
    assert sorted(r.path for r in receiver.received) == ["/a", "/b"]
    assert len(receiver.accepted("/a")) == len(receiver.accepted("/b")) == 1
    assert reconcile(ctx.db, ctx.queue).webhooks_owed == 0
